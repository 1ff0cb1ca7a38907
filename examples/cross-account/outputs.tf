output "migration" {
  description = "Everything the dynamigrate CLI needs about this migration."
  value       = module.migration.migration
}

output "change_bucket_name" {
  description = "Change bucket in the target account."
  value       = module.migration.change_bucket_name
}

output "queue_url" {
  description = "Change queue in the target account."
  value       = module.migration.queue_url
}

output "dead_letter_queue_url" {
  description = "Dead-letter queue of the change queue."
  value       = module.migration.dead_letter_queue_url
}

output "stream_function_name" {
  description = "Stream-to-S3 function in the source account."
  value       = module.migration.stream_function_name
}

output "writer_function_name" {
  description = "Writer function in the target account."
  value       = module.migration.writer_function_name
}

output "ledger_table_name" {
  description = "Ledger table in the target account."
  value       = module.migration.ledger_table_name
}

output "operator_role_arn" {
  description = "Operator role in the source account (null when not created)."
  value       = module.migration.operator_role_arn
}

output "export_prefix" {
  description = "Key prefix in the change bucket to export the source table to (--s3-prefix)."
  value       = module.migration.export_prefix
}

output "export_load_state_machine_arn" {
  description = "State machine that loads an export into the target table."
  value       = module.migration.export_load_state_machine_arn
}

output "rollback" {
  description = "The rollback pipeline for the CLI (`terraform output -json rollback > reverse.json`), or null."
  value       = module.migration.rollback
}

output "rollback_writer_function_name" {
  description = "Writer of the rollback pipeline, in the source account (null when rollback_enabled = false)."
  value       = try(module.migration.rollback.target.function_name, null)
}

output "kms_key_arns" {
  description = "Full ARNs of the customer managed keys (null without create_kms_keys)."
  value       = module.migration.kms_key_arns
}
