data "aws_partition" "current" {}
data "aws_region" "current" {}

# The target table is an input, never a managed resource: `terraform destroy`
# leaves it (and its data) untouched.
data "aws_dynamodb_table" "target" {
  name = var.target_table_name
}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = var.target_account_id

  tags = merge({ "dynamigrate:migration" = var.name }, var.tags)

  # Object layout shared with the Python package (functions/): the stream
  # function writes gzipped JSON Lines under changes/, the writer parks what it
  # cannot apply under dead-letter/.
  change_prefix      = "changes/"
  change_suffix      = ".jsonl.gz"
  dead_letter_prefix = "dead-letter/"

  bucket_name = coalesce(var.change_bucket_name, "${var.name}-changes-${var.target_account_id}-${local.region}")
  bucket_arn  = "arn:${local.partition}:s3:::${local.bucket_name}"

  queue_name             = "${var.name}-changes"
  queue_arn              = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.queue_name}"
  dead_letter_queue_name = "${var.name}-changes-dlq"
  dead_letter_queue_arn  = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.dead_letter_queue_name}"

  ledger_table_name = "${var.name}-ledger"
  ledger_table_arn  = "arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.ledger_table_name}"
  target_table_arn  = data.aws_dynamodb_table.target.arn
  table_account_id  = split(":", local.target_table_arn)[4]

  function_name  = "${var.name}-writer"
  service_name   = "dynamigrate-writer" # POWERTOOLS_SERVICE_NAME: the `service` dimension of the writer's metrics
  function_arn   = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}"
  role_name      = "${var.name}-writer"
  log_group_name = "/aws/lambda/${local.function_name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  use_kms = var.kms_key_arn != null

  # transport: the change log (S3 + SQS) or the source stream read directly.
  s3_transport = var.transport == "s3"
  # Lambda's on-failure S3 destination writes under aws/lambda/<mapping uuid>/<shard>/...
  direct_failure_prefix = "aws/lambda/"
  source_table_arn      = var.source_stream_arn == null ? "" : split("/stream/", var.source_stream_arn)[0]

  # AWS: set the queue's visibility timeout to at least six times the
  # function timeout plus the batching window, so a batch that is retried by
  # Lambda is not handed to a second invocation meanwhile.
  queue_visibility_timeout_in_seconds = 6 * var.writer.timeout_in_seconds + var.writer.maximum_batching_window_in_seconds

  # Long enough that nothing expires in the dead-letter queue before it could
  # have expired in the source queue (SQS keeps the original enqueue time).
  dead_letter_queue_message_retention_in_seconds = 1209600
}
