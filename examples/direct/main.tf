# The direct transport: the writer in the target account reads the source
# table's stream across accounts (the stream's resource policy lets its role
# in); no change log, no queue. One apply, two accounts, as
# examples/cross-account. docs/transports.md says when to choose it.

provider "aws" {
  alias  = "source"
  region = var.region

  assume_role {
    role_arn    = var.source_role_arn
    external_id = var.external_id
  }
}

provider "aws" {
  alias  = "target"
  region = var.region

  assume_role {
    role_arn    = var.target_role_arn
    external_id = var.external_id
  }
}

data "aws_partition" "current" {
  provider = aws.target
}

locals {
  # modules/target names its writer role <name>-writer; knowing it, the source
  # side need not wait for the target side.
  writer_role_arn = "arn:${data.aws_partition.current.partition}:iam::${var.target_account_id}:role/${var.name}-writer"
}

module "stream_access" {
  source = "../../modules/stream-access"

  providers = {
    aws = aws.source
  }

  source_account_id = var.source_account_id
  source_table_name = var.source_table_name
  reader_role_arns  = [local.writer_role_arn]
}

module "target" {
  source = "../../modules/target"

  providers = {
    aws = aws.target
  }

  name              = var.name
  source_account_id = var.source_account_id
  target_account_id = var.target_account_id
  target_table_name = var.target_table_name
  version_attribute = var.version_attribute

  transport         = "direct"
  source_stream_arn = module.stream_access.stream_arn # known once the stream's policy is in place

  lambda_package_path = var.lambda_package_path
  force_destroy       = var.force_destroy

  tags = var.tags
}
