# dynamigrate: zero-downtime DynamoDB table migration across AWS accounts.
#
#   source account                          target account
#   table --stream--> stream-to-s3 --PutObject--> change bucket (changes/)
#                                                   | s3:ObjectCreated
#                                                   v
#                                             change queue --> writer --> table
#                                                   | (5 receives)         |
#                                                   v                      v
#                                                 DLQ                   ledger
#
# Both accounts are configured by one apply with two aliased providers. The
# target side does not depend on the source side: the change bucket policy
# trusts the source role by ARN, computed here from the naming convention, so
# the target account can also be applied first on its own (examples/per-account).

data "aws_partition" "target" {
  provider = aws.target
}

data "aws_region" "source" {
  provider = aws.source
}

data "aws_region" "target" {
  provider = aws.target
}

locals {
  lambda_package_path = coalesce(var.lambda_package_path, "${path.module}/dist/dynamigrate-lambda.zip")

  partition              = data.aws_partition.target.partition
  source_role_name       = coalesce(var.source_role_name, "${var.name}-stream-to-s3")
  source_writer_role_arn = "arn:${local.partition}:iam::${var.source_account_id}:role/${local.source_role_name}"

  operator_trusted_principal_arns = coalescelist(var.operator_trusted_principal_arns, ["arn:${local.partition}:iam::${var.target_account_id}:root"])

  # The operator role exports the source table when the export load is on; its ARN
  # is known from its name, so the bucket policy needs no dependency on the role.
  operator_role_name      = coalesce(var.operator_role_name, "${var.name}-operator")
  operator_exports        = var.create_operator_role && var.export_load.enabled == true
  operator_role_arn       = "arn:${local.partition}:iam::${var.source_account_id}:role/${local.operator_role_name}"
  exporter_principal_arns = distinct(concat(var.export_load.exporter_principal_arns, local.operator_exports ? [local.operator_role_arn] : []))

  # Customer managed keys: created (create_kms_keys) or given, one per account.
  target_kms_key_arn = var.create_kms_keys ? module.target_key[0].key_arn : var.kms_key_arn
  source_kms_key_arn = var.create_kms_keys ? module.source_key[0].key_arn : var.source_kms_key_arn

  # The rollback pipeline: the same two modules, target table -> source table.
  rollback_name            = "${var.name}-rollback"
  rollback_role_name       = "${local.rollback_name}-stream-to-s3"
  rollback_writer_role_arn = "arn:${local.partition}:iam::${var.target_account_id}:role/${local.rollback_role_name}"
}

################################################################################
# Customer managed keys (create_kms_keys): one per account. Each key's policy
# lets the other account's stream role generate data keys through S3 only, and
# S3 use it for the notifications of this pipeline's change bucket.
################################################################################

module "target_key" {
  source = "./modules/kms-key"
  count  = var.create_kms_keys ? 1 : 0

  providers = {
    aws = aws.target
  }

  name                        = var.name
  description                 = "dynamigrate ${var.name}: change bucket, queues, ledger and functions in the target account"
  account_id                  = var.target_account_id
  s3_writer_principal_arns    = [local.source_writer_role_arn]
  s3_exporter_principal_arns  = local.exporter_principal_arns
  s3_notification_bucket_arns = [module.target.change_bucket_arn]
  deletion_window_in_days     = var.kms_key_deletion_window_in_days

  tags = var.tags
}

module "source_key" {
  source = "./modules/kms-key"
  count  = var.create_kms_keys ? 1 : 0

  providers = {
    aws = aws.source
  }

  name                        = "${var.name}-source"
  description                 = "dynamigrate ${var.name}: stream function and failure bucket${var.rollback_enabled ? ", rollback change bucket, queues and ledger" : ""} in the source account"
  account_id                  = var.source_account_id
  s3_writer_principal_arns    = var.rollback_enabled ? [local.rollback_writer_role_arn] : []
  s3_notification_bucket_arns = var.rollback_enabled ? [module.rollback_target[0].change_bucket_arn] : []
  deletion_window_in_days     = var.kms_key_deletion_window_in_days

  tags = var.tags
}

################################################################################
# Target account
################################################################################

module "target" {
  source = "./modules/target"

  providers = {
    aws = aws.target
  }

