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

output "policy_documents" {
  description = "Every IAM and resource policy this module attaches, by name, as JSON: for security review (the module's tests audit them)."
  value = merge(
    {
      role_trust  = aws_iam_role.this.assume_role_policy
      role_policy = aws_iam_role_policy.this.policy
    },
    { for policy in aws_s3_bucket_policy.on_failure : "on_failure_bucket_policy" => policy.policy },
  )
}

output "encryption" {
  description = "What encrypts what, read from the planned resources: the key the function writes change objects with (null: the change bucket's default), the function's environment (null: Lambda's service key) and the created on-failure bucket (key ARN or \"AES256\"; null for an existing bucket)."
  value = {
    change_objects     = aws_lambda_function.this.environment[0].variables.KMS_KEY_ARN == "" ? null : aws_lambda_function.this.environment[0].variables.KMS_KEY_ARN
    stream_environment = aws_lambda_function.this.kms_key_arn
    on_failure_bucket  = one([for config in aws_s3_bucket_server_side_encryption_configuration.on_failure : coalesce(one(config.rule[*].apply_server_side_encryption_by_default[0].kms_master_key_id), one(config.rule[*].apply_server_side_encryption_by_default[0].sse_algorithm))])
  }
}
