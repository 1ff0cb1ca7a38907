output "writer_function_name" {
  description = "Writer in the target account (reads the source stream)."
  value       = module.target.writer_function_name
}

output "ledger_table_name" {
  description = "Ledger table in the target account."
  value       = module.target.ledger_table_name
}

output "change_bucket_name" {
  description = "The migration's bucket: parked changes under dead-letter/, failed stream batches under aws/lambda/."
  value       = module.target.change_bucket_name
}

output "stream_arn" {
  description = "The source table's stream, readable by the writer role."
  value       = module.stream_access.stream_arn
}

output "writer_event_source_mapping_uuid" {
  description = "UUID of the writer's mapping on the source stream (disable it to pause replication)."
  value       = module.target.writer_event_source_mapping_uuid
}

output "migration" {
  description = "What the dynamigrate CLI needs (`terraform output -json migration > migration.json`): status, preflight, cutover."
  value = {
    name              = var.name
    transport         = "direct"
    version_attribute = var.version_attribute
    transform         = null
    source = {
      account_id    = var.source_account_id
      region        = var.region
      table_name    = var.source_table_name
      table_arn     = module.stream_access.source_table_arn
      stream_arn    = module.stream_access.stream_arn
      function_name = null
    }
    target = {
      account_id                = var.target_account_id
      region                    = var.region
      table_name                = var.target_table_name
      table_arn                 = module.target.target_table_arn
      ledger_table_name         = module.target.ledger_table_name
      change_bucket_name        = module.target.change_bucket_name
      change_prefix             = module.target.change_prefix
      dead_letter_prefix        = module.target.dead_letter_prefix
      function_name             = module.target.writer_function_name
      event_source_mapping_uuid = module.target.writer_event_source_mapping_uuid
    }
  }
}
