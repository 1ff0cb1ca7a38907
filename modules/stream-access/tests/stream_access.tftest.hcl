# Plan-only tests with a mocked AWS provider (offline).

mock_provider "aws" {
  override_during = plan
}

override_data {
  target = data.aws_partition.current
  values = {
    partition = "aws"
  }
}

override_data {
  target = data.aws_dynamodb_table.source
  values = {
    name             = "orders"
    arn              = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
    stream_enabled   = true
    stream_view_type = "NEW_AND_OLD_IMAGES"
    stream_arn       = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
  }
}

variables {
  source_account_id = "111111111111"
  source_table_name = "orders"
  reader_role_arns  = ["arn:aws:iam::222222222222:role/orders-migration-writer"]
}

run "only_the_writer_role_may_read_only_the_stream" {
  command = plan

  assert {
    condition     = aws_dynamodb_resource_policy.stream.resource_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
    error_message = "The policy belongs on the stream, not the table."
  }

  assert {
    condition = (
      jsondecode(aws_dynamodb_resource_policy.stream.policy).Statement[0].Effect == "Allow"
      && toset(jsondecode(aws_dynamodb_resource_policy.stream.policy).Statement[0].Action) == toset(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"])
      && jsondecode(aws_dynamodb_resource_policy.stream.policy).Statement[0].Resource == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
      && jsondecode(aws_dynamodb_resource_policy.stream.policy).Statement[0].Principal.AWS == ["arn:aws:iam::222222222222:root"]
      && jsondecode(aws_dynamodb_resource_policy.stream.policy).Statement[0].Condition.ArnEquals["aws:PrincipalArn"] == ["arn:aws:iam::222222222222:role/orders-migration-writer"]
    )
    error_message = "Read actions only, on the stream only, for the writer role only (its account narrowed by aws:PrincipalArn)."
  }

  assert {
    condition     = output.stream_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
    error_message = "The stream ARN is the output modules/target needs."
  }
}

run "fails_without_new_and_old_images" {
  command = plan

  override_data {
    target = data.aws_dynamodb_table.source
    values = {
      name             = "orders"
      arn              = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
      stream_enabled   = true
      stream_view_type = "KEYS_ONLY"
      stream_arn       = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
    }
  }

  expect_failures = [aws_dynamodb_resource_policy.stream]
}

run "rejects_wildcard_readers" {
  command = plan

  variables {
    reader_role_arns = ["arn:aws:iam::222222222222:role/*"]
  }

  expect_failures = [var.reader_role_arns]
}

run "policy_audit" {
  command = plan

  module {
    source = "../../tests/policy-audit"
  }

  variables {
    documents = run.only_the_writer_role_may_read_only_the_stream.policy_documents
  }

  assert {
    condition     = output.violations == [] && output.statement_count == 1
    error_message = "Policy audit: ${jsonencode(output.violations)}"
  }
}
