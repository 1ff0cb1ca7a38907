data "aws_partition" "current" {}
data "aws_region" "current" {}

# The source table is an input, never a managed resource: `terraform destroy`
# leaves it (and its stream) untouched. The event source mapping's
# precondition (lambda.tf) checks its stream settings.
data "aws_dynamodb_table" "source" {
  name = var.source_table_name
}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = var.source_account_id

  tags = merge({ "dynamigrate:migration" = var.name }, var.tags)

  # Object layout shared with the Python package and the target module.
  change_prefix     = "changes/"
  change_bucket_arn = "arn:${local.partition}:s3:::${var.change_bucket_name}"

  source_table_arn = data.aws_dynamodb_table.source.arn
  table_account_id = split(":", local.source_table_arn)[4]
  stream_arn       = data.aws_dynamodb_table.source.stream_arn
  stream_ok        = data.aws_dynamodb_table.source.stream_enabled == true && data.aws_dynamodb_table.source.stream_view_type == "NEW_AND_OLD_IMAGES"

  function_name  = "${var.name}-stream-to-s3"
  function_arn   = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}"
  role_name      = coalesce(var.role_name, "${var.name}-stream-to-s3")
  log_group_name = "/aws/lambda/${local.function_name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  create_on_failure_bucket  = var.on_failure_bucket_arn == null
  on_failure_bucket_name    = local.create_on_failure_bucket ? coalesce(var.on_failure_bucket_name, "${var.name}-stream-failures-${var.source_account_id}-${local.region}") : split(":::", var.on_failure_bucket_arn)[1]
  on_failure_bucket_arn     = local.create_on_failure_bucket ? "arn:${local.partition}:s3:::${local.on_failure_bucket_name}" : var.on_failure_bucket_arn
  on_failure_bucket_use_kms = var.on_failure_bucket_kms_key_arn != null
}
