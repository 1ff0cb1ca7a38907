################################################################################
# Change bucket
################################################################################

output "change_bucket_name" {
  description = "Name of the change bucket the source stream function writes to."
  value       = try(aws_s3_bucket.this.bucket, null)
}

output "change_bucket_arn" {
  description = "ARN of the change bucket."
  # Known at plan (a key policy names it before the bucket exists); anything
  # that uses it still waits for the bucket.
  value      = local.bucket_arn
  depends_on = [aws_s3_bucket.this]
}

output "change_prefix" {
  description = "Key prefix of change-log objects in the change bucket."
  value       = local.change_prefix
}

output "source_writer_role_arn" {
  description = "ARN of the source account role the change bucket policy lets put change-log objects."
  value       = var.source_writer_role_arn
}

output "dead_letter_prefix" {
  description = "Key prefix under which the writer stores records it could not apply."
  value       = local.dead_letter_prefix
}

################################################################################
# Queues
################################################################################

output "queue_url" {
  description = "URL of the change queue (S3 notifications consumed by the writer)."
  value       = try(aws_sqs_queue.changes[0].url, null)
}

output "queue_arn" {
  description = "ARN of the change queue."
  value       = try(aws_sqs_queue.changes[0].arn, null)
}

output "dead_letter_queue_url" {
  description = "URL of the change queue's dead-letter queue."
  value       = try(aws_sqs_queue.dead_letter[0].url, null)
}

output "dead_letter_queue_arn" {
  description = "ARN of the change queue's dead-letter queue."
  value       = try(aws_sqs_queue.dead_letter[0].arn, null)
}

################################################################################
# Writer
################################################################################

output "writer_function_name" {
  description = "Name of the writer Lambda function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "writer_function_arn" {
  description = "ARN of the writer Lambda function."
  value       = try(aws_lambda_function.this.arn, null)
}

output "writer_role_arn" {
  description = "ARN of the writer's execution role."
  value       = try(aws_iam_role.this.arn, null)
}

output "writer_log_group_name" {
  description = "Name of the writer's CloudWatch log group."
  value       = try(aws_cloudwatch_log_group.this.name, null)
}

output "writer_event_source_mapping_uuid" {
  description = "UUID of the event source mapping from the change queue to the writer (disable it to pause replication)."
  value       = one(concat(aws_lambda_event_source_mapping.this[*].uuid, aws_lambda_event_source_mapping.stream[*].uuid))
}

output "writer_event_source_mapping_arn" {
  description = "ARN of the event source mapping from the change queue to the writer."
  value       = one(concat(aws_lambda_event_source_mapping.this[*].arn, aws_lambda_event_source_mapping.stream[*].arn))
}

################################################################################
# Tables
################################################################################

output "ledger_table_name" {
  description = "Name of the ledger table (tombstones and last-applied positions)."
  value       = try(aws_dynamodb_table.ledger.name, null)
}

output "ledger_table_arn" {
  description = "ARN of the ledger table."
  value       = try(aws_dynamodb_table.ledger.arn, null)
}

output "target_table_arn" {
  description = "ARN of the target table (looked up, not managed)."
  value       = try(data.aws_dynamodb_table.target.arn, null)
}

output "table_key" {
  description = "Key schema of the target table: hash_key, range_key (null when none) and the type (S, N or B) of each key attribute."
  value = {
    hash_key  = data.aws_dynamodb_table.target.hash_key
    range_key = try(data.aws_dynamodb_table.target.range_key, null) == "" ? null : try(data.aws_dynamodb_table.target.range_key, null)
    types = {
      for attribute in data.aws_dynamodb_table.target.attribute : attribute.name => attribute.type
      if contains([data.aws_dynamodb_table.target.hash_key, try(data.aws_dynamodb_table.target.range_key, "")], attribute.name)
    }
  }
}

################################################################################
# Export load
################################################################################

output "export_prefix" {
  description = "Key prefix in the change bucket for Export to S3 (pass it as --s3-prefix of ExportTableToPointInTime)."
  value       = trimsuffix(local.export_prefix, "/")
}

