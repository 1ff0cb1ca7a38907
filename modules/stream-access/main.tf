################################################################################
# Stream access (source account), for the direct transport: the source table's
# stream gets a resource-based policy that lets the target account's writer
# role read it, so modules/target (transport = "direct") can map its function
# onto the stream across accounts. Nothing else in the source account changes.
################################################################################

data "aws_partition" "current" {}

# The table is an input, never a managed resource: `terraform destroy` removes
# only the policy and leaves the table and its stream untouched.
data "aws_dynamodb_table" "source" {
  name = var.source_table_name
}

locals {
  partition     = data.aws_partition.current.partition
  stream_arn    = data.aws_dynamodb_table.source.stream_arn
  stream_ok     = data.aws_dynamodb_table.source.stream_enabled == true && data.aws_dynamodb_table.source.stream_view_type == "NEW_AND_OLD_IMAGES"
  table_account = split(":", data.aws_dynamodb_table.source.arn)[4]
  # Trusting the reader's ACCOUNT narrowed by aws:PrincipalArn (a string compared
  # at request time) lets this side be applied before the role exists, and a
  # re-created role keeps its access; the target account must still grant the
  # role the same actions in its own IAM policy.
  reader_accounts = distinct([for arn in var.reader_role_arns : split(":", arn)[4]])
}

resource "aws_dynamodb_resource_policy" "stream" {
  resource_arn = local.stream_arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DynamigrateReadStream"
        Effect    = "Allow"
        Principal = { AWS = [for account in local.reader_accounts : "arn:${local.partition}:iam::${account}:root"] }
        Action    = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
        Resource  = local.stream_arn
        Condition = {
          ArnEquals = { "aws:PrincipalArn" = var.reader_role_arns }
        }
      },
    ]
  })

  lifecycle {
    precondition {
      condition     = local.stream_ok
      error_message = "Table ${var.source_table_name} must have a DynamoDB stream with view type NEW_AND_OLD_IMAGES (the writer needs both images): aws dynamodb update-table --table-name ${var.source_table_name} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES"
    }
    precondition {
      condition     = local.table_account == var.source_account_id
      error_message = "The provider works in account ${local.table_account}, but source_account_id is ${var.source_account_id}: fix the provider's credentials or the input."
    }
  }
}