  name                   = var.name
  source_account_id      = var.source_account_id
  target_account_id      = var.target_account_id
  source_writer_role_arn = local.source_writer_role_arn
  target_table_name      = var.target_table_name
  version_attribute      = var.version_attribute
  transform              = var.transform

  lambda_package_path = local.lambda_package_path
  runtime             = var.runtime
  architectures       = var.architectures
  tracing_mode        = var.tracing_mode
  writer              = var.writer
  export_load         = merge(var.export_load, { exporter_principal_arns = local.exporter_principal_arns })

  change_bucket_name                   = var.change_bucket_name
  force_destroy                        = var.force_destroy
  change_log_retention_in_days         = var.change_log_retention_in_days
  dead_letter_retention_in_days        = var.dead_letter_retention_in_days
  noncurrent_version_retention_in_days = var.noncurrent_version_retention_in_days
  access_logging                       = var.change_bucket_access_logging
  queue_message_retention_in_seconds   = var.queue_message_retention_in_seconds
  ledger_retention_in_days             = var.ledger_retention_in_days
  ledger_deletion_protection_enabled   = var.ledger_deletion_protection_enabled

  kms_key_arn                   = local.target_kms_key_arn
  log_kms_key_arn               = var.target_log_kms_key_arn
  role_permissions_boundary_arn = var.target_role_permissions_boundary_arn

  alarm_actions = var.target_alarm_actions
  alarms = {
    enabled                    = var.alarms.enabled
    period_in_seconds          = var.alarms.period_in_seconds
    queue_age_in_seconds       = var.alarms.queue_age_in_seconds
    replication_lag_in_seconds = var.alarms.replication_lag_in_seconds
    write_throttle_events      = var.alarms.write_throttle_events
  }
  create_dashboard = var.create_dashboards

  log_level             = var.log_level
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags
}

################################################################################
# Source account
################################################################################

module "source" {
  source = "./modules/source"

  providers = {
    aws = aws.source
  }

  name               = var.name
  source_account_id  = var.source_account_id
  target_account_id  = var.target_account_id
  source_table_name  = var.source_table_name
  change_bucket_name = module.target.change_bucket_name
  role_name          = local.source_role_name
  kms_key_arn        = local.target_kms_key_arn
  lambda_kms_key_arn = local.source_kms_key_arn

  lambda_package_path = local.lambda_package_path
  runtime             = var.runtime
  architectures       = var.architectures
  tracing_mode        = var.tracing_mode
  stream              = var.stream

  on_failure_bucket_arn         = var.on_failure_bucket_arn
  on_failure_bucket_name        = var.on_failure_bucket_name
  on_failure_retention_in_days  = var.on_failure_retention_in_days
  on_failure_bucket_kms_key_arn = var.on_failure_bucket_kms_key_arn != null || var.on_failure_bucket_arn != null ? var.on_failure_bucket_kms_key_arn : local.source_kms_key_arn
  force_destroy                 = var.force_destroy
  access_logging                = var.on_failure_bucket_access_logging

  log_kms_key_arn               = var.source_log_kms_key_arn
  role_permissions_boundary_arn = var.source_role_permissions_boundary_arn

  alarm_actions = var.source_alarm_actions
  alarms = {
    enabled                 = var.alarms.enabled
    period_in_seconds       = var.alarms.period_in_seconds
    iterator_age_in_seconds = var.alarms.iterator_age_in_seconds
  }
  create_dashboard = var.create_dashboards

  log_level             = var.log_level
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags
}

################################################################################
# Operator role (source account), assumed by the CLI from the target account
################################################################################

module "operator_role" {
  source = "./modules/cross-account-role"
  count  = var.create_operator_role ? 1 : 0

  providers = {
    aws = aws.source
  }

  name                      = local.operator_role_name
  description               = "dynamigrate ${var.name}: lets the migration CLI read ${var.source_table_name} and pause/resume its stream mapping."
  trusted_principal_arns    = local.operator_trusted_principal_arns
  external_id               = var.operator_external_id
  table_arns                = [module.source.source_table_arn]
  allow_write               = var.operator_allow_write
  event_source_mapping_arns = [module.source.event_source_mapping_arn]
  export_destination = local.operator_exports ? {
    bucket_arn   = module.target.export_destination.bucket_arn
    prefix       = module.target.export_destination.prefix
    bucket_owner = module.target.export_destination.bucket_owner
  } : null
  max_session_duration     = var.operator_max_session_duration
  permissions_boundary_arn = var.source_role_permissions_boundary_arn

