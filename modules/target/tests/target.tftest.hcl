# Plan-only tests of the target module with a mocked AWS provider (offline).
# Run `make build` first: the function's source_code_hash reads the zip.

mock_provider "aws" {
  # Mocked computed values (ARNs, ids) are known at plan time, so wiring
  # between resources can be asserted without an apply.
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
  target = data.aws_dynamodb_table.target
  values = {
    name = "orders-v2"
    arn  = "arn:aws:dynamodb:eu-west-1:222222222222:table/orders-v2"
  }
}

override_resource {
  target          = aws_sqs_queue.changes
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:222222222222:orders-migration-changes"
    id  = "https://sqs.eu-west-1.amazonaws.com/222222222222/orders-migration-changes"
    url = "https://sqs.eu-west-1.amazonaws.com/222222222222/orders-migration-changes"
  }
}

override_resource {
  target          = aws_sqs_queue.dead_letter
  override_during = plan
  values = {
    arn = "arn:aws:sqs:eu-west-1:222222222222:orders-migration-changes-dlq"
    id  = "https://sqs.eu-west-1.amazonaws.com/222222222222/orders-migration-changes-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/222222222222/orders-migration-changes-dlq"
  }
}

override_resource {
  target          = aws_lambda_function.this
  override_during = plan
  values = {
    arn = "arn:aws:lambda:eu-west-1:222222222222:function:orders-migration-writer"
  }
}

variables {
  name                   = "orders-migration"
  source_account_id      = "111111111111"
  target_account_id      = "222222222222"
  source_writer_role_arn = "arn:aws:iam::111111111111:role/orders-migration-stream-to-s3"
  target_table_name      = "orders-v2"
  lambda_package_path    = "../../dist/dynamigrate-lambda.zip"
}

################################################################################
# Defaults
################################################################################

run "change_bucket_is_private_versioned_encrypted" {
  command = plan

  assert {
    condition     = aws_s3_bucket.this.bucket == "orders-migration-changes-222222222222-eu-west-1"
    error_message = "The change bucket must be named <name>-changes-<target account>-<region>."
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy == false
    error_message = "force_destroy must default to false."
  }

  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "The change bucket must be versioned."
  }

  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
      && one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == null
    )
    error_message = "Without kms_key_arn the change bucket must use SSE-S3 (AES256)."
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "All four public access block settings must be true."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "Object ownership must be BucketOwnerEnforced (ACLs disabled, cross-account objects owned by the target)."
  }

  assert {
    condition     = length(aws_s3_bucket_logging.this) == 0
    error_message = "Access logging is off unless access_logging is set."
  }
}

