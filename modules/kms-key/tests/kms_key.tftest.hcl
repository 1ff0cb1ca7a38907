# Plan-only tests with a mocked AWS provider (offline).

mock_provider "aws" {
  override_during = plan
}

override_data {
  target = data.aws_partition.current
  values = {
    partition = "aws"
  }
}

override_data {
  target = data.aws_region.current
  values = {
    name = "eu-west-1"
  }
}

variables {
  name                        = "orders-migration"
  account_id                  = "222222222222"
  s3_writer_principal_arns    = ["arn:aws:iam::111111111111:role/orders-migration-stream-to-s3"]
  s3_exporter_principal_arns  = ["arn:aws:iam::111111111111:role/orders-migration-operator"]
  s3_notification_bucket_arns = ["arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1"]
}

run "key_rotates_and_has_an_alias" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.key_usage == "ENCRYPT_DECRYPT" && aws_kms_key.this.deletion_window_in_days == 30
    error_message = "A symmetric key with yearly rotation and the longest deletion window by default."
  }

  assert {
    condition     = aws_kms_alias.this.name == "alias/dynamigrate/orders-migration" && aws_kms_key.this.tags["dynamigrate:migration"] == "orders-migration"
    error_message = "The key is named alias/dynamigrate/<name> and tagged with the migration."
  }
}

run "other_account_writes_only_through_s3_as_the_named_roles" {
  command = plan

  assert {
    condition = [for s in jsondecode(aws_kms_key.this.policy).Statement : s if s.Sid == "WriteObjectsThroughS3"] == [{
      Sid       = "WriteObjectsThroughS3"
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::111111111111:role/orders-migration-stream-to-s3"] }
      Action    = "kms:GenerateDataKey"
      Resource  = "*"
      Condition = { StringEquals = { "kms:ViaService" = "s3.eu-west-1.amazonaws.com" } }
    }]
    error_message = "The stream function's role may only generate data keys, only when S3 asks for it."
  }

  assert {
    condition = [for s in jsondecode(aws_kms_key.this.policy).Statement : s if s.Sid == "ExportTablesThroughS3"] == [{
      Sid       = "ExportTablesThroughS3"
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::111111111111:role/orders-migration-operator"] }
      Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource  = "*"
      Condition = { StringEquals = { "kms:ViaService" = "s3.eu-west-1.amazonaws.com" } }
    }]
    error_message = "The exporter may write multipart uploads through S3 only."
  }

  assert {
    condition = [for s in jsondecode(aws_kms_key.this.policy).Statement : s if s.Sid == "S3NotifiesEncryptedQueues"] == [{
      Sid       = "S3NotifiesEncryptedQueues"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource  = "*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = "222222222222" }
        ArnLike      = { "aws:SourceArn" = ["arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1"] }
      }
    }]
    error_message = "S3 may use the key for notifications from the change bucket in this account only."
  }

  assert {
    condition = (
      [for s in jsondecode(aws_kms_key.this.policy).Statement : s.Principal.AWS if s.Sid == "AccountAdministersAndUsesKeyThroughIAM"] == ["arn:aws:iam::222222222222:root"]
      && contains([for s in jsondecode(aws_kms_key.this.policy).Statement : s.Action if s.Sid == "AccountAdministersAndUsesKeyThroughIAM"][0], "kms:PutKeyPolicy")
    )
    error_message = "The key's own account administers it (and can always change its policy)."
  }

  assert {
    condition     = output.policy_documents == { key_policy = aws_kms_key.this.policy }
    error_message = "policy_documents is the key policy."
  }
}

run "policy_audit" {
  command = plan

  module {
    source = "../../tests/policy-audit"
  }

  variables {
    documents            = run.other_account_writes_only_through_s3_as_the_named_roles.policy_documents
    key_policy_documents = ["key_policy"]
  }

  assert {
    condition     = output.violations == [] && output.statement_count == 4
    error_message = "Policy audit: ${jsonencode(output.violations)}"
  }
}

run "only_the_account_without_other_principals" {
  command = plan

  variables {
    s3_writer_principal_arns    = []
    s3_exporter_principal_arns  = []
    s3_notification_bucket_arns = []
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.this.policy).Statement : s.Sid] == ["AccountAdministersAndUsesKeyThroughIAM"]
    error_message = "No statement for principals that were not asked for."
  }
}

run "rejects_account_roots_and_wildcards_as_writers" {
  command = plan

  variables {
    s3_writer_principal_arns = ["arn:aws:iam::111111111111:root", "*"]
  }

  expect_failures = [var.s3_writer_principal_arns]
}

run "rejects_a_short_deletion_window" {
  command = plan

  variables {
    deletion_window_in_days = 3
  }

  expect_failures = [var.deletion_window_in_days]
}
