# Plan-only tests of the write guard with a mocked AWS provider (offline).
# Run `make build` first: the function's source_code_hash reads the zip.

mock_provider "aws" {
  override_during = plan
}

override_data {
  target = data.aws_region.current
  values = {
    name = "eu-west-1"
  }
}

override_data {
  target = data.aws_partition.current
  values = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

override_data {
  target = data.aws_caller_identity.current
  values = {
    account_id = "111111111111"
  }
}

override_data {
  target = data.aws_dynamodb_table.guarded
  values = {
    name             = "Summaries"
    arn              = "arn:aws:dynamodb:eu-west-1:111111111111:table/Summaries"
    stream_enabled   = true
    stream_view_type = "KEYS_ONLY"
    stream_arn       = "arn:aws:dynamodb:eu-west-1:111111111111:table/Summaries/stream/2024-01-01T00:00:00.000"
  }
}

override_resource {
  target          = aws_lambda_function.this
  override_during = plan
  values = {
    arn           = "arn:aws:lambda:eu-west-1:111111111111:function:articles-rekey-write-guard"
    function_name = "articles-rekey-write-guard"
  }
}

variables {
  name                = "articles-rekey"
  table_name          = "Summaries"
  writes_moved_at     = "2026-11-24T10:00:00Z"
  alarm_actions       = ["arn:aws:sns:eu-west-1:111111111111:platform-alerts"]
  lambda_package_path = "../../dist/dynamigrate-lambda.zip"
}

run "guard_reads_the_old_table_stream_with_the_declared_time" {
  command = plan

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.event_source_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/Summaries/stream/2024-01-01T00:00:00.000"
      && aws_lambda_event_source_mapping.this.starting_position == "LATEST"
      && aws_lambda_event_source_mapping.this.bisect_batch_on_function_error == true
      && aws_lambda_event_source_mapping.this.maximum_retry_attempts == -1
    )
    error_message = "The guard must read the old table's stream from now on, retrying failed batches until the records expire."
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      GUARDED_TABLE_NAME           = "Summaries"
      WRITES_MOVED_AT              = "2026-11-24T10:00:00Z"
      MIGRATION_NAME               = "articles-rekey"
      POWERTOOLS_SERVICE_NAME      = "dynamigrate-write-guard"
      POWERTOOLS_METRICS_NAMESPACE = "Dynamigrate"
      POWERTOOLS_LOG_LEVEL         = "INFO"
      LOG_LEVEL                    = "INFO"
    })
    error_message = "The guard's environment must match what dynamigrate.config.WriteGuardConfig reads."
  }

  assert {
    condition     = aws_lambda_function.this.handler == "dynamigrate.handlers.write_guard.lambda_handler"
    error_message = "The guard runs the package's write_guard handler."
  }
}

run "foreign_writes_alarm_notifies_the_given_topic" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.foreign_writes.namespace == "Dynamigrate"
      && aws_cloudwatch_metric_alarm.foreign_writes.metric_name == "ForeignWrites"
      && aws_cloudwatch_metric_alarm.foreign_writes.dimensions == tomap({ Migration = "articles-rekey", service = "dynamigrate-write-guard" })
      && aws_cloudwatch_metric_alarm.foreign_writes.threshold == 1
      && aws_cloudwatch_metric_alarm.foreign_writes.comparison_operator == "GreaterThanOrEqualToThreshold"
      && aws_cloudwatch_metric_alarm.foreign_writes.treat_missing_data == "notBreaching"
      && contains(aws_cloudwatch_metric_alarm.foreign_writes.alarm_actions, "arn:aws:sns:eu-west-1:111111111111:platform-alerts")
      && length(aws_cloudwatch_metric_alarm.foreign_writes.alarm_actions) == 1
    )
    error_message = "One foreign write in a minute must raise the alarm, to the given topic."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.guard_errors.metric_name == "Errors"
      && aws_cloudwatch_metric_alarm.guard_errors.dimensions == tomap({ FunctionName = "articles-rekey-write-guard" })
    )
    error_message = "A failing guard (blind to writes) must raise its own alarm."
  }
}