run "change_bucket_lifecycle" {
  command = plan

  assert {
    condition = (
      [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-change-log"][0].filter[0].prefix == "changes/"
      && [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-change-log"][0].expiration[0].days == 30
      && [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-change-log"][0].noncurrent_version_expiration[0].noncurrent_days == 7
    )
    error_message = "Change-log objects under changes/ must expire after 30 days, noncurrent versions after 7."
  }

  assert {
    condition = (
      [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-dead-letter"][0].filter[0].prefix == "dead-letter/"
      && [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-dead-letter"][0].expiration[0].days == 90
    )
    error_message = "Dead-letter objects must expire after 90 days."
  }

  assert {
    condition     = [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "abort-incomplete-multipart-uploads"][0].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    error_message = "Incomplete multipart uploads must be aborted after 1 day."
  }

  assert {
    condition     = alltrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.status == "Enabled"])
    error_message = "Every lifecycle rule must be enabled."
  }
}

run "bucket_policy_is_tls_only_and_trusts_only_the_source_role" {
  command = plan

  assert {
    condition = [
      for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : s if s.Effect == "Deny"
      ] == [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource = [
          "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1",
          "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/*",
        ]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
    error_message = "The bucket policy must deny every request without TLS on the bucket and its objects."
  }

  assert {
    condition = [
      for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : s if s.Effect == "Allow"
      ] == [{
        Sid       = "AllowSourceWriterPutChanges"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::111111111111:root" }
        Action    = "s3:PutObject"
        Resource  = "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/changes/*"
        Condition = { ArnEquals = { "aws:PrincipalArn" = "arn:aws:iam::111111111111:role/orders-migration-stream-to-s3" } }
    }]
    error_message = "The only Allow must be s3:PutObject on changes/* for the source account, narrowed to the source writer role by aws:PrincipalArn."
  }
}

run "notification_sends_new_change_objects_to_the_queue" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_notification.this[0].queue) == 1
    error_message = "Exactly one queue notification is expected."
  }

  assert {
    condition = (
      aws_s3_bucket_notification.this[0].queue[0].queue_arn == "arn:aws:sqs:eu-west-1:222222222222:orders-migration-changes"
      && aws_s3_bucket_notification.this[0].queue[0].filter_prefix == "changes/"
      && aws_s3_bucket_notification.this[0].queue[0].filter_suffix == ".jsonl.gz"
      && toset(aws_s3_bucket_notification.this[0].queue[0].events) == toset(["s3:ObjectCreated:*"])
    )
    error_message = "New objects under changes/ ending in .jsonl.gz must notify the change queue."
  }

  assert {
    condition     = length(aws_s3_bucket_notification.this[0].lambda_function) == 0 && length(aws_s3_bucket_notification.this[0].topic) == 0
    error_message = "The bucket must notify only the queue."
  }
}

run "queues_are_encrypted_with_redrive_and_tls_only" {
  command = plan

  assert {
    condition     = aws_sqs_queue.changes[0].name == "orders-migration-changes" && aws_sqs_queue.dead_letter[0].name == "orders-migration-changes-dlq"
    error_message = "Queue names must derive from name."
  }

  assert {
    condition     = aws_sqs_queue.changes[0].visibility_timeout_seconds == 6 * 60 + 1
    error_message = "The visibility timeout must be 6 x the writer timeout plus the batching window."
  }

  assert {
    condition     = aws_sqs_queue.changes[0].message_retention_seconds == 1209600 && aws_sqs_queue.dead_letter[0].message_retention_seconds == 1209600
    error_message = "Both queues must keep messages for 14 days by default."
  }

  assert {
    condition     = aws_sqs_queue.changes[0].sqs_managed_sse_enabled && aws_sqs_queue.dead_letter[0].sqs_managed_sse_enabled
    error_message = "Without kms_key_arn both queues must use SQS-managed SSE."
  }

  assert {
    condition = jsondecode(aws_sqs_queue_redrive_policy.changes[0].redrive_policy) == {
      deadLetterTargetArn = "arn:aws:sqs:eu-west-1:222222222222:orders-migration-changes-dlq"
      maxReceiveCount     = 5
    }
    error_message = "The change queue must redrive to its DLQ after 5 receives."
  }

  assert {
    condition = [
      for s in jsondecode(aws_sqs_queue_policy.changes[0].policy).Statement : s if s.Effect == "Allow"
      ] == [{
        Sid       = "AllowChangeBucketNotifications"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = "arn:aws:sqs:eu-west-1:222222222222:orders-migration-changes"
        Condition = {
          ArnEquals    = { "aws:SourceArn" = "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1" }
          StringEquals = { "aws:SourceAccount" = "222222222222" }
        }
    }]
    error_message = "The change queue must accept sqs:SendMessage from S3 only for the change bucket in the target account."
  }

  assert {
    condition = alltrue([
      for p in [aws_sqs_queue_policy.changes[0].policy, aws_sqs_queue_policy.dead_letter[0].policy] :
      anytrue([for s in jsondecode(p).Statement : try(s.Effect == "Deny" && s.Condition.Bool["aws:SecureTransport"] == "false", false)])
    ])
    error_message = "Both queues must deny requests without TLS."
  }

  assert {
    condition = alltrue([
      for p in [aws_sqs_queue_policy.changes[0].policy, aws_sqs_queue_policy.dead_letter[0].policy] :
      alltrue([for s in jsondecode(p).Statement : s.Effect == "Deny" || !strcontains(jsonencode(s.Action), "*")])
    ])
    error_message = "Queue policies must not allow wildcard actions."
  }
}

run "ledger_table" {
  command = plan

  assert {
    condition = (
      aws_dynamodb_table.ledger.name == "orders-migration-ledger"
      && aws_dynamodb_table.ledger.hash_key == "pk"
      && aws_dynamodb_table.ledger.range_key == null
      && aws_dynamodb_table.ledger.billing_mode == "PAY_PER_REQUEST"
      && aws_dynamodb_table.ledger.attribute == toset([{ name = "pk", type = "S" }])
    )
    error_message = "The ledger must be an on-demand table keyed by pk (S) only."
  }

  assert {
    condition     = aws_dynamodb_table.ledger.ttl[0].attribute_name == "expires_at" && aws_dynamodb_table.ledger.ttl[0].enabled
    error_message = "The ledger must expire items through TTL on expires_at."
  }

  assert {
    condition     = aws_dynamodb_table.ledger.point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must be on for the ledger."
  }

  assert {
    condition     = aws_dynamodb_table.ledger.server_side_encryption[0].enabled
    error_message = "The ledger must be encrypted with a KMS key."
  }

  assert {
    condition     = aws_dynamodb_table.ledger.deletion_protection_enabled == false
    error_message = "Deletion protection must default to false."
  }
}

run "writer_function" {
  command = plan

  assert {
    condition = (
      aws_lambda_function.this.function_name == "orders-migration-writer"
      && aws_lambda_function.this.handler == "dynamigrate.handlers.s3_to_table.lambda_handler"
      && aws_lambda_function.this.runtime == "python3.12"
      && aws_lambda_function.this.architectures == tolist(["x86_64"])
      && aws_lambda_function.this.timeout == 60
      && aws_lambda_function.this.memory_size == 512
      && aws_lambda_function.this.tracing_config[0].mode == "PassThrough"
      && aws_lambda_function.this.source_code_hash == filebase64sha256("../../dist/dynamigrate-lambda.zip")
    )
    error_message = "Writer function settings are wrong."
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      TARGET_TABLE_NAME            = "orders-v2"
      LEDGER_TABLE_NAME            = "orders-migration-ledger"
      CHANGE_BUCKET_NAME           = "orders-migration-changes-222222222222-eu-west-1"
      CHANGE_PREFIX                = "changes/"
      DEAD_LETTER_PREFIX           = "dead-letter/"
      VERSION_ATTRIBUTE            = ""
      TRANSFORM                    = ""
      LEDGER_RETENTION_SECONDS     = "1209600"
      WRITER_THREADS               = "8"
      MIGRATION_NAME               = "orders-migration"
      POWERTOOLS_SERVICE_NAME      = "dynamigrate-writer"
      POWERTOOLS_METRICS_NAMESPACE = "Dynamigrate"
      POWERTOOLS_LOG_LEVEL         = "INFO"
      LOG_LEVEL                    = "INFO"
    })
    error_message = "The writer's environment must match what the Python package reads."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/orders-migration-writer" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The writer's log group must be /aws/lambda/<function> with 30 days retention."
  }

  assert {
    condition     = aws_lambda_function.this.tags["dynamigrate:migration"] == "orders-migration"
    error_message = "Resources must carry the dynamigrate:migration tag."
  }
}

