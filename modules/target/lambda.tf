################################################################################
# Writer function: reads change-log objects named in queue messages and
# applies each change to the target table, newest-wins, through the ledger.
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_in_days, default 30): a migration's debug logs rarely need a year, and the change log itself lives in S3.
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}

locals {
  # Every function that writes through the version rule (the writer, the export loader) must
  # judge writes alike: same tables, version attribute, transform, retention, dead-letter place, logs, metrics.
  version_rule_environment = {
    TARGET_TABLE_NAME            = var.target_table_name
    LEDGER_TABLE_NAME            = local.ledger_table_name
    DEAD_LETTER_PREFIX           = local.dead_letter_prefix
    VERSION_ATTRIBUTE            = var.version_attribute == null ? "" : var.version_attribute
    TRANSFORM                    = var.transform == null ? "" : var.transform
    LEDGER_RETENTION_SECONDS     = tostring(var.ledger_retention_in_days * 86400)
    MIGRATION_NAME               = var.name
    POWERTOOLS_METRICS_NAMESPACE = "Dynamigrate"
    POWERTOOLS_LOG_LEVEL         = var.log_level
    LOG_LEVEL                    = var.log_level
  }
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (S3, SQS, DynamoDB); a VPC adds NAT or endpoint cost and no protection here.
  #checkov:skip=CKV_AWS_116:Invoked only by an event source mapping (SQS: failed messages go to the queue's own dead-letter queue; direct: failed stream batches go to the mapping's on-failure S3 destination); a function DLQ applies to asynchronous invocations only.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this module; the package is built reproducibly by `make build` and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names and tuning values, no secrets; it is encrypted with kms_key_arn when set (create_kms_keys at the root sets it), else with Lambda's service key.
  function_name = local.function_name
  description   = local.s3_transport ? "dynamigrate ${var.name}: applies change-log objects from S3 to ${var.target_table_name}" : "dynamigrate ${var.name}: applies the source table's stream to ${var.target_table_name}"
  role          = aws_iam_role.this.arn
  kms_key_arn   = var.kms_key_arn

  handler       = local.s3_transport ? "dynamigrate.handlers.s3_to_table.lambda_handler" : "dynamigrate.handlers.stream_to_table.lambda_handler"
  runtime       = var.runtime
  architectures = var.architectures

  filename         = var.lambda_package_path
  source_code_hash = filebase64sha256(var.lambda_package_path)

  timeout                        = var.writer.timeout_in_seconds
  memory_size                    = var.writer.memory_size
  reserved_concurrent_executions = var.writer.reserved_concurrent_executions

  tracing_config {
    mode = var.tracing_mode
  }

  environment {
    variables = merge(local.version_rule_environment, {
      CHANGE_BUCKET_NAME      = local.bucket_name
      CHANGE_PREFIX           = local.change_prefix
      WRITER_THREADS          = tostring(var.writer.threads)
      POWERTOOLS_SERVICE_NAME = local.service_name
    })
  }

  tags = local.tags

  # The log group must exist before the first invocation (or Lambda creates
  # one without retention), the role must already carry its permissions, and
  # the ledger must be there to write to.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
    aws_dynamodb_table.ledger,
  ]
}

resource "aws_lambda_event_source_mapping" "this" {
  count = local.s3_transport ? 1 : 0

  event_source_arn = aws_sqs_queue.changes[0].arn
  function_name    = aws_lambda_function.this.arn
  enabled          = var.writer.enabled

  batch_size                         = var.writer.batch_size
  maximum_batching_window_in_seconds = var.writer.maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.writer.maximum_concurrency
  }

  tags = local.tags

  # Never consume a message before failures can reach the dead-letter queue.
  depends_on = [aws_sqs_queue_redrive_policy.changes]
}

# transport = "direct": the source table's stream, read across accounts (its
# resource policy, modules/stream-access, must let this function's role in).
resource "aws_lambda_event_source_mapping" "stream" {
  count = local.s3_transport ? 0 : 1

  event_source_arn  = var.source_stream_arn
  function_name     = aws_lambda_function.this.arn
  enabled           = var.writer.enabled
  starting_position = var.direct_stream.starting_position

  batch_size                         = var.direct_stream.batch_size
  maximum_batching_window_in_seconds = var.direct_stream.maximum_batching_window_in_seconds
  parallelization_factor             = var.direct_stream.parallelization_factor
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.direct_stream.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.direct_stream.maximum_record_age_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  # Records that fail every retry are written, whole, to the migration's
  # bucket (an SQS or SNS destination would only keep pointers into a stream
  # that forgets after 24 hours).
  destination_config {
    on_failure {
      destination_arn = local.bucket_arn
    }
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.source_stream_arn != null
      error_message = "transport = \"direct\" needs source_stream_arn: the source table's stream ARN (NEW_AND_OLD_IMAGES)."
    }
  }

  depends_on = [aws_iam_role_policy.this, aws_s3_bucket.this]
}
