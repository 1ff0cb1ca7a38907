################################################################################
# Export load: a Step Functions Distributed Map runs the loader function over
# the data files of an Export to S3 (written into this account's change bucket
# under exports/), one data file per child execution. Prepare validates the
# export and lists its files; each file is loaded in as many calls as it
# needs (a call hands over before its time runs out); Summarize reconciles the
# counts and fails the execution unless every item is accounted for.
################################################################################

locals {
  export_load = var.export_load.enabled

  export_prefix = "exports/"
  load_prefix   = "export-loads/"

  loader_function_name  = "${var.name}-export-loader"
  loader_function_arn   = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.loader_function_name}"
  loader_role_name      = "${var.name}-export-loader"
  loader_log_group_name = "/aws/lambda/${local.loader_function_name}"
  loader_log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.loader_log_group_name}"

  state_machine_name           = "${var.name}-export-load"
  state_machine_arn            = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"
  state_machine_role_name      = "${var.name}-export-load"
  state_machine_log_group_name = "/aws/vendedlogs/states/${local.state_machine_name}"

  # Each concurrent loader gets an equal share of the write rate.
  loader_write_units = var.export_load.write_units_per_second == null ? 0 : floor(var.export_load.write_units_per_second / var.export_load.max_concurrency)

  # Lambda's own transient errors, retried with backoff. A loader call is
  # idempotent (the version rule makes a repeated copy a no-op), so a call that
  # timed out or lost its instance may run again.
  lambda_retry = [
    {
      ErrorEquals     = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "Lambda.Unknown", "Sandbox.Timedout", "States.Timeout"]
      IntervalSeconds = 2
      MaxAttempts     = 6
      BackoffRate     = 2
    },
    {
      # Writes that still failed after the loader's own retries (throttling, conflicts with live writes).
      ErrorEquals     = ["TransientLoadError"]
      IntervalSeconds = 15
      MaxAttempts     = 8
      BackoffRate     = 2
    },
  ]

  lambda_invoke = "arn:${local.partition}:states:::lambda:invoke"

  export_load_definition = {
    Comment = "dynamigrate ${var.name}: load an Export to S3 into ${var.target_table_name} through the version rule"
    StartAt = "Prepare"
    States = {
      Prepare = {
        Type     = "Task"
        Comment  = "Validate the export's manifests and list its data files for the map."
        Resource = local.lambda_invoke
        Parameters = {
          FunctionName = local.loader_function_arn
          Payload = {
            action         = "prepare"
            "export_arn.$" = "$.export_arn"
          }
        }
        OutputPath = "$.Payload"
        Retry      = slice(local.lambda_retry, 0, 1)
        Next       = "LoadFiles"
      }
      LoadFiles = {
        Type = "Map"
        ItemReader = {
          Resource     = "arn:${local.partition}:states:::s3:getObject"
          ReaderConfig = { InputType = "JSON" }
          Parameters = {
            "Bucket.$" = "$.bucket"
            "Key.$"    = "$.files_key"
          }
        }
        ItemSelector = {
          action         = "load"
          "export_id.$"  = "$.export_id"
          "key.$"        = "$$.Map.Item.Value.key"
          "item_count.$" = "$$.Map.Item.Value.item_count"
          next_item      = 0
        }
        MaxConcurrency = var.export_load.max_concurrency
        ItemProcessor = {
          ProcessorConfig = { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }
          StartAt         = "LoadFile"
          States = {
            LoadFile = {
              Type     = "Task"
              Resource = local.lambda_invoke
              Parameters = {
                FunctionName = local.loader_function_arn
                "Payload.$"  = "$"
              }
              OutputPath = "$.Payload"
              Retry      = local.lambda_retry
              Next       = "FileDone"
            }
            FileDone = {
              Type    = "Choice"
              Choices = [{ Variable = "$.done", BooleanEquals = false, Next = "LoadFile" }]
              Default = "FileLoaded"
            }
            # Each file's counts are in S3 (export-loads/<export id>/files/); the
            # map collects nothing, so no result outgrows Step Functions' limits.
            FileLoaded = {
              Type       = "Succeed"
              OutputPath = null
            }
          }
        }
        ResultPath = null
        Next       = "Summarize"
      }
      Summarize = {
        Type     = "Task"
        Comment  = "Add the files' counts up; fail unless read = written + skipped = the export's item count and nothing was parked."
        Resource = local.lambda_invoke
        Parameters = {
          FunctionName = local.loader_function_arn
          Payload = {
            action         = "summarize"
            "export_arn.$" = "$.export_arn"
            "export_id.$"  = "$.export_id"
            "item_count.$" = "$.item_count"
            "file_count.$" = "$.file_count"
          }
        }
        OutputPath = "$.Payload"
        Retry      = slice(local.lambda_retry, 0, 1)
        End        = true
      }
    }
  }
}

