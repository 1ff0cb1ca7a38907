################################################################################
# Change bucket: the source account's stream function writes change-log
# objects here; every new object under changes/ notifies the change queue.
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication does not fit a transient change log; replay comes from the source table's stream and a fresh bulk copy.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(local.bucket_name) <= 63
      error_message = "The change bucket name \"${local.bucket_name}\" is ${length(local.bucket_name)} characters; S3 allows 63. Shorten name or set change_bucket_name."
    }
    precondition {
      condition     = local.table_account_id == var.target_account_id
      error_message = "The aws provider of the target side works in account ${local.table_account_id} (where it found table ${var.target_table_name}), but target_account_id is ${var.target_account_id}. Point that provider (profile or assume_role) at the target account, or fix target_account_id."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs disabled: objects written by the source account belong to this account.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.use_kms
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-change-log"
    status = "Enabled"

    filter {
      prefix = local.change_prefix
    }

    expiration {
      days = var.change_log_retention_in_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_in_days
    }
  }

  rule {
    id     = "expire-dead-letter"
    status = "Enabled"

    filter {
      prefix = local.dead_letter_prefix
    }

    expiration {
      days = var.dead_letter_retention_in_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_in_days
    }
  }

  rule {
    id     = "expire-exports"
    status = "Enabled"

    filter {
      prefix = local.export_prefix
    }

    expiration {
      days = var.export_load.retention_in_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_in_days
    }
  }

  rule {
    id     = "expire-export-load-reports"
    status = "Enabled"

    filter {
      prefix = local.load_prefix
    }

    expiration {
      days = var.export_load.retention_in_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_in_days
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_logging != null ? 1 : 0

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_logging.target_bucket
  target_prefix = coalesce(var.access_logging.target_prefix, "${local.bucket_name}/")
}

# Cross-account write access without a hard dependency on the source role.
#
# Naming the role itself as Principal makes S3 resolve it to the role's unique
# id when the policy is saved: the put fails with "Invalid principal" when the
# role does not exist yet (so the target account could not apply first), and a
# re-created role silently loses access. Instead the statement trusts the
# source ACCOUNT and narrows it with aws:PrincipalArn, a plain string compared
# at request time. The source account still has to grant s3:PutObject to the
# role in its own IAM policy, so both accounts must agree.
resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode(local.bucket_policy)

  depends_on = [aws_s3_bucket_public_access_block.this]
}

locals {
  # ExportTableToPointInTime writes with the credentials of the principal that
  # calls it (in the source account), as multipart uploads; S3BucketOwner on the
  # call makes DynamoDB check that this account owns the bucket.
  exporter_statements = length(var.export_load.exporter_principal_arns) == 0 ? [] : [
    {
      Sid       = "AllowSourceExportsToPointInTime"
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${var.source_account_id}:root" }
      Action    = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
      Resource  = "${local.bucket_arn}/${local.export_prefix}*"
      Condition = {
        ArnLike = { "aws:PrincipalArn" = var.export_load.exporter_principal_arns }
      }
    },
  ]

  bucket_policy = {
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
      ], local.s3_transport ? [
      {
        Sid       = "AllowSourceWriterPutChanges"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${var.source_account_id}:root" }
        Action    = "s3:PutObject"
        Resource  = "${local.bucket_arn}/${local.change_prefix}*"
        Condition = {
          ArnEquals = { "aws:PrincipalArn" = var.source_writer_role_arn }
        }
      },
    ] : [], local.exporter_statements)
  }
}

resource "aws_s3_bucket_notification" "this" {
  count = local.s3_transport ? 1 : 0

  bucket = aws_s3_bucket.this.id

  queue {
    id            = "dynamigrate-changes"
    queue_arn     = aws_sqs_queue.changes[0].arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = local.change_prefix
    filter_suffix = local.change_suffix
  }

  lifecycle {
    precondition {
      condition     = var.source_writer_role_arn != null
      error_message = "transport = \"s3\" needs source_writer_role_arn: the source account's stream-to-S3 role, the only principal allowed to put change objects."
    }
  }

  # S3 checks that it may send to the queue when the notification is saved.
  depends_on = [aws_sqs_queue_policy.changes]
}
