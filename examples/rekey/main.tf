# The seed's hot migration to a new key schema, in one account:
# Summaries(pub, external_id) -> Articles(guid).
#
# - the replication pipeline (the root module, both sides in this account) with
#   the key mapping below, so writers still on the old table keep the new one
#   current while the application moves over;
# - the write guard on Summaries, which counts every write made after
#   writes_moved_at.
#
# The application reads and writes through dynamigrate.dual.DualTable with the
# same mapping (output transform); `dynamigrate backfill --transform` copies
# the rest; `dynamigrate retire-table` retires Summaries. README: the runbook.

provider "aws" {
  region = var.region

  dynamic "assume_role" {
    for_each = var.role_arn == null ? [] : [var.role_arn]
    content {
      role_arn    = assume_role.value
      external_id = var.external_id
    }
  }
}

locals {
  # One definition of the new key, used by the writer Lambda, the bulk copy,
  # verify and the application (docs/transforms.md).
  transform = jsonencode({
    set = {
      guid  = { uuid5 = ["pub", "external_id"], namespace = "url", separator = "/" }
      title = { from = "headline" }
    }
    drop = ["headline"]
  })
}

module "replication" {
  source = "../../"

  providers = {
    aws.source = aws
    aws.target = aws
  }

  name              = var.name
  source_account_id = var.account_id
  target_account_id = var.account_id
  source_table_name = var.old_table_name
  target_table_name = var.new_table_name
  transform         = local.transform

  lambda_package_path = var.lambda_package_path

  stream = {
    starting_position = "TRIM_HORIZON"
  }

  force_destroy = var.force_destroy
  tags          = var.tags
}

module "write_guard" {
  source = "../../modules/write-guard"

  name                = var.name
  table_name          = var.old_table_name
  writes_moved_at     = var.writes_moved_at
  alarm_actions       = var.alarm_actions
  deny_writes         = var.deny_writes
  lambda_package_path = var.lambda_package_path
  tags                = var.tags
}