################################################################################
# Loader function
################################################################################

resource "aws_cloudwatch_log_group" "loader" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_in_days, default 30), as for the writer.
  count = local.export_load ? 1 : 0

  name              = local.loader_log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "loader" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (S3, DynamoDB); a VPC adds NAT or endpoint cost and no protection here.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions only, which retries and records failures in the execution history; a function DLQ applies to asynchronous invocations only.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile outside this module; the package is built reproducibly by `make build` and pinned by source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names and tuning values, no secrets; it is encrypted with kms_key_arn when set (create_kms_keys at the root sets it), else with Lambda's service key.
  count = local.export_load ? 1 : 0

  function_name = local.loader_function_name
  description   = "dynamigrate ${var.name}: loads Export to S3 data files into ${var.target_table_name}"
  role          = aws_iam_role.loader[0].arn
  kms_key_arn   = var.kms_key_arn

  handler       = "dynamigrate.handlers.export_to_table.lambda_handler"
  runtime       = var.runtime
  architectures = var.architectures

  filename         = var.lambda_package_path
  source_code_hash = filebase64sha256(var.lambda_package_path)

  timeout                        = var.export_load.timeout_in_seconds
  memory_size                    = var.export_load.memory_size
  reserved_concurrent_executions = var.export_load.reserved_concurrent_executions

  tracing_config {
    mode = var.tracing_mode
  }

  environment {
    variables = merge(local.version_rule_environment, {
      EXPORT_BUCKET_NAME      = local.bucket_name
      EXPORT_PREFIX           = local.export_prefix
      LOAD_PREFIX             = local.load_prefix
      LOADER_THREADS          = tostring(var.export_load.threads)
      WRITE_UNITS_PER_SECOND  = tostring(local.loader_write_units)
      POWERTOOLS_SERVICE_NAME = "dynamigrate-export-loader"
    })
  }

  tags = local.tags

  depends_on = [
    aws_cloudwatch_log_group.loader,
    aws_iam_role_policy.loader,
    aws_dynamodb_table.ledger,
  ]
}

################################################################################
# State machine
################################################################################

resource "aws_cloudwatch_log_group" "export_load" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_in_days, default 30), as for the functions.
  count = local.export_load ? 1 : 0

  name              = local.state_machine_log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}

resource "aws_sfn_state_machine" "export_load" {
  count = local.export_load ? 1 : 0

  name       = local.state_machine_name
  role_arn   = aws_iam_role.export_load[0].arn
  definition = jsonencode(local.export_load_definition)
  type       = "STANDARD"

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.export_load[0].arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = var.tracing_mode == "Active"
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.export_load]
}

################################################################################
# Roles
################################################################################

resource "aws_iam_role" "loader" {
  count = local.export_load ? 1 : 0

  name                 = local.loader_role_name
  description          = "dynamigrate ${var.name}: execution role of the ${local.loader_function_name} function"
  assume_role_policy   = jsonencode(local.lambda_trust_policies.loader)
  permissions_boundary = var.role_permissions_boundary_arn

  tags = local.tags
}

resource "aws_iam_role_policy" "loader" {
  count = local.export_load ? 1 : 0

  name   = "dynamigrate-export-loader"
  role   = aws_iam_role.loader[0].id
  policy = jsonencode(local.loader_policy)
}

resource "aws_iam_role" "export_load" {
  count = local.export_load ? 1 : 0

  name                 = local.state_machine_role_name
  description          = "dynamigrate ${var.name}: execution role of the ${local.state_machine_name} state machine"
  assume_role_policy   = jsonencode(local.export_load_trust_policy)
  permissions_boundary = var.role_permissions_boundary_arn

  tags = local.tags
}

