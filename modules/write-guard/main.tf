################################################################################
# Write guard on the OLD table of a rekey (step 3 of the seed): a function on
# the table's stream that counts and logs every write made after writes were
# declared moved to the new table, an alarm on that count, and optionally a
# resource policy that denies writes outright.
################################################################################

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

# The old table is an input, never a managed resource: `terraform destroy`
# removes the guard and leaves the table (and its stream) untouched.
data "aws_dynamodb_table" "guarded" {
  name = var.table_name
}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  tags = merge({ "dynamigrate:migration" = var.name }, var.tags)

  table_arn  = data.aws_dynamodb_table.guarded.arn
  stream_arn = data.aws_dynamodb_table.guarded.stream_arn
  stream_ok  = data.aws_dynamodb_table.guarded.stream_enabled == true

  function_name  = "${var.name}-write-guard"
  function_arn   = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}"
  role_name      = coalesce(var.role_name, "${var.name}-write-guard")
  log_group_name = "/aws/lambda/${local.function_name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  # Every way to change an item; TransactWriteItems and PartiQL are authorised per action.
  write_actions = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
  ]
}

################################################################################
# Function
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_in_days, default 30); the foreign-write count lives in the CloudWatch metric, the log keeps the keys for the weeks a retirement is watched.
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}

resource "aws_iam_role" "this" {
  name                 = local.role_name
  description          = "dynamigrate ${var.name}: execution role of the ${local.function_name} function"
  assume_role_policy   = jsonencode(local.trust_policy)
  permissions_boundary = var.role_permissions_boundary_arn

  tags = local.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "dynamigrate-write-guard"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy)
}

locals {
  trust_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "LambdaAssumeRole"
        Effect    = "Allow"
        Principal = { Service = "lambda.amazonaws.com" }
        Action    = "sts:AssumeRole"
        # Confused-deputy guard, as for the pipeline's functions (modules/source/iam.tf).
        Condition = {
          StringEquals    = { "aws:SourceAccount" = local.account_id }
          ArnLikeIfExists = { "aws:SourceArn" = local.function_arn }
        }
      },
    ]
  }

  # Read the one table's streams, write the one log group: nothing else; "*" only
  # for X-Ray, which has no resource-level permissions.
  policy = {
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "ReadGuardedStream"
        Effect   = "Allow"
        Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
        Resource = local.stream_arn
      },
      {
        # ListStreams is authorised against the stream resource type: scoped to this table's
        # streams, as in modules/source (AWS's own stream-only policy example does the same).
        Sid      = "ListGuardedStreams"
        Effect   = "Allow"
        Action   = ["dynamodb:ListStreams"]
        Resource = "${local.table_arn}/stream/*"
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${local.log_group_arn}:*"
      },
      ],
      var.lambda_kms_key_arn != null ? [
        {
          Sid      = "DecryptOwnEnvironment"
          Effect   = "Allow"
          Action   = "kms:Decrypt"
          Resource = var.lambda_kms_key_arn
        },
      ] : [],
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

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_117:The function only reads its stream through Lambda and writes logs; a VPC adds NAT or endpoint cost and no protection here.
  #checkov:skip=CKV_AWS_116:Invoked only by a DynamoDB stream event source mapping (retried and bisected there); a function DLQ applies to asynchronous invocations only.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this module; the package is built reproducibly by `make build` and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only a table name, a time and a migration name, no secrets; it is encrypted with lambda_kms_key_arn when set, else with Lambda's service key.
  function_name = local.function_name
  description   = "dynamigrate ${var.name}: counts writes to ${var.table_name} made after ${coalesce(var.writes_moved_at, "(not declared yet)")}"
  role          = aws_iam_role.this.arn
  kms_key_arn   = var.lambda_kms_key_arn

  handler       = "dynamigrate.handlers.write_guard.lambda_handler"
  runtime       = var.runtime
  architectures = var.architectures

  filename         = var.lambda_package_path
  source_code_hash = filebase64sha256(var.lambda_package_path)

  timeout                        = 30
  memory_size                    = 256
  reserved_concurrent_executions = var.reserved_concurrent_executions

  tracing_config {
    mode = var.tracing_mode
  }

  environment {
    variables = {
      GUARDED_TABLE_NAME           = var.table_name
      WRITES_MOVED_AT              = var.writes_moved_at == null ? "" : var.writes_moved_at
      MIGRATION_NAME               = var.name
      POWERTOOLS_SERVICE_NAME      = "dynamigrate-write-guard"
      POWERTOOLS_METRICS_NAMESPACE = "Dynamigrate"
      POWERTOOLS_LOG_LEVEL         = var.log_level
      LOG_LEVEL                    = var.log_level
    }
  }

  tags = local.tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn  = local.stream_arn
  function_name     = aws_lambda_function.this.arn
  enabled           = var.enabled
  starting_position = "LATEST"

  batch_size                         = 1000
  maximum_batching_window_in_seconds = 5
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = -1

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.stream_ok
      error_message = <<-EOT
        The guarded table "${var.table_name}" has no DynamoDB stream (stream_enabled = ${jsonencode(data.aws_dynamodb_table.guarded.stream_enabled)}). Any view type will do; enable one with
          aws dynamodb update-table --table-name ${var.table_name} --stream-specification StreamEnabled=true,StreamViewType=KEYS_ONLY
      EOT
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

################################################################################
# Alarms: a foreign write, and a guard that cannot see
################################################################################

resource "aws_cloudwatch_metric_alarm" "foreign_writes" {
  alarm_name          = "${var.name}-foreign-writes"
  alarm_description   = "Writes reached ${var.table_name} after they were declared moved (${coalesce(var.writes_moved_at, "not declared yet")}): the ${local.function_name} log names each key. dynamigrate retire-table refuses while this count is not zero for its quiet period."
  namespace           = "Dynamigrate"
  metric_name         = "ForeignWrites"
  dimensions          = { Migration = var.name, service = "dynamigrate-write-guard" } # Powertools adds service (POWERTOOLS_SERVICE_NAME)
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "guard_errors" {
  alarm_name          = "${var.name}-write-guard-errors"
  alarm_description   = "The write guard of ${var.table_name} fails: until it recovers, writes to the old table go uncounted."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = local.tags
}

################################################################################
# Optional: deny writes to the old table outright
################################################################################

resource "aws_dynamodb_resource_policy" "deny_writes" {
  count = var.deny_writes.enabled ? 1 : 0

  resource_arn = local.table_arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyWritesAfterTheMove"
        Effect    = "Deny"
        Principal = "*"
        Action    = local.write_actions
        Resource  = local.table_arn
        # Exempt principals (a break-glass role, the rollback writer) keep their own IAM permissions.
        Condition = length(var.deny_writes.exempt_principal_arns) == 0 ? null : {
          ArnNotLike = { "aws:PrincipalArn" = var.deny_writes.exempt_principal_arns }
        }
      },
    ]
  })
}