run "writer_event_source_mapping" {
  command = plan

  assert {
    condition = (
      aws_lambda_event_source_mapping.this[0].event_source_arn == "arn:aws:sqs:eu-west-1:222222222222:orders-migration-changes"
      && aws_lambda_event_source_mapping.this[0].function_name == "arn:aws:lambda:eu-west-1:222222222222:function:orders-migration-writer"
      && aws_lambda_event_source_mapping.this[0].batch_size == 10
      && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 1
      && aws_lambda_event_source_mapping.this[0].function_response_types == toset(["ReportBatchItemFailures"])
      && aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 5
      && aws_lambda_event_source_mapping.this[0].enabled
    )
    error_message = "The queue-to-writer event source mapping settings are wrong."
  }
}

run "writer_role_is_least_privilege" {
  command = plan

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Sid       = "LambdaAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals    = { "aws:SourceAccount" = "222222222222" }
        ArnLikeIfExists = { "aws:SourceArn" = "arn:aws:lambda:eu-west-1:222222222222:function:orders-migration-writer" }
      }
    }]
    error_message = "Only Lambda, for this function in the target account, may assume the writer role."
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for a in flatten([s.Action]) : !strcontains(a, "*")
      ]
    ]))
    error_message = "No action in the writer policy may contain a wildcard."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource])) == toset([
      "arn:aws:dynamodb:eu-west-1:222222222222:table/orders-v2",
      "arn:aws:dynamodb:eu-west-1:222222222222:table/orders-migration-ledger",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/changes/*",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/dead-letter/*",
      "arn:aws:sqs:eu-west-1:222222222222:orders-migration-changes",
      "arn:aws:logs:eu-west-1:222222222222:log-group:/aws/lambda/orders-migration-writer:*",
    ])
    error_message = "The writer policy must name exactly the target table, the ledger, the two bucket prefixes, the queue and its log group."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for a in flatten([s.Action]) : flatten([s.Resource]) if startswith(a, "s3:PutObject")
      ]
    ])) == toset(["arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/dead-letter/*"])
    error_message = "The writer may put objects only under dead-letter/."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for a in flatten([s.Action]) : flatten([s.Resource]) if startswith(a, "s3:Get")
      ]
    ])) == toset(["arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/changes/*"])
    error_message = "The writer may read objects only under changes/."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : flatten([s.Action]) if contains(flatten([s.Resource]), "arn:aws:dynamodb:eu-west-1:222222222222:table/orders-v2")
      ])) == toset([
      "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable",
      "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    ])
    error_message = "The writer's target-table actions must be exactly the item-level writes, GetItem and DescribeTable."
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if startswith(s.Sid, "UseMigrationKey") || startswith(s.Sid, "WriteTraces")]) == 0
    error_message = "No KMS or X-Ray statement without kms_key_arn / Active tracing."
  }
}

################################################################################
# Export load (Distributed Map over an Export to S3)
################################################################################

run "export_load_is_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_sfn_state_machine.export_load) == 0 && length(aws_lambda_function.loader) == 0 && length(aws_iam_role.loader) == 0 && length(aws_iam_role.export_load) == 0
    error_message = "Without export_load.enabled there is no loader function, state machine or role."
  }

  assert {
    condition = (
      [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-exports"][0].filter[0].prefix == "exports/"
      && [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-exports"][0].expiration[0].days == 14
      && [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r if r.id == "expire-export-load-reports"][0].filter[0].prefix == "export-loads/"
    )
    error_message = "Exports under exports/ and load reports under export-loads/ must expire (14 days by default)."
  }

  assert {
    condition     = output.export_load_state_machine_arn == null && output.export_prefix == "exports"
    error_message = "The outputs must say there is no state machine, and where exports go."
  }
}

run "export_load_state_machine" {
  command = plan

  variables {
    export_load = {
      enabled                 = true
      exporter_principal_arns = ["arn:aws:iam::111111111111:role/orders-migration-operator", "arn:aws:iam::111111111111:role/platform-*"]
      max_concurrency         = 25
      write_units_per_second  = 5000
    }
    transform = "rekey.orders:to_v2"
  }

  assert {
    condition = (
      aws_sfn_state_machine.export_load[0].name == "orders-migration-export-load"
      && aws_sfn_state_machine.export_load[0].type == "STANDARD"
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).StartAt == "Prepare"
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.Prepare.Next == "LoadFiles"
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.Next == "Summarize"
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.Summarize.End == true
    )
    error_message = "The state machine must run Prepare, then the map over the data files, then Summarize."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.Type == "Map"
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.ProcessorConfig == { Mode = "DISTRIBUTED", ExecutionType = "STANDARD" }
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.MaxConcurrency == 25
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ResultPath == null
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemReader == {
        Resource     = "arn:aws:states:::s3:getObject"
        ReaderConfig = { InputType = "JSON" }
        Parameters   = { "Bucket.$" = "$.bucket", "Key.$" = "$.files_key" }
      }
    )
    error_message = "LoadFiles must be a Distributed Map reading Prepare's file list from S3, 25 files at once, collecting nothing."
  }

  assert {
    condition = jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemSelector == {
      action         = "load"
      "export_id.$"  = "$.export_id"
      "key.$"        = "$$.Map.Item.Value.key"
      "item_count.$" = "$$.Map.Item.Value.item_count"
      next_item      = 0
    }
    error_message = "Each map item must hand the loader the export id, the data file's key and its manifest item count, from item 0."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.States.FileDone.Choices == [{ Variable = "$.done", BooleanEquals = false, Next = "LoadFile" }]
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.States.LoadFile.Parameters["Payload.$"] == "$"
      && jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.States.LoadFile.OutputPath == "$.Payload"
    )
    error_message = "A file the loader could not finish in one call must go back to LoadFile with the loader's own state."
  }

  assert {
    condition = alltrue([
      for name, state in merge(
        jsondecode(aws_sfn_state_machine.export_load[0].definition).States,
        jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.States,
      ) : state.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:222222222222:function:orders-migration-export-loader" if state.Type == "Task"
    ])
    error_message = "Every task must invoke the loader function."
  }

  assert {
    condition = (
      contains(flatten([for r in jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.States.LoadFile.Retry : r.ErrorEquals]), "TransientLoadError")
      && contains(flatten([for r in jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.States.LoadFile.Retry : r.ErrorEquals]), "Lambda.TooManyRequestsException")
      && !contains(flatten([for r in jsondecode(aws_sfn_state_machine.export_load[0].definition).States.LoadFiles.ItemProcessor.States.LoadFile.Retry : r.ErrorEquals]), "States.ALL")
    )
    error_message = "LoadFile must retry Lambda's transient errors and TransientLoadError, and nothing else (a malformed export must fail the execution)."
  }

  assert {
    condition = (
      aws_sfn_state_machine.export_load[0].logging_configuration[0].level == "ERROR"
      && aws_sfn_state_machine.export_load[0].tracing_configuration[0].enabled == false
      && aws_cloudwatch_log_group.export_load[0].name == "/aws/vendedlogs/states/orders-migration-export-load"
    )
    error_message = "The state machine must log errors to its own log group."
  }

  assert {
    condition = (
      aws_lambda_function.loader[0].handler == "dynamigrate.handlers.export_to_table.lambda_handler"
      && aws_lambda_function.loader[0].timeout == 900
      && aws_lambda_function.loader[0].memory_size == 1024
      && aws_lambda_function.loader[0].environment[0].variables == tomap({
        TARGET_TABLE_NAME            = "orders-v2"
        LEDGER_TABLE_NAME            = "orders-migration-ledger"
        EXPORT_BUCKET_NAME           = "orders-migration-changes-222222222222-eu-west-1"
        EXPORT_PREFIX                = "exports/"
        LOAD_PREFIX                  = "export-loads/"
        DEAD_LETTER_PREFIX           = "dead-letter/"
        VERSION_ATTRIBUTE            = ""
        LEDGER_RETENTION_SECONDS     = "1209600"
        LOADER_THREADS               = "16"
        WRITE_UNITS_PER_SECOND       = "200"
        TRANSFORM                    = "rekey.orders:to_v2"
        MIGRATION_NAME               = "orders-migration"
        POWERTOOLS_SERVICE_NAME      = "dynamigrate-export-loader"
        POWERTOOLS_METRICS_NAMESPACE = "Dynamigrate"
        POWERTOOLS_LOG_LEVEL         = "INFO"
        LOG_LEVEL                    = "INFO"
      })
    )
    error_message = "The loader's environment must match what the Python package reads; each of the 25 loaders gets 5000/25 write units."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.loader[0].policy).Statement : flatten([s.Action]) if contains(flatten([s.Resource]), "arn:aws:dynamodb:eu-west-1:222222222222:table/orders-v2")])) == toset([
      "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable", "dynamodb:PutItem",
    ])
    error_message = "The loader may only describe the target and make conditional puts (no delete, no update, no read)."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.loader[0].policy).Statement : flatten([s.Resource])])) == toset([
      "arn:aws:dynamodb:eu-west-1:222222222222:table/orders-v2",
      "arn:aws:dynamodb:eu-west-1:222222222222:table/orders-migration-ledger",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/exports/*",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/export-loads/*",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/dead-letter/export-loads/*",
      "arn:aws:logs:eu-west-1:222222222222:log-group:/aws/lambda/orders-migration-export-loader:*",
    ])
    error_message = "The loader policy must name exactly the two tables, the export and report prefixes, its dead-letter prefix and its log group."
  }

  assert {
    condition = (
      [for s in jsondecode(aws_iam_role_policy.loader[0].policy).Statement : s if s.Sid == "ListLoadReports"][0].Condition == { StringLike = { "s3:prefix" = "export-loads/*" } }
      && alltrue(flatten([for s in jsondecode(aws_iam_role_policy.loader[0].policy).Statement : [for a in flatten([s.Action]) : !strcontains(a, "*")]]))
    )
    error_message = "The loader may list only the report prefix, and no action may contain a wildcard."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.export_load[0].policy).Statement : flatten([s.Resource]) if s.Sid != "DeliverExecutionLogs"])) == toset([
      "arn:aws:lambda:eu-west-1:222222222222:function:orders-migration-export-loader",
      "arn:aws:lambda:eu-west-1:222222222222:function:orders-migration-export-loader:*",
      "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/export-loads/*",
      "arn:aws:states:eu-west-1:222222222222:stateMachine:orders-migration-export-load",
      "arn:aws:states:eu-west-1:222222222222:execution:orders-migration-export-load/*",
    ])
    error_message = "The state machine may invoke only the loader, read only the reports prefix and run only its own child executions."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.export_load[0].policy).Statement : flatten([s.Action]) if contains(flatten([s.Resource]), "*")])) == toset([
      "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
    ])
    error_message = "Only the log-delivery actions (which have no resource-level permissions) may use Resource \"*\"."
  }

  assert {
    condition = jsondecode(aws_iam_role.loader[0].assume_role_policy).Statement[0].Condition == {
      StringEquals    = { "aws:SourceAccount" = "222222222222" }
      ArnLikeIfExists = { "aws:SourceArn" = "arn:aws:lambda:eu-west-1:222222222222:function:orders-migration-export-loader" }
    }
    error_message = "Only Lambda, for the loader function in the target account, may assume the loader role."
  }

  assert {
    condition = jsondecode(aws_iam_role.export_load[0].assume_role_policy).Statement == [{
      Sid       = "StatesAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "states.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = "222222222222" }
        ArnLikeIfExists = {
          "aws:SourceArn" = [
            "arn:aws:states:eu-west-1:222222222222:stateMachine:orders-migration-export-load",
            "arn:aws:states:eu-west-1:222222222222:stateMachine:orders-migration-export-load:*",
            "arn:aws:states:eu-west-1:222222222222:execution:orders-migration-export-load:*",
            "arn:aws:states:eu-west-1:222222222222:execution:orders-migration-export-load/*",
            "arn:aws:states:eu-west-1:222222222222:mapRun:orders-migration-export-load/*",
          ]
        }
      }
    }]
    error_message = "Only Step Functions, acting for the target account and this state machine (its executions, map runs), may assume the state machine role."
  }

  assert {
    condition = [for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : s if s.Sid == "AllowSourceExportsToPointInTime"] == [{
      Sid       = "AllowSourceExportsToPointInTime"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::111111111111:root" }
      Action    = ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]
      Resource  = "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/exports/*"
      Condition = { ArnLike = { "aws:PrincipalArn" = ["arn:aws:iam::111111111111:role/orders-migration-operator", "arn:aws:iam::111111111111:role/platform-*"] } }
    }]
    error_message = "Only the named source-account principals may write exports, and only under exports/."
  }

  assert {
    condition     = output.export_loader_function_name == "orders-migration-export-loader"
    error_message = "The outputs must name the loader."
  }
}

run "rejects_export_load_principal_that_is_not_an_arn" {
  command = plan

  variables {
    export_load = { enabled = true, exporter_principal_arns = ["111111111111"] }
  }

  expect_failures = [var.export_load]
}

run "rejects_export_load_timeout_without_hand_over_reserve" {
  command = plan

  variables {
    export_load = { enabled = true, timeout_in_seconds = 60 }
  }

  expect_failures = [var.export_load]
}

run "rejects_export_load_rate_below_one_unit_per_loader" {
  command = plan

  variables {
    export_load = { enabled = true, max_concurrency = 10, write_units_per_second = 5 }
  }

  expect_failures = [var.export_load]
}

run "json_mapping_transform_reaches_the_writer_and_the_loader" {
  command = plan

  variables {
    export_load = { enabled = true }
    transform   = jsonencode({ set = { guid = { uuid5 = ["pub", "external_id"], namespace = "url" } }, drop = ["pub", "external_id"] })
  }

  assert {
    condition = (
      jsondecode(aws_lambda_function.loader[0].environment[0].variables.TRANSFORM).set.guid.namespace == "url"
      && aws_lambda_function.this.environment[0].variables.TRANSFORM == aws_lambda_function.loader[0].environment[0].variables.TRANSFORM
    )
    error_message = "A JSON key mapping must reach the writer and the loader as it is, the same for both."
  }
}

run "rejects_transform_json_that_is_not_an_object" {
  command = plan

  variables {
    transform = "{not json"
  }

  expect_failures = [var.transform]
}

run "rejects_bad_transform" {
  command = plan

  variables {
    transform = "not a transform"
  }

  expect_failures = [var.transform]
}

################################################################################
# Options
################################################################################

run "kms_key_encrypts_bucket_queues_and_ledger" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
      && one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn
      && one(aws_s3_bucket_server_side_encryption_configuration.this.rule).bucket_key_enabled
    )
    error_message = "With kms_key_arn the bucket must use SSE-KMS with that key and a bucket key."
  }

  assert {
    condition = (
      aws_sqs_queue.changes[0].kms_master_key_id == var.kms_key_arn
      && aws_sqs_queue.dead_letter[0].kms_master_key_id == var.kms_key_arn
      && aws_dynamodb_table.ledger.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    )
    error_message = "With kms_key_arn both queues and the ledger must use that key."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      try(s.Resource == var.kms_key_arn && toset(s.Action) == toset(["kms:Decrypt", "kms:GenerateDataKey"]), false)
    ])
    error_message = "The writer must be able to decrypt and generate data keys with exactly that key."
  }
}

run "custom_settings_flow_through" {
  command = plan

  variables {
    change_bucket_name                 = "my-change-bucket"
    version_attribute                  = "updated_at"
    ledger_retention_in_days           = 3
    log_level                          = "DEBUG"
    log_retention_in_days              = 7
    tracing_mode                       = "Active"
    runtime                            = "python3.13"
    architectures                      = ["arm64"]
    force_destroy                      = true
    ledger_deletion_protection_enabled = true
    queue_message_retention_in_seconds = 86400
    access_logging                     = { target_bucket = "my-access-logs" }
    tags                               = { team = "data" }
    writer = {
      timeout_in_seconds                 = 120
      memory_size                        = 1024
      threads                            = 16
      batch_size                         = 100
      maximum_batching_window_in_seconds = 5
      maximum_concurrency                = 50
      max_receive_count                  = 3
      reserved_concurrent_executions     = 60
      enabled                            = false
    }
  }

  assert {
    condition     = aws_s3_bucket.this.bucket == "my-change-bucket" && aws_s3_bucket.this.force_destroy
    error_message = "change_bucket_name and force_destroy must be used."
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables.VERSION_ATTRIBUTE == "updated_at"
      && aws_lambda_function.this.environment[0].variables.LEDGER_RETENTION_SECONDS == "259200"
      && aws_lambda_function.this.environment[0].variables.WRITER_THREADS == "16"
      && aws_lambda_function.this.environment[0].variables.LOG_LEVEL == "DEBUG"
      && aws_lambda_function.this.environment[0].variables.POWERTOOLS_LOG_LEVEL == "DEBUG"
      && aws_lambda_function.this.environment[0].variables.CHANGE_BUCKET_NAME == "my-change-bucket"
    )
    error_message = "Settings must reach the writer's environment."
  }

  assert {
    condition = (
      aws_lambda_function.this.timeout == 120 && aws_lambda_function.this.memory_size == 1024
      && aws_lambda_function.this.reserved_concurrent_executions == 60
      && aws_lambda_function.this.runtime == "python3.13" && aws_lambda_function.this.architectures == tolist(["arm64"])
      && aws_lambda_function.this.tracing_config[0].mode == "Active"
    )
    error_message = "Writer function settings must be used."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this[0].batch_size == 100
      && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 5
      && aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 50
      && aws_lambda_event_source_mapping.this[0].enabled == false
    )
    error_message = "Event source mapping settings must be used (and enabled = false pauses it)."
  }

  assert {
    condition     = aws_sqs_queue.changes[0].visibility_timeout_seconds == 6 * 120 + 5 && aws_sqs_queue.changes[0].message_retention_seconds == 86400
    error_message = "Queue timing must follow the writer settings."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_policy.changes[0].redrive_policy).maxReceiveCount == 3
    error_message = "max_receive_count must reach the redrive policy."
  }

  assert {
    condition     = aws_dynamodb_table.ledger.deletion_protection_enabled && aws_cloudwatch_log_group.this.retention_in_days == 7
    error_message = "Ledger deletion protection and log retention must be used."
  }

  assert {
    condition     = aws_s3_bucket_logging.this[0].target_bucket == "my-access-logs" && aws_s3_bucket_logging.this[0].target_prefix == "my-change-bucket/"
    error_message = "access_logging must enable server access logging."
  }

  assert {
    condition     = aws_sqs_queue.changes[0].tags == tomap({ team = "data", "dynamigrate:migration" = "orders-migration" })
    error_message = "tags must be applied alongside the migration tag."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      try(s.Sid == "WriteTraces" && s.Resource == "*" && toset(s.Action) == toset(["xray:PutTelemetryRecords", "xray:PutTraceSegments"]), false)
    ])
    error_message = "Active tracing must add the X-Ray write actions (which support no resource-level scoping)."
  }
}

################################################################################
# Validation
################################################################################

run "rejects_bad_name" {
  command = plan

  variables {
    name = "Orders_Migration"
  }

  expect_failures = [var.name]
}

run "rejects_short_name" {
  command = plan

  variables {
    name = "ab"
  }

  expect_failures = [var.name]
}

run "rejects_bad_account_ids" {
  command = plan

  variables {
    source_account_id = "12345"
    target_account_id = "22222222222a"
  }

  expect_failures = [var.source_account_id, var.target_account_id]
}

run "rejects_non_role_writer_arn" {
  command = plan

  variables {
    source_writer_role_arn = "arn:aws:iam::111111111111:user/alice"
  }

  expect_failures = [var.source_writer_role_arn]
}

run "rejects_batch_size_out_of_range" {
  command = plan

  variables {
    writer = { batch_size = 10001 }
  }

  expect_failures = [var.writer]
}

run "rejects_zero_batch_size" {
  command = plan

  variables {
    writer = { batch_size = 0 }
  }

  expect_failures = [var.writer]
}

run "rejects_large_batch_without_batching_window" {
  command = plan

  variables {
    writer = { batch_size = 100, maximum_batching_window_in_seconds = 0 }
  }

  expect_failures = [var.writer]
}

run "rejects_maximum_concurrency_below_two" {
  command = plan

  variables {
    writer = { maximum_concurrency = 1 }
  }

  expect_failures = [var.writer]
}

run "rejects_bad_timeout_and_receive_count" {
  command = plan

  variables {
    writer = { timeout_in_seconds = 901, max_receive_count = 0 }
  }

  expect_failures = [var.writer]
}

run "rejects_kms_alias" {
  command = plan

  variables {
    kms_key_arn = "alias/my-key"
  }

  expect_failures = [var.kms_key_arn]
}

run "rejects_bad_retention_and_logging_values" {
  command = plan

  variables {
    log_retention_in_days              = 13
    log_level                          = "VERBOSE"
    queue_message_retention_in_seconds = 1209601
    ledger_retention_in_days           = 0
  }

  expect_failures = [
    var.log_retention_in_days,
    var.log_level,
    var.queue_message_retention_in_seconds,
    var.ledger_retention_in_days,
  ]
}

run "rejects_bad_runtime_and_architecture" {
  command = plan

  variables {
    runtime       = "nodejs20.x"
    architectures = ["x86_64", "arm64"]
  }

  expect_failures = [var.runtime, var.architectures]
}

run "rejects_bad_change_bucket_name" {
  command = plan

  variables {
    change_bucket_name = "Not_A_Bucket"
  }

  expect_failures = [var.change_bucket_name]
}

run "rejects_generated_bucket_name_over_63_characters" {
  command = plan

  variables {
    name = "a-very-long-migration-name-for-orders-xx"
  }

  expect_failures = [aws_s3_bucket.this]
}

run "fails_when_provider_is_in_another_account" {
  command = plan

  # The target provider found the table in 333333333333: it is pointed at the wrong account.
  override_data {
    target = data.aws_dynamodb_table.target
    values = {
      name = "orders-v2"
      arn  = "arn:aws:dynamodb:eu-west-1:333333333333:table/orders-v2"
    }
  }

  expect_failures = [aws_s3_bucket.this]
}

################################################################################
# Monitoring
################################################################################

run "alarms_watch_the_writer_and_notify_the_topic" {
  command = plan

  variables {
    alarm_actions = ["arn:aws:sns:eu-west-1:222222222222:oncall"]
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 7
    error_message = "Seven alarms: writer errors and throttles, dead-letter queue, queue age, parked changes, replication lag, target write throttles."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:222222222222:oncall"]) && a.ok_actions == toset(["arn:aws:sns:eu-west-1:222222222222:oncall"])])
    error_message = "Every alarm must notify the given topic when it fires and when it clears."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["dead-letter-queue"].namespace == "AWS/SQS"
      && aws_cloudwatch_metric_alarm.this["dead-letter-queue"].metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.this["dead-letter-queue"].dimensions == tomap({ QueueName = "orders-migration-changes-dlq" })
      && aws_cloudwatch_metric_alarm.this["dead-letter-queue"].threshold == 1
    )
    error_message = "A single message in the dead-letter queue must fire an alarm."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["queue-age"].dimensions == tomap({ QueueName = "orders-migration-changes" })
      && aws_cloudwatch_metric_alarm.this["queue-age"].threshold == 900
      && aws_cloudwatch_metric_alarm.this["replication-lag"].threshold == 900000
      && aws_cloudwatch_metric_alarm.this["replication-lag"].statistic == "Maximum"
    )
    error_message = "Queue age alarms at 15 minutes (seconds) and replication lag at 15 minutes (milliseconds) by default."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["changes-parked"].dimensions == tomap({ Migration = "orders-migration", service = "dynamigrate-writer" })
      && aws_lambda_function.this.environment[0].variables.POWERTOOLS_SERVICE_NAME == "dynamigrate-writer"
      && aws_lambda_function.this.environment[0].variables.MIGRATION_NAME == "orders-migration"
    )
    error_message = "Custom-metric alarms must name the exact dimensions Powertools publishes: Migration and service."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["target-write-throttles"].dimensions == tomap({ TableName = "orders-v2" })
    error_message = "The throttle alarm must watch the target table."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : a.treat_missing_data == "notBreaching" && a.comparison_operator == "GreaterThanOrEqualToThreshold"])
    error_message = "No traffic is not a problem: missing data must not breach."
  }
}

run "dashboard_shows_lag_throughput_conflicts_and_errors" {
  command = plan

  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "orders-migration-replication"
    error_message = "The dashboard must be named <name>-replication."
  }

  assert {
    condition = (
      length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets) == 5
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "ReplicationLag")
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "ChangesApplied")
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "ChangesStale")
      && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "orders-migration-changes-dlq")
    )
    error_message = "The dashboard must show lag, throughput, conflicts and errors (dead-letter queue included)."
  }
}

run "alarms_and_dashboard_can_be_left_out" {
  command = plan

  variables {
    alarms           = { enabled = false }
    create_dashboard = false
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0 && length(aws_cloudwatch_dashboard.this) == 0
    error_message = "alarms.enabled = false and create_dashboard = false must create neither."
  }
}

run "rejects_alarm_settings_that_cannot_work" {
  command = plan

  variables {
    alarm_actions = ["oncall"]
    alarms        = { queue_age_in_seconds = 2000000 }
  }

  expect_failures = [var.alarm_actions, var.alarms]
}

################################################################################
# Direct transport
################################################################################

run "direct_transport_reads_the_source_stream_and_has_no_queue" {
  command = plan

  variables {
    transport              = "direct"
    source_writer_role_arn = null
    source_stream_arn      = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
  }

  assert {
    condition = (
      length(aws_sqs_queue.changes) == 0 && length(aws_sqs_queue.dead_letter) == 0
      && length(aws_s3_bucket_notification.this) == 0 && length(aws_lambda_event_source_mapping.this) == 0
    )
    error_message = "The direct transport needs no change queue, dead-letter queue or bucket notification."
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.stream[0].event_source_arn == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
      && aws_lambda_event_source_mapping.stream[0].starting_position == "TRIM_HORIZON"
      && aws_lambda_event_source_mapping.stream[0].bisect_batch_on_function_error == true
      && aws_lambda_event_source_mapping.stream[0].destination_config[0].on_failure[0].destination_arn == "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1"
      && toset(aws_lambda_event_source_mapping.stream[0].function_response_types) == toset(["ReportBatchItemFailures"])
    )
    error_message = "The writer must read the source stream from its trim horizon, bisect failures and keep failed batches in the bucket."
  }

  assert {
    condition     = aws_lambda_function.this.handler == "dynamigrate.handlers.stream_to_table.lambda_handler"
    error_message = "The direct transport's writer runs the stream handler."
  }

  assert {
    condition = (
      contains([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid], "ReadSourceStream")
      && length([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Sid == "ConsumeChangeQueue" || s.Sid == "ReadChangeLog"]) == 0
      && one([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "ReadSourceStream"]) == "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
      && one([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "WriteFailedStreamBatches"]) == "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1/aws/lambda/*"
    )
    error_message = "The writer may read exactly the source stream and write failed batches, and nothing of the change-log path."
  }

  assert {
    condition     = length([for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement : s if s.Sid == "AllowSourceWriterPutChanges"]) == 0
    error_message = "Without the change log, no source principal may put objects into the bucket."
  }

  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.this), "writer-iterator-age") && length(aws_cloudwatch_metric_alarm.this) == 6
    error_message = "The direct transport alarms on the stream's iterator age instead of the queues."
  }
}

run "direct_transport_needs_the_stream_arn" {
  command = plan

  variables {
    transport = "direct"
  }

  expect_failures = [aws_lambda_event_source_mapping.stream]
}

run "change_log_transport_needs_the_source_writer_role" {
  command = plan

  variables {
    source_writer_role_arn = null
  }

  expect_failures = [aws_s3_bucket_notification.this]
}

################################################################################
# Policy audit (tests/policy-audit): every document this module attaches, with
# every feature that adds statements switched on, for each transport.
################################################################################

run "every_feature_on_s3_transport" {
  command = plan

  variables {
    tracing_mode = "Active"
    kms_key_arn  = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    export_load = {
      enabled                 = true
      exporter_principal_arns = ["arn:aws:iam::111111111111:role/orders-migration-operator"]
    }
  }
}

run "policy_audit_s3_transport" {
  command = plan

  module {
    source = "../../tests/policy-audit"
  }

  variables {
    documents = run.every_feature_on_s3_transport.policy_documents
  }

  assert {
    condition     = output.violations == []
    error_message = "Policy audit: ${jsonencode(output.violations)}"
  }

  assert {
    condition     = length(run.every_feature_on_s3_transport.policy_documents) == 9 && output.statement_count >= 25
    error_message = "Expected all 9 documents (writer, loader and state machine roles and their trusts, bucket, both queues) in the audit, got ${jsonencode(keys(run.every_feature_on_s3_transport.policy_documents))} with ${output.statement_count} statements."
  }
}

run "every_feature_on_direct_transport" {
  command = plan

  variables {
    transport              = "direct"
    source_writer_role_arn = null
    source_stream_arn      = "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000"
    tracing_mode           = "Active"
    kms_key_arn            = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }
}

run "policy_audit_direct_transport" {
  command = plan

  module {
    source = "../../tests/policy-audit"
  }

  variables {
    documents = run.every_feature_on_direct_transport.policy_documents
  }

  assert {
    condition     = output.violations == [] && length(run.every_feature_on_direct_transport.policy_documents) == 3
    error_message = "Policy audit: ${jsonencode(output.violations)} over ${jsonencode(keys(run.every_feature_on_direct_transport.policy_documents))}"
  }
}
