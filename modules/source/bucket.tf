################################################################################
# On-failure bucket: the stream event source mapping's failure destination.
# An S3 destination receives the discarded batch itself; an SQS or SNS
# destination would only get shard iterators into a stream whose records
# expire after 24 hours.
################################################################################

resource "aws_s3_bucket" "on_failure" {
  #checkov:skip=CKV_AWS_144:Cross-region replication does not fit a short-lived failure store; the records can be replayed from here or re-copied from the source table.
  #checkov:skip=CKV2_AWS_62:Nothing consumes the failure store automatically; operators inspect and replay it with the dynamigrate CLI.
  count = local.create_on_failure_bucket ? 1 : 0

  bucket        = local.on_failure_bucket_name
  force_destroy = var.force_destroy

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(local.on_failure_bucket_name) <= 63
      error_message = "The on-failure bucket name \"${local.on_failure_bucket_name}\" is ${length(local.on_failure_bucket_name)} characters; S3 allows 63. Shorten name, set on_failure_bucket_name, or pass an existing bucket as on_failure_bucket_arn."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "on_failure" {
  count = local.create_on_failure_bucket ? 1 : 0

  bucket = aws_s3_bucket.on_failure[0].id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "on_failure" {
  count = local.create_on_failure_bucket ? 1 : 0

  bucket = aws_s3_bucket.on_failure[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "on_failure" {
  count = local.create_on_failure_bucket ? 1 : 0

  bucket = aws_s3_bucket.on_failure[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "on_failure" {
  count = local.create_on_failure_bucket ? 1 : 0

  bucket = aws_s3_bucket.on_failure[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.on_failure_bucket_use_kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.on_failure_bucket_kms_key_arn
    }
    bucket_key_enabled = local.on_failure_bucket_use_kms
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "on_failure" {
  count = local.create_on_failure_bucket ? 1 : 0

  bucket = aws_s3_bucket.on_failure[0].id

  rule {
    id     = "expire-failed-batches"
    status = "Enabled"

    filter {}

    expiration {
      days = var.on_failure_retention_in_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.on_failure_retention_in_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.on_failure]
}

resource "aws_s3_bucket_logging" "on_failure" {
  count = local.create_on_failure_bucket && var.access_logging != null ? 1 : 0

  bucket        = aws_s3_bucket.on_failure[0].id
  target_bucket = var.access_logging.target_bucket
  target_prefix = coalesce(var.access_logging.target_prefix, "${local.on_failure_bucket_name}/")
}

resource "aws_s3_bucket_policy" "on_failure" {
  count = local.create_on_failure_bucket ? 1 : 0

  bucket = aws_s3_bucket.on_failure[0].id
  policy = jsonencode(local.on_failure_bucket_policy)

  depends_on = [aws_s3_bucket_public_access_block.on_failure]
}

locals {
  on_failure_bucket_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.on_failure_bucket_arn, "${local.on_failure_bucket_arn}/*"]
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  }
}
