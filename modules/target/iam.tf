################################################################################
# Writer execution role: least privilege, exact resource ARNs, no wildcard
# actions.
################################################################################

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "dynamigrate ${var.name}: execution role of the ${local.function_name} function"
  assume_role_policy   = jsonencode(local.lambda_trust_policies.writer)
  permissions_boundary = var.role_permissions_boundary_arn

  tags = local.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "dynamigrate-writer"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.writer_policy)
}

locals {
  # Only Lambda, on behalf of the very function in this account, may assume
  # each function's role (confused-deputy protection): the writer's and the
  # export loader's.
  lambda_trust_policies = {
    for role, function_arn in { writer = local.function_arn, loader = local.loader_function_arn } : role => {
      Version                          = "2012-10-17"
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
            ArnLikeIfExists = { "aws:SourceArn" = function_arn }
          }
        },
      ]
    }
  }

  writer_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid    = "ApplyChangesToTargetAndLedger"
          Effect = "Allow"
          Action = [
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:DescribeTable",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
          ]
          Resource = [local.target_table_arn, local.ledger_table_arn]
        },
        {
          Sid      = "WriteDeadLetters"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = "${local.bucket_arn}/${local.dead_letter_prefix}*"
        },
        {
          Sid      = "WriteOwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${local.log_group_arn}:*"
        },
      ],
      local.s3_transport ? [
        {
          Sid      = "ReadChangeLog"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:GetObjectVersion"]
          Resource = "${local.bucket_arn}/${local.change_prefix}*"
        },
        {
          Sid    = "ConsumeChangeQueue"
          Effect = "Allow"
          Action = [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
          ]
          Resource = local.queue_arn
        },
        ] : [
        {
          # The stream's resource policy (modules/stream-access) must allow the same.
          Sid      = "ReadSourceStream"
          Effect   = "Allow"
          Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
          Resource = var.source_stream_arn
        },
        {
          Sid      = "ListSourceStreams"
          Effect   = "Allow"
          Action   = ["dynamodb:ListStreams"]
          Resource = "${local.source_table_arn}/stream/*"
        },
        {
          Sid      = "WriteFailedStreamBatches"
          Effect   = "Allow"
          Action   = ["s3:PutObject"]
          Resource = "${local.bucket_arn}/${local.direct_failure_prefix}*"
        },
      ],
      local.use_kms ? [
        {
          Sid      = "UseMigrationKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = var.kms_key_arn
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
