# Plan-only tests of the source module with a mocked AWS provider (offline).
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
  target = data.aws_dynamodb_table.source
  values = {
    name             = "orders"
    arn              = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
    stream_enabled   = true
    stream_view_type = "NEW_AND_OLD_IMAGES"
    stream_arn       = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
  }
}

override_resource {
  target          = aws_lambda_function.this
  override_during = plan
  values = {
    arn = "arn:aws:lambda:eu-west-1:111111111111:function:orders-migration-stream-to-s3"
  }
}

variables {
  name                = "orders-migration"
  source_account_id   = "111111111111"
  target_account_id   = "222222222222"
  source_table_name   = "orders"
  change_bucket_name  = "orders-migration-changes-222222222222-eu-west-1"
  lambda_package_path = "../../dist/dynamigrate-lambda.zip"
}

################################################################################
# Defaults
################################################################################

run "stream_event_source_mapping" {
  command = plan

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.event_source_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
      && aws_lambda_event_source_mapping.this.function_name == "arn:aws:lambda:eu-west-1:111111111111:function:orders-migration-stream-to-s3"
      && aws_lambda_event_source_mapping.this.starting_position == "TRIM_HORIZON"
      && aws_lambda_event_source_mapping.this.batch_size == 1000
      && aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 1
      && aws_lambda_event_source_mapping.this.parallelization_factor == 1
      && aws_lambda_event_source_mapping.this.bisect_batch_on_function_error == true
      && aws_lambda_event_source_mapping.this.maximum_retry_attempts == 10
      && aws_lambda_event_source_mapping.this.enabled == true
      && aws_lambda_event_source_mapping.this.maximum_record_age_in_seconds == -1
    )
    error_message = "Stream event source mapping settings are wrong."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "The function must report partial batch failures."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.destination_config[0].on_failure[0].destination_arn == "arn:aws:s3:::orders-migration-stream-failures-111111111111-eu-west-1"
    error_message = "Discarded batches must go to the created S3 on-failure bucket."
  }
}

run "stream_function" {
  command = plan

  assert {
    condition = (
      aws_lambda_function.this.function_name == "orders-migration-stream-to-s3"
      && aws_lambda_function.this.handler == "dynamigrate.handlers.stream_to_s3.lambda_handler"
      && aws_lambda_function.this.runtime == "python3.12"
      && aws_lambda_function.this.architectures == tolist(["x86_64"])
      && aws_lambda_function.this.timeout == 60
      && aws_lambda_function.this.memory_size == 256
      && aws_lambda_function.this.tracing_config[0].mode == "PassThrough"
      && aws_lambda_function.this.source_code_hash == filebase64sha256("../../dist/dynamigrate-lambda.zip")
    )
    error_message = "Stream function settings are wrong."
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      CHANGE_BUCKET_NAME           = "orders-migration-changes-222222222222-eu-west-1"
      CHANGE_BUCKET_OWNER          = "222222222222"
      CHANGE_PREFIX                = "changes/"
      SOURCE_TABLE_NAME            = "orders"
      KMS_KEY_ARN                  = ""
      MIGRATION_NAME               = "orders-migration"
      POWERTOOLS_SERVICE_NAME      = "dynamigrate-stream-to-s3"
      POWERTOOLS_METRICS_NAMESPACE = "Dynamigrate"
      POWERTOOLS_LOG_LEVEL         = "INFO"
      LOG_LEVEL                    = "INFO"
    })
    error_message = "The function's environment must match what the Python package reads."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/orders-migration-stream-to-s3" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The log group must be /aws/lambda/<function> with 30 days retention."
  }

  assert {
    condition     = aws_iam_role.this.name == "orders-migration-stream-to-s3"
    error_message = "The role must be named <name>-stream-to-s3 (the ARN the target bucket policy trusts)."
  }
}

