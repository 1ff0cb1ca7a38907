################################################################################
# Stream-to-S3 function: reads the source table's stream in order and writes
# each batch of changes as one gzipped JSON Lines object into the target
# account's change bucket.
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_in_days, default 30): a migration's debug logs rarely need a year, and the change log itself lives in S3.
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (DynamoDB Streams via Lambda, S3); a VPC adds NAT or endpoint cost and no protection here.
  #checkov:skip=CKV_AWS_116:Invoked only by a DynamoDB stream event source mapping, whose on-failure destination (an S3 bucket) keeps discarded batches; a function DLQ applies to asynchronous invocations only.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this module; the package is built reproducibly by `make build` and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names and account ids, no secrets; it is encrypted with lambda_kms_key_arn when set (create_kms_keys at the root sets it), else with Lambda's service key.
  function_name = local.function_name
  description   = "dynamigrate ${var.name}: copies ${var.source_table_name} stream records to s3://${var.change_bucket_name}/${local.change_prefix}"
  role          = aws_iam_role.this.arn
  kms_key_arn   = var.lambda_kms_key_arn

  handler       = "dynamigrate.handlers.stream_to_s3.lambda_handler"
  runtime       = var.runtime
  architectures = var.architectures

  filename         = var.lambda_package_path
  source_code_hash = filebase64sha256(var.lambda_package_path)

  timeout                        = var.stream.timeout_in_seconds
  memory_size                    = var.stream.memory_size
  reserved_concurrent_executions = var.stream.reserved_concurrent_executions

  tracing_config {
    mode = var.tracing_mode
  }

  environment {
    variables = {
      CHANGE_BUCKET_NAME           = var.change_bucket_name
      CHANGE_BUCKET_OWNER          = var.target_account_id
      CHANGE_PREFIX                = local.change_prefix
      SOURCE_TABLE_NAME            = var.source_table_name
      KMS_KEY_ARN                  = var.kms_key_arn == null ? "" : var.kms_key_arn
      MIGRATION_NAME               = var.name
      POWERTOOLS_SERVICE_NAME      = local.service_name
      POWERTOOLS_METRICS_NAMESPACE = "Dynamigrate"
      POWERTOOLS_LOG_LEVEL         = var.log_level
      LOG_LEVEL                    = var.log_level
    }
  }

  tags = local.tags

  # The log group must exist before the first invocation (or Lambda creates
  # one without retention), and the role must already carry its permissions.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn  = local.stream_arn
  function_name     = aws_lambda_function.this.arn
  enabled           = var.stream.enabled
  starting_position = var.stream.starting_position

  batch_size                         = var.stream.batch_size
  maximum_batching_window_in_seconds = var.stream.maximum_batching_window_in_seconds
  parallelization_factor             = var.stream.parallelization_factor
  bisect_batch_on_function_error     = var.stream.bisect_batch_on_function_error
  maximum_retry_attempts             = var.stream.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.stream.maximum_record_age_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  # Discarded batches land in S3 with the records themselves, not just
  # pointers into a stream that forgets them after 24 hours.
  destination_config {
    on_failure {
      destination_arn = local.on_failure_bucket_arn
    }
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.stream_ok
      error_message = <<-EOT
        The source table "${var.source_table_name}" must have a DynamoDB stream with view type NEW_AND_OLD_IMAGES (found: stream_enabled = ${jsonencode(data.aws_dynamodb_table.source.stream_enabled)}, stream_view_type = ${jsonencode(data.aws_dynamodb_table.source.stream_view_type)}).
        Fix it with
          aws dynamodb update-table --table-name ${var.source_table_name} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES
        or, when Terraform manages the table, set stream_enabled = true and stream_view_type = "NEW_AND_OLD_IMAGES" on its aws_dynamodb_table resource.
        A stream that is enabled with another view type must be disabled first (StreamEnabled=false), then enabled again.
      EOT
    }
  }

  # Lambda checks the role's stream and destination permissions, and the
  # destination bucket, when the mapping is created.
  depends_on = [
    aws_iam_role_policy.this,
    aws_s3_bucket_policy.on_failure,
  ]
}
