locals {
  # Query and Scan also work on a table's indexes; streams are their own
  # resource type (table/<name>/stream/<label>).
  table_and_index_arns = flatten([for t in var.table_arns : [t, "${t}/index/*"]])
  table_stream_arns    = [for t in var.table_arns : "${t}/stream/*"]

  trust_conditions = merge(
    { StringEquals = { "sts:ExternalId" = var.external_id } },
    length(var.allowed_principal_arn_patterns) > 0 ? { ArnLike = { "aws:PrincipalArn" = var.allowed_principal_arn_patterns } } : {},
    var.require_mfa ? { Bool = { "aws:MultiFactorAuthPresent" = "true" } } : {},
  )

  trust_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AssumeWithExternalId"
        Effect    = "Allow"
        Principal = { AWS = var.trusted_principal_arns }
        Action    = "sts:AssumeRole"
        Condition = local.trust_conditions
      },
    ]
  }

  policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid    = "ReadTables"
          Effect = "Allow"
          Action = [
            "dynamodb:BatchGetItem",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:DescribeTable",
            "dynamodb:DescribeTimeToLive",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:Scan",
          ]
          Resource = local.table_and_index_arns
        },
        # Scoped to the tables' streams, as in AWS's stream-only policy example.
        {
          Sid      = "DescribeTableStreams"
          Effect   = "Allow"
          Action   = ["dynamodb:DescribeStream", "dynamodb:ListStreams"]
          Resource = local.table_stream_arns
        },
      ],
      var.allow_write ? [
        {
          Sid    = "WriteItems"
          Effect = "Allow"
          Action = [
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
          ]
          Resource = var.table_arns
        },
      ] : [],
      # Export to S3 reads the tables' point-in-time backups (no read capacity) and
      # writes with this role's credentials into the destination bucket, which
      # lives in the target account: its bucket policy must allow this role too
      # (the target module's export_load.exporter_principal_arns).
      var.export_destination != null ? [
        {
          Sid      = "ExportTables"
          Effect   = "Allow"
          Action   = "dynamodb:ExportTableToPointInTime"
          Resource = var.table_arns
        },
        {
          Sid      = "DescribeExports"
          Effect   = "Allow"
          Action   = "dynamodb:DescribeExport"
          Resource = [for t in var.table_arns : "${t}/export/*"]
        },
      ] : [],
      var.export_destination != null ? [
        {
          Sid      = "WriteExports"
          Effect   = "Allow"
          Action   = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
          Resource = "${var.export_destination.bucket_arn}/${trimsuffix(var.export_destination.prefix, "/")}/*"
          Condition = {
            StringEquals = { "s3:ResourceAccount" = var.export_destination.bucket_owner }
          }
        },
      ] : [],
      length(var.event_source_mapping_arns) > 0 ? [
        {
          Sid      = "PauseResumeReplication"
          Effect   = "Allow"
          Action   = ["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"]
          Resource = var.event_source_mapping_arns
        },
      ] : [],
    )
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = var.description
  assume_role_policy   = jsonencode(local.trust_policy)
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary_arn

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "dynamigrate-operator"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy)
}
