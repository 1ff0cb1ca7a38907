################################################################################
# Function
################################################################################

output "function_name" {
  description = "Name of the stream-to-S3 Lambda function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "function_arn" {
  description = "ARN of the stream-to-S3 Lambda function."
  value       = try(aws_lambda_function.this.arn, null)
}

output "role_arn" {
  description = "ARN of the function's execution role (the principal the target's bucket policy trusts)."
  value       = try(aws_iam_role.this.arn, null)
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = try(aws_iam_role.this.name, null)
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}

################################################################################
# Stream
################################################################################

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the source table's stream to the function (disable it to pause replication)."
  value       = try(aws_lambda_event_source_mapping.this.uuid, null)
}

output "event_source_mapping_arn" {
  description = "ARN of the event source mapping from the source table's stream to the function."
  value       = try(aws_lambda_event_source_mapping.this.arn, null)
}

output "stream_arn" {
  description = "ARN of the source table's stream."
  value       = try(data.aws_dynamodb_table.source.stream_arn, null)
}

output "source_table_arn" {
  description = "ARN of the source table (looked up, not managed)."
  value       = try(data.aws_dynamodb_table.source.arn, null)
}

################################################################################
# On-failure bucket
################################################################################

output "on_failure_bucket_name" {
  description = "Name of the bucket that receives discarded stream batches (created or given)."
  value       = try(aws_s3_bucket.on_failure[0].bucket, local.on_failure_bucket_name)
}

output "on_failure_bucket_arn" {
  description = "ARN of the bucket that receives discarded stream batches (created or given)."
  value       = try(aws_s3_bucket.on_failure[0].arn, local.on_failure_bucket_arn)
}

output "table_key" {
  description = "Key schema of the source table: hash_key, range_key (null when none) and the type (S, N or B) of each key attribute."
  value = {
    hash_key  = data.aws_dynamodb_table.source.hash_key
    range_key = try(data.aws_dynamodb_table.source.range_key, null) == "" ? null : try(data.aws_dynamodb_table.source.range_key, null)
    types = {
      for attribute in data.aws_dynamodb_table.source.attribute : attribute.name => attribute.type
      if contains([data.aws_dynamodb_table.source.hash_key, try(data.aws_dynamodb_table.source.range_key, "")], attribute.name)
    }
  }
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms, by purpose (empty when alarms.enabled = false)."
  value       = { for purpose, alarm in aws_cloudwatch_metric_alarm.this : purpose => alarm.alarm_name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard = false."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