resource "aws_iam_role_policy" "export_load" {
  count = local.export_load ? 1 : 0

  name   = "dynamigrate-export-load"
  role   = aws_iam_role.export_load[0].id
  policy = jsonencode(local.export_load_policy)
}

locals {
  export_load_trust_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "StatesAssumeRole"
        Effect    = "Allow"
        Principal = { Service = "states.amazonaws.com" }
        Action    = "sts:AssumeRole"
        # Confused-deputy guard: only Step Functions acting for this account and
        # for this state machine. The Distributed Map's child executions assume the
        # role too, and AWS does not document the ARN they present, so the ARN
        # condition lists the state machine, its executions and map runs, and
        # applies when the ARN is present (IfExists).
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLikeIfExists = {
            "aws:SourceArn" = [
              local.state_machine_arn,
              "${local.state_machine_arn}:*",
              "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}:*",
              "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}/*",
              "arn:${local.partition}:states:${local.region}:${local.account_id}:mapRun:${local.state_machine_name}/*",
            ]
          }
        }
      },
    ]
  }

  kms_statements = local.use_kms ? [
    {
      Sid      = "UseMigrationKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    },
  ] : []

  # X-Ray has no resource-level permissions: "*" is the only valid Resource.
  xray_statements = var.tracing_mode == "Active" ? [
    {
      Sid      = "WriteTraces"
      Effect   = "Allow"
      Action   = ["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      Resource = "*"
    },
  ] : []

  loader_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          # A copy is a ledger ConditionCheck plus a conditional Put, in one transaction.
          Sid      = "CopyIntoTargetThroughLedger"
          Effect   = "Allow"
          Action   = ["dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:PutItem"]
          Resource = [local.target_table_arn, local.ledger_table_arn]
        },
        {
          Sid      = "ReadExports"
          Effect   = "Allow"
          Action   = "s3:GetObject"
          Resource = "${local.bucket_arn}/${local.export_prefix}*"
        },
        {
          Sid      = "WriteLoadReports"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:PutObject"]
          Resource = "${local.bucket_arn}/${local.load_prefix}*"
        },
        {
          Sid      = "ListLoadReports"
          Effect   = "Allow"
          Action   = "s3:ListBucket"
          Resource = local.bucket_arn
          Condition = {
            StringLike = { "s3:prefix" = "${local.load_prefix}*" }
          }
        },
        {
          Sid      = "ParkRefusedItems"
          Effect   = "Allow"
          Action   = "s3:PutObject"
          Resource = "${local.bucket_arn}/${local.dead_letter_prefix}export-loads/*"
        },
        {
          Sid      = "WriteOwnLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = "${local.loader_log_group_arn}:*"
        },
      ],
      local.kms_statements,
      local.xray_statements,
    )
  }

  export_load_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "InvokeLoader"
          Effect   = "Allow"
          Action   = "lambda:InvokeFunction"
          Resource = [local.loader_function_arn, "${local.loader_function_arn}:*"]
        },
        {
          # The map's ItemReader reads the file list Prepare wrote.
          Sid      = "ReadFileList"
          Effect   = "Allow"
          Action   = "s3:GetObject"
          Resource = "${local.bucket_arn}/${local.load_prefix}*"
        },
        {
          # A Distributed Map runs each item as a child execution of this state machine.
          Sid      = "RunMapChildExecutions"
          Effect   = "Allow"
          Action   = "states:StartExecution"
          Resource = local.state_machine_arn
        },
        {
          Sid      = "ManageMapChildExecutions"
          Effect   = "Allow"
          Action   = ["states:DescribeExecution", "states:StopExecution"]
          Resource = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}/*"
        },
        {
          # Log delivery for Step Functions is set up through CloudWatch Logs'
          # vended-logs APIs, which have no resource-level permissions: "*" is
          # the only valid Resource (AWS's documented policy for state machine logging).
          Sid    = "DeliverExecutionLogs"
          Effect = "Allow"
          Action = [
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:DescribeLogGroups",
            "logs:DescribeResourcePolicies",
            "logs:GetLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:UpdateLogDelivery",
          ]
          Resource = "*"
        },
      ],
      local.use_kms ? [
        {
          Sid      = "UseMigrationKey"
          Effect   = "Allow"
          Action   = "kms:Decrypt"
          Resource = var.kms_key_arn
        },
      ] : [],
      local.xray_statements,
    )
  }
}