run "role_reads_one_stream_and_writes_one_log_group" {
  command = plan

  assert {
    condition = (
      jsondecode(aws_iam_role_policy.this.policy).Statement[0].Resource == "arn:aws:dynamodb:eu-west-1:111111111111:table/Summaries/stream/2024-01-01T00:00:00.000"
      && jsondecode(aws_iam_role_policy.this.policy).Statement[2].Resource == "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/articles-rekey-write-guard:*"
      && alltrue([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : alltrue([for a in s.Action : !endswith(a, "*")])])
      && length([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Resource == "*"]) == 0
      && jsondecode(aws_iam_role_policy.this.policy).Statement[1].Action == ["dynamodb:ListStreams"]
      && jsondecode(aws_iam_role_policy.this.policy).Statement[1].Resource == "arn:aws:dynamodb:eu-west-1:111111111111:table/Summaries/stream/*"
    )
    error_message = "The guard may read only the old table's streams and write only its own logs: no wildcard resource."
  }

  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "111111111111"
    error_message = "Only Lambda, for this account, may assume the guard's role."
  }
}

run "no_resource_policy_by_default" {
  command = plan

  assert {
    condition     = length(aws_dynamodb_resource_policy.deny_writes) == 0
    error_message = "Denying writes is opt-in."
  }
}

run "deny_writes_except_break_glass" {
  command = plan

  variables {
    deny_writes = {
      enabled               = true
      exempt_principal_arns = ["arn:aws:iam::111111111111:role/break-glass"]
    }
  }

  assert {
    condition = (
      aws_dynamodb_resource_policy.deny_writes[0].resource_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/Summaries"
      && jsondecode(aws_dynamodb_resource_policy.deny_writes[0].policy).Statement[0].Effect == "Deny"
      && jsondecode(aws_dynamodb_resource_policy.deny_writes[0].policy).Statement[0].Principal == "*"
      && contains(jsondecode(aws_dynamodb_resource_policy.deny_writes[0].policy).Statement[0].Action, "dynamodb:BatchWriteItem")
      && contains(jsondecode(aws_dynamodb_resource_policy.deny_writes[0].policy).Statement[0].Action, "dynamodb:PartiQLUpdate")
      && contains(jsondecode(aws_dynamodb_resource_policy.deny_writes[0].policy).Statement[0].Action, "dynamodb:GetItem") == false
      && jsondecode(aws_dynamodb_resource_policy.deny_writes[0].policy).Statement[0].Condition.ArnNotLike["aws:PrincipalArn"] == ["arn:aws:iam::111111111111:role/break-glass"]
    )
    error_message = "The policy must deny every item write (never reads) to everyone but the exempt principals."
  }
}

run "rejects_a_move_time_without_utc" {
  command = plan

  variables {
    writes_moved_at = "2026-11-24 10:00"
  }

  expect_failures = [var.writes_moved_at]
}

run "fails_when_the_old_table_has_no_stream" {
  command = plan

  override_data {
    target = data.aws_dynamodb_table.guarded
    values = {
      name           = "Summaries"
      arn            = "arn:aws:dynamodb:eu-west-1:111111111111:table/Summaries"
      stream_enabled = false
    }
  }

  expect_failures = [aws_lambda_event_source_mapping.this]
}

# Policy audit (tests/policy-audit) with every feature that adds statements on.
run "every_feature_on" {
  command = plan

  variables {
    tracing_mode       = "Active"
    lambda_kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/0000abcd-12ab-34cd-56ef-1234567890ab"
    deny_writes = {
      enabled               = true
      exempt_principal_arns = ["arn:aws:iam::111111111111:role/break-glass"]
    }
  }
}

run "policy_audit" {
  command = plan

  module {
    source = "../../tests/policy-audit"
  }

  variables {
    documents = run.every_feature_on.policy_documents
  }

  assert {
    condition     = output.violations == [] && length(run.every_feature_on.policy_documents) == 3
    error_message = "Policy audit: ${jsonencode(output.violations)}"
  }

  assert {
    condition = toset([for s in jsondecode(run.every_feature_on.policy_documents.role_policy).Statement : s.Sid]) == toset([
      "ReadGuardedStream", "ListGuardedStreams", "WriteOwnLogs", "DecryptOwnEnvironment", "WriteTraces",
    ])
    error_message = "With a Lambda key and Active tracing the guard's role must decrypt its environment and write traces."
  }
}

run "environment_encrypted_with_the_given_key" {
  command = plan

  variables {
    lambda_kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/0000abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = aws_lambda_function.this.kms_key_arn == "arn:aws:kms:eu-west-1:111111111111:key/0000abcd-12ab-34cd-56ef-1234567890ab"
    error_message = "The guard's environment must be encrypted with lambda_kms_key_arn."
  }
}
