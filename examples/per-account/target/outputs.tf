output "change_bucket_name" {
  description = "Pass this to the source configuration as change_bucket_name."
  value       = module.target.change_bucket_name
}

output "queue_url" {
  description = "Change queue URL."
  value       = module.target.queue_url
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue URL."
  value       = module.target.dead_letter_queue_url
}

output "writer_function_name" {
  description = "Writer function name."
  value       = module.target.writer_function_name
}

output "writer_event_source_mapping_uuid" {
  description = "UUID of the queue -> writer mapping (disable it to pause replication)."
  value       = module.target.writer_event_source_mapping_uuid
}

output "ledger_table_name" {
  description = "Ledger table name."
  value       = module.target.ledger_table_name
}

output "source_writer_role_arn" {
  description = "The source role the change bucket trusts; the source configuration must create exactly this role."
  value       = module.target.source_writer_role_arn
}
