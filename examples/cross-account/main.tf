# One apply, two accounts: each aliased provider assumes a deployment role in
# its own account. The caller's base credentials must be allowed to assume
# both roles.

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

module "migration" {
  source = "../../"

  providers = {
    aws.source = aws.source
    aws.target = aws.target
  }

  name              = var.name
  source_account_id = var.source_account_id
  target_account_id = var.target_account_id
  source_table_name = var.source_table_name
  target_table_name = var.target_table_name
  version_attribute = var.version_attribute
  rollback_enabled  = var.rollback_enabled
  create_kms_keys   = var.create_kms_keys

  lambda_package_path = var.lambda_package_path

  stream = {
    starting_position = "TRIM_HORIZON"
  }

  writer = {
    # Start paused when a bulk copy runs first; flip to true (or resume with
    # the CLI) once the copy is done.
    enabled = var.writer_enabled
  }

  # The bulk copy for large tables: export the source table into the change
  # bucket, then start the state machine (dynamigrate load-export --state-machine).
  export_load = {
    enabled                 = var.export_load_enabled
    exporter_principal_arns = var.exporter_principal_arns
  }

  force_destroy = var.force_destroy

  create_operator_role = var.create_operator_role
  operator_external_id = var.operator_external_id

  tags = var.tags
}
