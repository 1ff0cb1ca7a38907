# Step 1 of 2, applied by the TARGET account's own pipeline with its own
# credentials. It does not need the source account to exist yet: the change
# bucket trusts the source role by ARN, computed from the naming convention.

provider "aws" {
  region = var.region
}

data "aws_partition" "current" {}

locals {
  source_role_name = coalesce(var.source_role_name, "${var.name}-stream-to-s3")
}

module "target" {
  source = "../../../modules/target"

  name                   = var.name
  source_account_id      = var.source_account_id
  target_account_id      = var.target_account_id
  source_writer_role_arn = "arn:${data.aws_partition.current.partition}:iam::${var.source_account_id}:role/${local.source_role_name}"
  target_table_name      = var.target_table_name
  version_attribute      = var.version_attribute

  lambda_package_path = coalesce(var.lambda_package_path, "${path.module}/../../../dist/dynamigrate-lambda.zip")

  writer = {
    enabled = var.writer_enabled
  }

  force_destroy = var.force_destroy

  tags = var.tags
}
