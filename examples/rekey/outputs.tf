output "transform" {
  description = "The key mapping, for DualTable.connect(transform=...) and the CLI's --transform."
  value       = local.transform
}

output "ledger_table_name" {
  description = "The replicator's ledger (DualTable's ledger_table, verify --ledger-table)."
  value       = module.replication.ledger_table_name
}

output "change_bucket_name" {
  description = "Change log bucket."
  value       = module.replication.change_bucket_name
}

output "queue_url" {
  description = "Change queue of the writer."
  value       = module.replication.queue_url
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue of the writer."
  value       = module.replication.dead_letter_queue_url
}

output "write_guard_function_name" {
  description = "The write guard (retire-table --guard-function)."
  value       = module.write_guard.function_name
}

output "foreign_writes_alarm_arn" {
  description = "Alarm on writes to the old table after writes_moved_at."
  value       = module.write_guard.foreign_writes_alarm_arn
}

output "on_failure_bucket_name" {
  description = "Where stream batches the capture could not process land (should stay empty)."
  value       = module.replication.on_failure_bucket_name
}