  tags = merge({ "dynamigrate:migration" = var.name }, var.tags)
}

################################################################################
# Rollback pipeline (var.rollback_enabled): the same modules in the opposite
# direction, target table -> source table, so that writes the target takes
# after the switch reach the source if traffic has to move back. It never
# echoes: both directions apply through the version rule in attribute mode, so
# a change that one direction wrote comes back equal, not newer, and is skipped
# (docs/cutover.md). Switch it on before traffic moves.
################################################################################

module "rollback_target" {
  source = "./modules/target"
  count  = var.rollback_enabled ? 1 : 0

  providers = {
    aws = aws.source
  }

  name                   = local.rollback_name
  source_account_id      = var.target_account_id
  target_account_id      = var.source_account_id
  source_writer_role_arn = local.rollback_writer_role_arn
  target_table_name      = var.source_table_name
  version_attribute      = var.version_attribute

  lambda_package_path = local.lambda_package_path
  runtime             = var.runtime
  architectures       = var.architectures
  tracing_mode        = var.tracing_mode
  writer              = var.writer

  force_destroy                      = var.force_destroy
  change_log_retention_in_days       = var.change_log_retention_in_days
  dead_letter_retention_in_days      = var.dead_letter_retention_in_days
  queue_message_retention_in_seconds = var.queue_message_retention_in_seconds
  ledger_retention_in_days           = var.ledger_retention_in_days
  ledger_deletion_protection_enabled = var.ledger_deletion_protection_enabled
  kms_key_arn                        = local.source_kms_key_arn
  log_kms_key_arn                    = var.source_log_kms_key_arn
  role_permissions_boundary_arn      = var.source_role_permissions_boundary_arn

  alarm_actions = var.source_alarm_actions
  alarms = {
    enabled                    = var.alarms.enabled
    period_in_seconds          = var.alarms.period_in_seconds
    queue_age_in_seconds       = var.alarms.queue_age_in_seconds
    replication_lag_in_seconds = var.alarms.replication_lag_in_seconds
    write_throttle_events      = var.alarms.write_throttle_events
  }
  create_dashboard = var.create_dashboards

  log_level             = var.log_level
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags
}

module "rollback_source" {
  source = "./modules/source"
  count  = var.rollback_enabled ? 1 : 0

  providers = {
    aws = aws.target
  }

  name               = local.rollback_name
  source_account_id  = var.target_account_id
  target_account_id  = var.source_account_id
  source_table_name  = var.target_table_name
  change_bucket_name = module.rollback_target[0].change_bucket_name
  role_name          = local.rollback_role_name
  kms_key_arn        = local.source_kms_key_arn
  lambda_kms_key_arn = local.target_kms_key_arn

  lambda_package_path = local.lambda_package_path
  runtime             = var.runtime
  architectures       = var.architectures
  tracing_mode        = var.tracing_mode
  # LATEST: before the switch, every write on the target came from the forward
  # path; reading them back (TRIM_HORIZON: the bulk copy included) would only
  # spend the source table's write capacity on rejected echoes. Hence the
  # runbook's order: reverse on, then switch (dynamigrate cutover enforces it).
  stream = merge(var.stream, { starting_position = "LATEST" })

  # "<name>-rollback-stream-failures-..." would pass S3's 63 characters sooner.
  on_failure_bucket_name        = "${local.rollback_name}-failures-${var.target_account_id}-${data.aws_region.target.name}"
  on_failure_retention_in_days  = var.on_failure_retention_in_days
  on_failure_bucket_kms_key_arn = local.target_kms_key_arn
  force_destroy                 = var.force_destroy

  log_kms_key_arn               = var.target_log_kms_key_arn
  role_permissions_boundary_arn = var.target_role_permissions_boundary_arn

  alarm_actions = var.target_alarm_actions
  alarms = {
    enabled                 = var.alarms.enabled
    period_in_seconds       = var.alarms.period_in_seconds
    iterator_age_in_seconds = var.alarms.iterator_age_in_seconds
  }
  create_dashboard = var.create_dashboards

  log_level             = var.log_level
  log_retention_in_days = var.log_retention_in_days
  tags                  = var.tags
}