run "on_failure_bucket_is_private_versioned_encrypted" {
  command = plan

  assert {
    condition     = aws_s3_bucket.on_failure[0].bucket == "orders-migration-stream-failures-111111111111-eu-west-1"
    error_message = "The failure bucket must be named <name>-stream-failures-<source account>-<region>."
  }

  assert {
    condition     = aws_s3_bucket_versioning.on_failure[0].versioning_configuration[0].status == "Enabled"
    error_message = "The failure bucket must be versioned."
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.on_failure[0].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "The failure bucket must be encrypted (SSE-S3 by default)."
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.on_failure[0].block_public_acls,
      aws_s3_bucket_public_access_block.on_failure[0].block_public_policy,
      aws_s3_bucket_public_access_block.on_failure[0].ignore_public_acls,
      aws_s3_bucket_public_access_block.on_failure[0].restrict_public_buckets,
    ])
    error_message = "All four public access block settings must be true."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.on_failure[0].rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "Object ownership must be BucketOwnerEnforced."
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.on_failure[0].rule[0].expiration[0].days == 90
      && aws_s3_bucket_lifecycle_configuration.on_failure[0].rule[0].noncurrent_version_expiration[0].noncurrent_days == 90
      && aws_s3_bucket_lifecycle_configuration.on_failure[0].rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    )
    error_message = "Failed batches must expire after 90 days."
  }

  assert {
    condition = jsondecode(aws_s3_bucket_policy.on_failure[0].policy).Statement == [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource = [
        "arn:aws:s3:::orders-migration-stream-failures-111111111111-eu-west-1",
        "arn:aws:s3:::orders-migration-stream-failures-111111111111-eu-west-1/*",
      ]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
    error_message = "The failure bucket policy must deny every request without TLS."
  }
}

