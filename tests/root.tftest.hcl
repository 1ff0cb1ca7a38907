# Plan-only tests of the root module (both accounts) with mocked, aliased AWS
# providers: aws.source and aws.target each get their own mock.
# Run `make build` first: source_code_hash reads dist/dynamigrate-lambda.zip.

mock_provider "aws" {
  alias           = "source"
  override_during = plan

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }
}

mock_provider "aws" {
  alias           = "target"
  override_during = plan

  mock_data "aws_region" {
    defaults = {
      name = "eu-central-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }
}

override_data {
  target = module.source.data.aws_dynamodb_table.source
  values = {
    name             = "orders"
    arn              = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
    stream_enabled   = true
    stream_view_type = "NEW_AND_OLD_IMAGES"
    stream_arn       = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
    hash_key         = "pk"
    range_key        = "sk"
    attribute        = [{ name = "pk", type = "S" }, { name = "sk", type = "N" }]
  }
}

override_data {
  target = module.target.data.aws_dynamodb_table.target
  values = {
    name      = "orders-v2"
    arn       = "arn:aws:dynamodb:eu-central-1:222222222222:table/orders-v2"
    hash_key  = "pk"
    range_key = "sk"
    attribute = [{ name = "pk", type = "S" }, { name = "sk", type = "N" }]
  }
}

override_resource {
  target          = module.source.aws_lambda_event_source_mapping.this
  override_during = plan
  values = {
    uuid = "0f8c6b4e-1d2a-4b3c-8e9f-a1b2c3d4e5f6"
    arn  = "arn:aws:lambda:eu-west-1:111111111111:event-source-mapping:0f8c6b4e-1d2a-4b3c-8e9f-a1b2c3d4e5f6"
  }
}

# The rollback pipeline's tables (used by the runs that set rollback_enabled).
override_data {
  target = module.rollback_source[0].data.aws_dynamodb_table.source
  values = {
    name             = "orders-v2"
    arn              = "arn:aws:dynamodb:eu-central-1:222222222222:table/orders-v2"
    stream_enabled   = true
    stream_view_type = "NEW_AND_OLD_IMAGES"
    stream_arn       = "arn:aws:dynamodb:eu-central-1:222222222222:table/orders-v2/stream/2024-01-01T00:00:00.000"
    hash_key         = "pk"
    range_key        = "sk"
    attribute        = [{ name = "pk", type = "S" }, { name = "sk", type = "N" }]
  }
}


override_data {
  target = module.rollback_target[0].data.aws_dynamodb_table.target
  values = {
    name      = "orders"
    arn       = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
    hash_key  = "pk"
    range_key = "sk"
    attribute = [{ name = "pk", type = "S" }, { name = "sk", type = "N" }]
  }
}


variables {
  name              = "orders-migration"
  source_account_id = "111111111111"
  target_account_id = "222222222222"
  source_table_name = "orders"
  target_table_name = "orders-v2"
}

run "wires_source_to_the_target_bucket" {
  command = plan

  assert {
    condition     = output.change_bucket_name == "orders-migration-changes-222222222222-eu-central-1"
    error_message = "The change bucket must be named after the target account and region."
  }

  assert {
    condition     = module.target.source_writer_role_arn == "arn:aws:iam::111111111111:role/orders-migration-stream-to-s3"
    error_message = "The change bucket must trust the source role ARN computed from name and source_account_id."
  }

  assert {
    condition     = module.target.source_writer_role_arn == "arn:aws:iam::${var.source_account_id}:role/${module.source.role_name}"
    error_message = "The role the bucket trusts must be the role the source module creates."
  }

  assert {
    condition = (
      output.stream_function_name == "orders-migration-stream-to-s3"
      && output.writer_function_name == "orders-migration-writer"
      && output.ledger_table_name == "orders-migration-ledger"
      && output.on_failure_bucket_name == "orders-migration-stream-failures-111111111111-eu-west-1"
      && output.stream_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
      && output.source_table_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
      && output.target_table_arn == "arn:aws:dynamodb:eu-central-1:222222222222:table/orders-v2"
    )
    error_message = "Names must derive from name, the source side in the source region, the target side in the target region."
  }

  assert {
    condition     = output.operator_role_arn == null && output.operator_role_name == null && length(module.operator_role) == 0
    error_message = "No operator role unless create_operator_role is true."
  }
}

run "custom_source_role_name_is_trusted" {
  command = plan

  variables {
    source_role_name = "team-a-dynamigrate"
  }

  assert {
    condition = (
      module.source.role_name == "team-a-dynamigrate"
      && module.target.source_writer_role_arn == "arn:aws:iam::111111111111:role/team-a-dynamigrate"
    )
    error_message = "A custom source role name must be used on both sides."
  }
}

run "operator_role_in_source_account" {
  command = plan

  variables {
    create_operator_role = true
    operator_external_id = "4f9c2a6e-0f5b-4c3e-9d2b-7c1a8e6b5d40"
  }

  assert {
    condition     = output.operator_role_name == "orders-migration-operator" && length(module.operator_role) == 1
    error_message = "The operator role must be named <name>-operator."
  }
}

run "operator_role_exports_the_source_table_when_export_load_is_on" {
  command = plan

  variables {
    create_operator_role = true
    operator_external_id = "4f9c2a6e-0f5b-4c3e-9d2b-7c1a8e6b5d40"
    export_load          = { enabled = true, exporter_principal_arns = ["arn:aws:iam::111111111111:role/platform-admin"] }
  }

  assert {
    condition     = module.target.export_loader_function_name == "orders-migration-export-loader"
    error_message = "export_load.enabled must reach the target module."
  }

  assert {
    condition = module.target.exporter_principal_arns == tolist([
      "arn:aws:iam::111111111111:role/platform-admin",
      "arn:aws:iam::111111111111:role/orders-migration-operator",
    ])
    error_message = "The change bucket must let the listed principals and the operator role write exports."
  }

  assert {
    condition = [for s in jsondecode(module.operator_role[0].policy).Statement : s if startswith(s.Sid, "Export") || s.Sid == "WriteExports" || s.Sid == "DescribeExports"] == [
      {
        Sid      = "ExportTables"
        Effect   = "Allow"
        Action   = "dynamodb:ExportTableToPointInTime"
        Resource = ["arn:aws:dynamodb:eu-west-1:111111111111:table/orders"]
      },
      {
        Sid      = "DescribeExports"
        Effect   = "Allow"
        Action   = "dynamodb:DescribeExport"
        Resource = ["arn:aws:dynamodb:eu-west-1:111111111111:table/orders/export/*"]
      },
      {
        Sid       = "WriteExports"
        Effect    = "Allow"
        Action    = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
        Resource  = "arn:aws:s3:::orders-migration-changes-222222222222-eu-central-1/exports/*"
        Condition = { StringEquals = { "s3:ResourceAccount" = "222222222222" } }
      },
    ]
    error_message = "The operator role must be able to export the source table into the change bucket's exports/ prefix, and nowhere else."
  }
}

run "migration_output_bundles_what_the_cli_reads" {
  command = plan

  assert {
    condition = (
      output.migration.name == "orders-migration"
      && output.migration.source.account_id == "111111111111"
      && output.migration.source.region == "eu-west-1"
      && output.migration.source.table_name == "orders"
      && output.migration.target.account_id == "222222222222"
      && output.migration.target.region == "eu-central-1"
      && output.migration.target.table_name == "orders-v2"
      && output.migration.target.change_bucket_name == "orders-migration-changes-222222222222-eu-central-1"
      && output.migration.target.change_prefix == "changes/"
      && output.migration.target.dead_letter_prefix == "dead-letter/"
      && output.migration.target.ledger_table_name == "orders-migration-ledger"
      && output.migration.source.event_source_mapping_uuid == "0f8c6b4e-1d2a-4b3c-8e9f-a1b2c3d4e5f6"
    )
    error_message = "The migration output must carry names, accounts, regions, bucket layout and mappings."
  }
}

run "rejects_bad_name" {
  command = plan

  variables {
    name = "Orders Migration"
  }

  expect_failures = [var.name]
}

run "rejects_bad_account_ids" {
  command = plan

  variables {
    source_account_id = "1111"
    target_account_id = "arn:aws:iam::222222222222:root"
  }

  expect_failures = [var.source_account_id, var.target_account_id]
}

run "rejects_bad_table_names" {
  command = plan

  variables {
    source_table_name = "x"
    target_table_name = "orders v2"
  }

  expect_failures = [var.source_table_name, var.target_table_name]
}

run "rejects_bad_operator_external_id" {
  command = plan

  variables {
    create_operator_role = true
    operator_external_id = "x"
  }

  expect_failures = [var.operator_external_id]
}

run "rejects_non_zip_package" {
  command = plan

  variables {
    lambda_package_path = "dist/dynamigrate-lambda.tar.gz"
  }

  expect_failures = [var.lambda_package_path]
}

run "fails_when_target_key_schema_differs" {
  command = plan

  override_data {
    target = module.target.data.aws_dynamodb_table.target
    values = {
      name      = "orders-v2"
      arn       = "arn:aws:dynamodb:eu-central-1:222222222222:table/orders-v2"
      hash_key  = "guid"
      range_key = ""
      attribute = [{ name = "guid", type = "S" }]
    }
  }

  expect_failures = [output.migration]
}

run "a_transform_allows_a_new_key_schema" {
  command = plan

  variables {
    transform = jsonencode({ set = { guid = { uuid5 = ["pk", "sk"], namespace = "url" } } })
  }

  override_data {
    target = module.target.data.aws_dynamodb_table.target
    values = {
      name      = "orders-v2"
      arn       = "arn:aws:dynamodb:eu-central-1:222222222222:table/orders-v2"
      hash_key  = "guid"
      range_key = ""
      attribute = [{ name = "guid", type = "S" }]
    }
  }

  assert {
    condition     = module.target.table_key.hash_key == "guid" && output.migration.target.table_name == "orders-v2"
    error_message = "With a transform, the target may have another key schema (the migration output is planned, not refused)."
  }
}

run "accepts_matching_key_schemas" {
  command = plan

  assert {
    condition     = module.source.table_key == { hash_key = "pk", range_key = "sk", types = { pk = "S", sk = "N" } }
    error_message = "The source key schema is read from the table."
  }
}

run "alarms_reach_each_account_topic" {
  command = plan

  variables {
    source_alarm_actions = ["arn:aws:sns:eu-central-1:111111111111:oncall"]
    target_alarm_actions = ["arn:aws:sns:eu-central-1:222222222222:oncall"]
    alarms               = { iterator_age_in_seconds = 1800, queue_age_in_seconds = 600 }
  }

  assert {
    condition     = length(output.alarm_names.source) == 3 && length(output.alarm_names.target) == 7
    error_message = "Both sides must create their alarms."
  }

  assert {
    condition = (
      module.source.alarm_names["stream-iterator-age"] == "orders-migration-stream-iterator-age"
      && output.dashboard_names.source == "orders-migration-capture"
      && output.dashboard_names.target == "orders-migration-replication"
    )
    error_message = "Alarm and dashboard names must derive from the migration name."
  }
}

run "rollback_pipeline_runs_the_other_way_in_attribute_mode" {
  command = plan

  variables {
    rollback_enabled  = true
    version_attribute = "updated_at"
  }

  assert {
    condition = (
      output.rollback.name == "orders-migration-rollback"
      && output.rollback.source.table_name == "orders-v2"
      && output.rollback.source.account_id == "222222222222"
      && output.rollback.target.table_name == "orders"
      && output.rollback.target.account_id == "111111111111"
      && output.rollback.version_attribute == "updated_at"
    )
    error_message = "The rollback pipeline must read the target table (target account) and write the source table (source account), in attribute mode."
  }

  assert {
    condition     = output.rollback.target.change_bucket_name == "orders-migration-rollback-changes-111111111111-eu-west-1"
    error_message = "The rollback change log must live in the source account, beside the table it writes."
  }

  assert {
    condition     = length(output.alarm_names.rollback_target) == 7 && length(output.alarm_names.rollback_source) == 3
    error_message = "The rollback direction must be watched like the forward one."
  }
}

run "rollback_refuses_stream_mode" {
  command = plan

  variables {
    rollback_enabled = true
  }

  expect_failures = [output.rollback]
}

################################################################################
# Customer managed keys (create_kms_keys) and the policy audit of everything
################################################################################

run "created_keys_encrypt_both_accounts_and_the_rollback_path" {
  command = plan

  variables {
    create_kms_keys      = true
    rollback_enabled     = true
    version_attribute    = "updated_at"
    tracing_mode         = "Active"
    create_operator_role = true
    operator_external_id = "4f9c2a6e-0f5b-4c3e-9d2b-7c1a8e6b5d40"
    export_load          = { enabled = true }
  }

  override_resource {
    target          = module.target_key[0].aws_kms_key.this
    override_during = plan
    values = {
      arn    = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      key_id = "2222abcd-12ab-34cd-56ef-1234567890ab"
    }
  }

  override_resource {
    target          = module.source_key[0].aws_kms_key.this
    override_during = plan
    values = {
      arn    = "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
      key_id = "1111abcd-12ab-34cd-56ef-1234567890ab"
    }
  }

  assert {
    condition = output.kms_key_arns == {
      source = "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
      target = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
    }
    error_message = "One key per account, reported by full ARN."
  }

  assert {
    condition = output.encryption.target == {
      change_bucket      = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      queue              = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      dead_letter_queue  = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      ledger             = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      writer_environment = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      loader_environment = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      change_objects     = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
    }
    error_message = "The target key encrypts the change bucket, both queues, the ledger and both functions' environments: ${jsonencode(output.encryption.target)}"
  }

  assert {
    condition = output.encryption.source == {
      change_objects     = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      stream_environment = "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
      on_failure_bucket  = "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
    }
    error_message = "The source function writes change objects with the target key's full ARN; the source key encrypts its environment and the failure bucket: ${jsonencode(output.encryption.source)}"
  }

  assert {
    condition = (
      output.encryption.rollback_target.change_bucket == "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
      && output.encryption.rollback_target.queue == "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
      && output.encryption.rollback_source.change_objects == "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
      && output.encryption.rollback_source.stream_environment == "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
      && output.encryption.rollback_source.on_failure_bucket == "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
    )
    error_message = "The rollback pipeline encrypts its change log (source account) with the source key and its stream function and failure bucket (target account) with the target key."
  }

  assert {
    condition = (
      [for s in jsondecode(output.policy_documents["target_key.key_policy"]).Statement : s.Principal.AWS if s.Sid == "WriteObjectsThroughS3"] == [["arn:aws:iam::111111111111:role/orders-migration-stream-to-s3"]]
      && [for s in jsondecode(output.policy_documents["target_key.key_policy"]).Statement : s.Principal.AWS if s.Sid == "ExportTablesThroughS3"] == [["arn:aws:iam::111111111111:role/orders-migration-operator"]]
      && [for s in jsondecode(output.policy_documents["source_key.key_policy"]).Statement : s.Principal.AWS if s.Sid == "WriteObjectsThroughS3"] == [["arn:aws:iam::222222222222:role/orders-migration-rollback-stream-to-s3"]]
    )
    error_message = "Each key lets exactly the other account's stream role (and the exporter) write through S3."
  }
}

run "policy_audit_of_every_module" {
  command = plan

  module {
    source = "./tests/policy-audit"
  }

  variables {
    documents            = run.created_keys_encrypt_both_accounts_and_the_rollback_path.policy_documents
    key_policy_documents = ["target_key.key_policy", "source_key.key_policy"]
  }

  assert {
    condition     = output.violations == []
    error_message = "Policy audit: ${jsonencode(output.violations)}"
  }

  assert {
    condition     = nonsensitive(length(run.created_keys_encrypt_both_accounts_and_the_rollback_path.policy_documents)) == 24
    error_message = "Expected 24 documents (target 9, source 3, operator 2, keys 2, rollback target 5 and source 3), got ${nonsensitive(length(run.created_keys_encrypt_both_accounts_and_the_rollback_path.policy_documents))}."
  }
}

run "rejects_created_and_given_keys_together" {
  command = plan

  variables {
    create_kms_keys = true
    kms_key_arn     = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
  }

  override_resource {
    target          = module.target_key[0].aws_kms_key.this
    override_during = plan
    values = {
      arn = "arn:aws:kms:eu-central-1:222222222222:key/2222abcd-12ab-34cd-56ef-1234567890ab"
    }
  }

  override_resource {
    target          = module.source_key[0].aws_kms_key.this
    override_during = plan
    values = {
      arn = "arn:aws:kms:eu-west-1:111111111111:key/1111abcd-12ab-34cd-56ef-1234567890ab"
    }
  }

  expect_failures = [output.migration]
}
