# Step 2 of 2, applied by the SOURCE account's own pipeline with its own
# credentials, after the target configuration (it needs the change bucket's
# name from there).

provider "aws" {
  region = var.region
}

data "aws_partition" "current" {}

module "source" {
  source = "../../../modules/source"

  name               = var.name
  source_account_id  = var.source_account_id
  target_account_id  = var.target_account_id
  source_table_name  = var.source_table_name
  change_bucket_name = var.change_bucket_name
  role_name          = var.role_name

  lambda_package_path = coalesce(var.lambda_package_path, "${path.module}/../../../dist/dynamigrate-lambda.zip")

  stream = {
    starting_position = "TRIM_HORIZON"
  }

  force_destroy = var.force_destroy

  tags = var.tags
}

# Optional: the role the dynamigrate CLI assumes from the target account to
# read this table (bulk copy, verify) and pause/resume the stream mapping.
module "operator_role" {
  source = "../../../modules/cross-account-role"
  count  = var.create_operator_role ? 1 : 0

  name                      = "${var.name}-operator"
  trusted_principal_arns    = ["arn:${data.aws_partition.current.partition}:iam::${var.target_account_id}:root"]
  external_id               = var.operator_external_id
  table_arns                = [module.source.source_table_arn]
  event_source_mapping_arns = [module.source.event_source_mapping_arn]

  tags = var.tags
}
