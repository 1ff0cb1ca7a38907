################################################################################
# Stream-to-S3 execution role: least privilege, exact resource ARNs, no
# wildcard actions. Its ARN is what the target's bucket policy trusts.
################################################################################

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "dynamigrate ${var.name}: execution role of the ${local.function_name} function"
  assume_role_policy   = jsonencode(local.trust_policy)
  permissions_boundary = var.role_permissions_boundary_arn

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.table_account_id == var.source_account_id
      error_message = "The aws provider of the source side works in account ${local.table_account_id} (where it found table ${var.source_table_name}), but source_account_id is ${var.source_account_id}. Point that provider (profile or assume_role) at the source account, or fix source_account_id."
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "dynamigrate-stream-to-s3"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy)
}

locals {
  # Only Lambda, on behalf of this very function in this account, may assume
  # the role (confused-deputy protection).
  trust_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "LambdaAssumeRole"
        Effect    = "Allow"
        Principal = { Service = "lambda.amazonaws.com" }
        Action    = "sts:AssumeRole"
        # Confused-deputy guard. aws:SourceAccount is always present when Lambda
        # assumes an execution role; aws:SourceArn is checked only when present
        # (IfExists), because Lambda does not document sending it for every
        # AssumeRole it makes (e.g. the validation at CreateFunction).
        Condition = {
          StringEquals    = { "aws:SourceAccount" = local.account_id }
          ArnLikeIfExists = { "aws:SourceArn" = local.function_arn }
        }
      },
    ]
  }

  policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "ReadSourceStream"
          Effect   = "Allow"
          Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
          Resource = local.stream_arn
        },
        # ListStreams is authorized against the stream resource type; AWS's own
        # stream-only policy example scopes it to the table's streams
        # (table/<name>/stream/*) rather than "*".
        {
          Sid      = "ListSourceStreams"
          Effect   = "Allow"
          Action   = "dynamodb:ListStreams"
          Resource = "${local.source_table_arn}/stream/*"
        },
        # Cross-account write: the target's bucket policy must also allow
        # this role (it does, by aws:PrincipalArn).
        {
          Sid      = "WriteChangeLog"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = "${local.change_bucket_arn}/${local.change_prefix}*"
        },
        # Lambda writes discarded batches to the on-failure bucket with the
        # function's role and needs both of these (AWS Lambda developer guide,
        # "Retaining records ... S3 destination").
        {
          Sid      = "WriteFailedBatches"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = "${local.on_failure_bucket_arn}/*"
        },
        {
          Sid      = "ListFailureBucket"
          Effect   = "Allow"
          Action   = "s3:ListBucket"
          Resource = local.on_failure_bucket_arn
        },
        {
          Sid      = "WriteOwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${local.log_group_arn}:*"
        },
      ],
      var.kms_key_arn != null ? [
        {
          Sid      = "EncryptChangeLog"
          Effect   = "Allow"
          Action   = ["kms:Encrypt", "kms:GenerateDataKey"]
          Resource = var.kms_key_arn
        },
      ] : [],
      var.lambda_kms_key_arn != null ? [
        {
          Sid      = "DecryptOwnEnvironment"
          Effect   = "Allow"
          Action   = "kms:Decrypt"
          Resource = var.lambda_kms_key_arn
        },
      ] : [],
      local.on_failure_bucket_use_kms ? [
        {
          Sid      = "EncryptFailedBatches"
          Effect   = "Allow"
          Action   = "kms:GenerateDataKey"
          Resource = var.on_failure_bucket_kms_key_arn
        },
      ] : [],
      # X-Ray has no resource-level permissions: "*" is the only valid
      # Resource for these two actions (the same as AWSXRayDaemonWriteAccess).
      var.tracing_mode == "Active" ? [
        {
          Sid      = "WriteTraces"
          Effect   = "Allow"
          Action   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
          Resource = "*"
        },
      ] : [],
    )
  }
}
