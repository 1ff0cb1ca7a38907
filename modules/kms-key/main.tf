################################################################################
# A customer managed key for one account's side of a migration, usable from the
# other account only by the exact roles named, and only through S3.
#
#   this account's root    administers and uses the key through IAM (as a key
#                          made in the console), so the account's own roles
#                          (the writer, Lambda for the environment, DynamoDB for
#                          the ledger, SQS for the queues) get it from IAM.
#   s3_writer_principals   kms:GenerateDataKey via S3: PutObject with SSE-KMS
#   s3_exporter_principals kms:GenerateDataKey, kms:Decrypt via S3 (multipart)
#   s3.amazonaws.com       kms:GenerateDataKey, kms:Decrypt for notifications
#                          into encrypted queues, from the named buckets only
#
# Other accounts must name the key by its full ARN: S3 resolves an alias or a
# key ID in the caller's account.
################################################################################

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  root_arn  = "arn:${local.partition}:iam::${var.account_id}:root"
  via_s3    = "s3.${local.region}.amazonaws.com"

  tags = merge({ "dynamigrate:migration" = var.name }, var.tags)

  # A key policy's Resource is always "*": the policy is attached to the key, so
  # "*" means this key and nothing else (AWS KMS developer guide, "Key policies").
  key_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          # AWS's default key policy grants kms:* to the account; this lists the
          # actions instead. PutKeyPolicy stays with the account, so the key can
          # never become unmanageable.
          Sid       = "AccountAdministersAndUsesKeyThroughIAM"
          Effect    = "Allow"
          Principal = { AWS = local.root_arn }
          Action = [
            "kms:CancelKeyDeletion",
            "kms:CreateAlias",
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DeleteAlias",
            "kms:DescribeKey",
            "kms:DisableKey",
            "kms:DisableKeyRotation",
            "kms:EnableKey",
            "kms:EnableKeyRotation",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "kms:ListGrants",
            "kms:ListKeyPolicies",
            "kms:ListKeyRotations",
            "kms:ListResourceTags",
            "kms:PutKeyPolicy",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
            "kms:RetireGrant",
            "kms:RevokeGrant",
            "kms:RotateKeyOnDemand",
            "kms:ScheduleKeyDeletion",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:UpdateAlias",
            "kms:UpdateKeyDescription",
          ]
          Resource = "*"
        },
      ],
      length(var.s3_writer_principal_arns) > 0 ? [
        {
          Sid       = "WriteObjectsThroughS3"
          Effect    = "Allow"
          Principal = { AWS = var.s3_writer_principal_arns }
          Action    = "kms:GenerateDataKey"
          Resource  = "*"
          Condition = { StringEquals = { "kms:ViaService" = local.via_s3 } }
        },
      ] : [],
      length(var.s3_exporter_principal_arns) > 0 ? [
        {
          Sid       = "ExportTablesThroughS3"
          Effect    = "Allow"
          Principal = { AWS = var.s3_exporter_principal_arns }
          Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource  = "*"
          Condition = { StringEquals = { "kms:ViaService" = local.via_s3 } }
        },
      ] : [],
      length(var.s3_notification_bucket_arns) > 0 ? [
        {
          Sid       = "S3NotifiesEncryptedQueues"
          Effect    = "Allow"
          Principal = { Service = "s3.amazonaws.com" }
          Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource  = "*"
          Condition = {
            StringEquals = { "aws:SourceAccount" = var.account_id }
            ArnLike      = { "aws:SourceArn" = var.s3_notification_bucket_arns }
          }
        },
      ] : [],
    )
  }
}

resource "aws_kms_key" "this" {
  description             = coalesce(var.description, "dynamigrate ${var.name}: change log, queues, ledger and function environments")
  key_usage               = "ENCRYPT_DECRYPT"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = jsonencode(local.key_policy)

  tags = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/dynamigrate/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