run "role_is_least_privilege" {
  command = plan

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Sid       = "LambdaAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals    = { "aws:SourceAccount" = "111111111111" }
        ArnLikeIfExists = { "aws:SourceArn" = "arn:aws:lambda:eu-west-1:111111111111:function:orders-migration-stream-to-s3" }
      }
    }]
    error_message = "Only Lambda, for this function in the source account, may assume the role."
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for a in flatten([s.Action]) : !strcontains(a, "*")
      ]
    ]))
    error_message = "No action in the role policy may contain a wildcard."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource])) == toset([
      "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000",
      "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/*",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/changes/*",
      "arn:aws:s3:::orders-migration-stream-failures-111111111111-eu-west-1/*",
      "arn:aws:s3:::orders-migration-stream-failures-111111111111-eu-west-1",
      "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/lambda/orders-migration-stream-to-s3:*",
    ])
    error_message = "The role policy must name exactly the stream, the table's streams, changes/* in the change bucket, the failure bucket and the log group."
  }

  assert {
    condition = [
      for r in flatten([
        for s in jsondecode(aws_iam_role_policy.this.policy).Statement : flatten([s.Resource]) if contains(flatten([s.Action]), "s3:PutObject")
      ]) : r if startswith(r, "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1")
    ] == ["arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/changes/*"]
    error_message = "In the target's change bucket the role may only PutObject under changes/."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : flatten([s.Action]) if contains(flatten([s.Resource]), "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/changes/*")
    ])) == toset(["s3:PutObject"])
    error_message = "The only action on the change bucket must be s3:PutObject."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : flatten([s.Action]) if startswith(s.Sid, "ReadSourceStream") || startswith(s.Sid, "ListSourceStreams")
    ])) == toset(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"])
    error_message = "The role must read the stream with exactly DescribeStream, GetRecords, GetShardIterator and ListStreams."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      try(s.Action == "s3:ListBucket" && s.Resource == "arn:aws:s3:::orders-migration-stream-failures-111111111111-eu-west-1", false)
    ])
    error_message = "Lambda needs s3:ListBucket on the on-failure bucket for an S3 destination."
  }
}

################################################################################
# Options
################################################################################

run "existing_failure_bucket_and_kms" {
  command = plan

  variables {
    on_failure_bucket_arn         = "arn:aws:s3:::central-failures"
    on_failure_bucket_kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/aaaa-bbbb"
    kms_key_arn                   = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = length(aws_s3_bucket.on_failure) == 0 && length(aws_s3_bucket_policy.on_failure) == 0
    error_message = "No failure bucket is created when on_failure_bucket_arn is given."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.destination_config[0].on_failure[0].destination_arn == "arn:aws:s3:::central-failures"
    error_message = "The given failure bucket must be the destination."
  }

  assert {
    condition     = output.on_failure_bucket_name == "central-failures" && output.on_failure_bucket_arn == "arn:aws:s3:::central-failures"
    error_message = "Outputs must name the given failure bucket."
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables.KMS_KEY_ARN == var.kms_key_arn
    error_message = "KMS_KEY_ARN must carry kms_key_arn."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      try(s.Resource == var.kms_key_arn && toset(s.Action) == toset(["kms:Encrypt", "kms:GenerateDataKey"]), false)
    ])
    error_message = "The role must encrypt with exactly the change bucket's key."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      try(s.Resource == var.on_failure_bucket_kms_key_arn && s.Action == "kms:GenerateDataKey", false)
    ])
    error_message = "The role must generate data keys with the failure bucket's key."
  }
}

run "custom_stream_settings_flow_through" {
  command = plan

  variables {
    role_name    = "custom-writer-role"
    log_level    = "DEBUG"
    tracing_mode = "Active"
    stream = {
      batch_size                         = 100
      maximum_batching_window_in_seconds = 0
      parallelization_factor             = 4
      bisect_batch_on_function_error     = false
      maximum_retry_attempts             = -1
      maximum_record_age_in_seconds      = 3600
      starting_position                  = "LATEST"
      enabled                            = false
      timeout_in_seconds                 = 300
      memory_size                        = 1024
      reserved_concurrent_executions     = 20
    }
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this.batch_size == 100
      && aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 0
      && aws_lambda_event_source_mapping.this.parallelization_factor == 4
      && aws_lambda_event_source_mapping.this.bisect_batch_on_function_error == false
      && aws_lambda_event_source_mapping.this.maximum_record_age_in_seconds == 3600
      && aws_lambda_event_source_mapping.this.starting_position == "LATEST"
      && aws_lambda_event_source_mapping.this.enabled == false
      && aws_lambda_event_source_mapping.this.maximum_retry_attempts == -1
    )
    error_message = "stream settings must reach the event source mapping."
  }

  assert {
    condition = (
      aws_lambda_function.this.timeout == 300 && aws_lambda_function.this.memory_size == 1024
      && aws_lambda_function.this.reserved_concurrent_executions == 20
      && aws_lambda_function.this.environment[0].variables.LOG_LEVEL == "DEBUG"
    )
    error_message = "stream settings must reach the function."
  }

  assert {
    condition     = aws_iam_role.this.name == "custom-writer-role"
    error_message = "role_name must name the role."
  }
}

################################################################################
# Stream precondition
################################################################################

run "fails_when_stream_disabled" {
  command = plan

  override_data {
    target = data.aws_dynamodb_table.source
    values = {
      name             = "orders"
      arn              = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
      stream_enabled   = false
      stream_view_type = ""
      stream_arn       = ""
    }
  }

  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "fails_when_stream_is_keys_only" {
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

  expect_failures = [aws_lambda_event_source_mapping.this]
}

run "fails_when_stream_is_new_image_only" {
  command = plan

  override_data {
    target = data.aws_dynamodb_table.source
    values = {
      name             = "orders"
      arn              = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"
      stream_enabled   = true
      stream_view_type = "NEW_IMAGE"
      stream_arn       = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
    }
  }

  expect_failures = [aws_lambda_event_source_mapping.this]
}

################################################################################
# Validation
################################################################################

run "rejects_bad_name" {
  command = plan

  variables {
    name = "-orders"
  }

  expect_failures = [var.name]
}

run "rejects_bad_account_ids" {
  command = plan

  variables {
    source_account_id = "1111111111111"
    target_account_id = "abc"
  }

  expect_failures = [var.source_account_id, var.target_account_id]
}

run "rejects_bad_starting_position" {
  command = plan

  variables {
    stream = { starting_position = "AT_TIMESTAMP" }
  }

  expect_failures = [var.stream]
}

run "rejects_batch_size_out_of_range" {
  command = plan

  variables {
    stream = { batch_size = 10001 }
  }

  expect_failures = [var.stream]
}

run "rejects_bad_record_age" {
  command = plan

  variables {
    stream = { maximum_record_age_in_seconds = 30 }
  }

  expect_failures = [var.stream]
}

run "rejects_bad_retries_and_parallelization" {
  command = plan

  variables {
    stream = { maximum_retry_attempts = -2, parallelization_factor = 11 }
  }

  expect_failures = [var.stream]
}

run "rejects_bad_batching_window" {
  command = plan

  variables {
    stream = { maximum_batching_window_in_seconds = 301 }
  }

  expect_failures = [var.stream]
}

run "rejects_bad_bucket_inputs" {
  command = plan

  variables {
    change_bucket_name    = "Bad_Bucket"
    on_failure_bucket_arn = "arn:aws:s3:::bucket/key"
  }

  expect_failures = [var.change_bucket_name, var.on_failure_bucket_arn]
}

run "rejects_generated_failure_bucket_name_over_63_characters" {
  command = plan

  variables {
    name = "a-very-long-migration-name-for-orders-xx"
  }

  expect_failures = [aws_s3_bucket.on_failure]
}

run "fails_when_provider_is_in_another_account" {
  command = plan

  # The source provider found the table in 333333333333: it is pointed at the wrong account.
  override_data {
    target = data.aws_dynamodb_table.source
    values = {
      name             = "orders"
      arn              = "arn:aws:dynamodb:eu-west-1:333333333333:table/orders"
      stream_enabled   = true
      stream_view_type = "NEW_AND_OLD_IMAGES"
      stream_arn       = "arn:aws:dynamodb:eu-west-1:333333333333:table/orders/stream/2024-01-01T00:00:00.000"
    }
  }

  expect_failures = [aws_iam_role.this]
}

################################################################################
# Monitoring
################################################################################

run "alarms_fire_long_before_stream_records_expire" {
  command = plan

  variables {
    alarm_actions = ["arn:aws:sns:eu-west-1:111111111111:oncall"]
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 3
    error_message = "Three alarms: stream iterator age, errors, throttles."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["stream-iterator-age"].metric_name == "IteratorAge"
      && aws_cloudwatch_metric_alarm.this["stream-iterator-age"].statistic == "Maximum"
      && aws_cloudwatch_metric_alarm.this["stream-iterator-age"].threshold == 3600000
      && aws_cloudwatch_metric_alarm.this["stream-iterator-age"].dimensions == tomap({ FunctionName = "orders-migration-stream-to-s3" })
    )
    error_message = "The iterator-age alarm must fire after one hour (well before the stream's 24 hours)."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:111111111111:oncall"])])
    error_message = "Every alarm must notify the given topic."
  }

  assert {
    condition = (
      aws_cloudwatch_dashboard.this[0].dashboard_name == "orders-migration-capture"
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "IteratorAge")
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "RecordsCaptured")
    )
    error_message = "The capture dashboard must show stream lag and throughput."
  }
}

run "rejects_an_iterator_age_alarm_too_close_to_expiry" {
  command = plan

  variables {
    alarms = { iterator_age_in_seconds = 86400 }
  }

  expect_failures = [var.alarms]
}

# Policy audit (tests/policy-audit) with every feature that adds statements on.
run "every_feature_on" {
  command = plan

  variables {
    tracing_mode                  = "Active"
    kms_key_arn                   = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    lambda_kms_key_arn            = "arn:aws:kms:eu-west-1:111111111111:key/0000abcd-12ab-34cd-56ef-1234567890ab"
    on_failure_bucket_kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/0000abcd-12ab-34cd-56ef-1234567890ab"
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
}
