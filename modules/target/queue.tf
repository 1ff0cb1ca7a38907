################################################################################
# Change queue: S3 notifications for new change-log objects, consumed by the
# writer through an event source mapping; messages the writer keeps failing
# on move to the dead-letter queue after writer.max_receive_count receives.
################################################################################

resource "aws_sqs_queue" "changes" {
  count = local.s3_transport ? 1 : 0

  name = local.queue_name

  visibility_timeout_seconds = local.queue_visibility_timeout_in_seconds
  message_retention_seconds  = var.queue_message_retention_in_seconds
  receive_wait_time_seconds  = 20

  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null

  tags = local.tags

  # Owned by aws_sqs_queue_redrive_policy.changes below.
  lifecycle {
    ignore_changes = [redrive_policy]
  }
}

resource "aws_sqs_queue" "dead_letter" {
  count = local.s3_transport ? 1 : 0

  name = local.dead_letter_queue_name

  message_retention_seconds = local.dead_letter_queue_message_retention_in_seconds

  sqs_managed_sse_enabled           = local.use_kms ? null : true
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.use_kms ? 300 : null

  tags = local.tags
}

# A separate resource rather than the queue's redrive_policy argument (as
# terraform-aws-modules/sqs does): it compares the policy as JSON, so an API
# that re-serialises it (e.g. moto, with spaces) does not cause a perpetual diff.
resource "aws_sqs_queue_redrive_policy" "changes" {
  count = local.s3_transport ? 1 : 0

  queue_url = aws_sqs_queue.changes[0].id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[0].arn
    maxReceiveCount     = var.writer.max_receive_count
  })
}

resource "aws_sqs_queue_policy" "changes" {
  count = local.s3_transport ? 1 : 0

  queue_url = aws_sqs_queue.changes[0].id
  policy    = jsonencode(local.queue_policy)
}

resource "aws_sqs_queue_policy" "dead_letter" {
  count = local.s3_transport ? 1 : 0

  queue_url = aws_sqs_queue.dead_letter[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = local.dead_letter_queue_arn
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  })
}

locals {
  queue_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowChangeBucketNotifications"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = local.queue_arn
        Condition = {
          ArnEquals    = { "aws:SourceArn" = local.bucket_arn }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = local.queue_arn
        Condition = {
          Bool = { "aws:SecureTransport" = "false" }
        }
      },
    ]
  }
}