output "export_load_state_machine_arn" {
  description = "ARN of the state machine that loads an export into the target table (null unless export_load.enabled). Start it with {\"export_arn\": \"...\"} or `dynamigrate load-export --state-machine`."
  value       = try(aws_sfn_state_machine.export_load[0].arn, null)
}

output "export_loader_function_name" {
  description = "Name of the loader function the state machine runs per data file (null unless export_load.enabled)."
  value       = try(aws_lambda_function.loader[0].function_name, null)
}

output "export_load_reports_prefix" {
  description = "Key prefix in the change bucket of the load reports: <prefix>/<export id>/files/*.json per data file and summary.json."
  value       = trimsuffix(local.load_prefix, "/")
}

output "exporter_principal_arns" {
  description = "Source-account principals the change bucket lets write exports under the export prefix."
  value       = var.export_load.exporter_principal_arns
}

output "export_destination" {
  description = "Where ExportTableToPointInTime should write (known at plan time, before the bucket exists): bucket name and ARN, key prefix, bucket owner."
  value = {
    bucket_name  = local.bucket_name
    bucket_arn   = local.bucket_arn
    prefix       = trimsuffix(local.export_prefix, "/")
    bucket_owner = var.target_account_id
  }
}

################################################################################
# Monitoring
################################################################################

output "alarm_names" {
  description = "Names of the CloudWatch alarms, by purpose (empty when alarms.enabled = false)."
  value       = { for purpose, alarm in aws_cloudwatch_metric_alarm.this : purpose => alarm.alarm_name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard = false."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}

output "transport" {
  description = "How changes reach the writer: s3 (the change log and its queue) or direct (the source stream)."
  value       = var.transport
}

output "writer_role_name" {
  description = "Name of the writer's execution role (transport = direct: the principal modules/stream-access lets read the source stream)."
  value       = aws_iam_role.this.name
}

output "policy_documents" {
  description = "Every IAM and resource policy this module attaches, by name, as JSON: for security review (the module's tests audit them)."
  value = merge(
    {
      writer_role_trust  = aws_iam_role.this.assume_role_policy
      writer_role_policy = aws_iam_role_policy.this.policy
      bucket_policy      = aws_s3_bucket_policy.this.policy
    },
    { for policy in aws_sqs_queue_policy.changes : "queue_policy" => policy.policy },
    { for policy in aws_sqs_queue_policy.dead_letter : "dead_letter_queue_policy" => policy.policy },
    { for role in aws_iam_role.loader : "loader_role_trust" => role.assume_role_policy },
    { for policy in aws_iam_role_policy.loader : "loader_role_policy" => policy.policy },
    { for role in aws_iam_role.export_load : "state_machine_role_trust" => role.assume_role_policy },
    { for policy in aws_iam_role_policy.export_load : "state_machine_role_policy" => policy.policy },
  )
}

output "encryption" {
  description = "What encrypts what, read from the planned resources: the KMS key ARN of the change bucket (or \"AES256\"), both queues (null: SQS-managed SSE), the ledger (null: AWS managed key), the functions' environments (null: Lambda's service key) and the object writer's key (change_objects: the key the source function must name)."
  value = {
    change_bucket      = one([for rule in aws_s3_bucket_server_side_encryption_configuration.this.rule : coalesce(one(rule.apply_server_side_encryption_by_default).kms_master_key_id, one(rule.apply_server_side_encryption_by_default).sse_algorithm)])
    queue              = one(aws_sqs_queue.changes[*].kms_master_key_id)
    dead_letter_queue  = one(aws_sqs_queue.dead_letter[*].kms_master_key_id)
    ledger             = one([for sse in aws_dynamodb_table.ledger.server_side_encryption : sse.kms_key_arn])
    writer_environment = aws_lambda_function.this.kms_key_arn
    loader_environment = one(aws_lambda_function.loader[*].kms_key_arn)
    change_objects     = var.kms_key_arn
  }
}
