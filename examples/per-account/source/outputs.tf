output "function_name" {
  description = "Stream-to-S3 function name."
  value       = module.source.function_name
}

output "role_arn" {
  description = "Stream-to-S3 role ARN (must equal the target's source_writer_role_arn output)."
  value       = module.source.role_arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the stream -> function mapping (disable it to pause replication)."
  value       = module.source.event_source_mapping_uuid
}

output "on_failure_bucket_name" {
  description = "Bucket that receives discarded stream batches."
  value       = module.source.on_failure_bucket_name
}

output "operator_role_arn" {
  description = "Operator role ARN (null when not created)."
  value       = try(module.operator_role[0].role_arn, null)
}
