################################################################################
# Alarms and dashboard: what `dynamigrate status` reads, watched continuously.
# Every alarm notifies var.alarm_actions (an SNS topic of yours) when it fires
# and when it clears. Thresholds are in var.alarms.
################################################################################

locals {
  alarm_period = var.alarms.period_in_seconds

  # name suffix => settings; all Sum/Maximum over one period, missing data = OK
  # (no traffic is not a problem, except for lag, which then has no data).
  target_alarms = var.alarms.enabled ? merge(local.common_alarms, local.s3_transport ? local.queue_alarms : local.stream_alarms) : {}

  stream_alarms = {
    writer-iterator-age = {
      description = "The oldest unread record of the source table's stream is older than ${var.alarms.queue_age_in_seconds} s. Stream records expire after 24 hours: find why ${local.function_name} is behind (errors, throttles, a disabled mapping) now."
      namespace   = "AWS/Lambda"
      metric      = "IteratorAge"
      dimensions  = { FunctionName = local.function_name }
      statistic   = "Maximum"
      threshold   = var.alarms.queue_age_in_seconds * 1000
    }
  }

  queue_alarms = {
    dead-letter-queue = {
      description = "Messages are in ${local.dead_letter_queue_name}: change objects the writer failed on ${var.writer.max_receive_count} times. Fix the cause, then run `dynamigrate redrive --writer-function ${local.function_name} --what queue`."
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = local.dead_letter_queue_name }
      statistic   = "Maximum"
      threshold   = 1
    }
    queue-age = {
      description = "The oldest change waiting in ${local.queue_name} is older than ${var.alarms.queue_age_in_seconds} s: the writer is behind or failing."
      namespace   = "AWS/SQS"
      metric      = "ApproximateAgeOfOldestMessage"
      dimensions  = { QueueName = local.queue_name }
      statistic   = "Maximum"
      threshold   = var.alarms.queue_age_in_seconds
    }
  }

  common_alarms = {
    writer-errors = {
      description = "The writer function ${local.function_name} fails: its messages are retried and, after ${var.writer.max_receive_count} receives, land in the dead-letter queue. Read its log group ${local.log_group_name}."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = local.function_name }
      statistic   = "Sum"
      threshold   = 1
    }
    writer-throttles = {
      description = "Invocations of ${local.function_name} are throttled: raise the account's concurrency or writer.reserved_concurrent_executions."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = local.function_name }
      statistic   = "Sum"
      threshold   = 1
    }
    changes-parked = {
      description = "The writer parked changes that can never apply (reasons inside each object under s3://${local.bucket_name}/${local.dead_letter_prefix}). Fix the cause, then run `dynamigrate redrive --writer-function ${local.function_name} --what parked`."
      namespace   = "Dynamigrate"
      metric      = "ChangesParked"
      dimensions  = { Migration = var.name, service = local.service_name }
      statistic   = "Sum"
      threshold   = 1
    }
    replication-lag = {
      description = "Changes reach ${var.target_table_name} more than ${var.alarms.replication_lag_in_seconds} s after they were made on the source table (capture, transport and write together)."
      namespace   = "Dynamigrate"
      metric      = "ReplicationLag"
      dimensions  = { Migration = var.name, service = local.service_name }
      statistic   = "Maximum"
      threshold   = var.alarms.replication_lag_in_seconds * 1000
    }
    target-write-throttles = {
      description = "Writes to ${var.target_table_name} are throttled: the writer retries them, but replication slows. Raise the table's write capacity or lower writer.maximum_concurrency."
      namespace   = "AWS/DynamoDB"
      metric      = "WriteThrottleEvents"
      dimensions  = { TableName = var.target_table_name }
      statistic   = "Sum"
      threshold   = var.alarms.write_throttle_events
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.target_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = local.alarm_period
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = "${var.name}-replication"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "text", x = 0, y = 0, width = 24, height = 2
        properties = {
          markdown = local.s3_transport ? "## ${var.name}: changes into ${var.target_table_name}\nWriter `${local.function_name}`, queue `${local.queue_name}`, dead-letter queue `${local.dead_letter_queue_name}`, parked changes under `s3://${local.bucket_name}/${local.dead_letter_prefix}`. One shell command tells the same at a glance: `dynamigrate status`." : "## ${var.name}: changes into ${var.target_table_name}\nWriter `${local.function_name}` reads the source stream directly; parked changes under `s3://${local.bucket_name}/${local.dead_letter_prefix}`, failed stream batches under `s3://${local.bucket_name}/${local.direct_failure_prefix}`."
        }
      },
      {
        type = "metric", x = 0, y = 2, width = 12, height = 6
        properties = {
          title = "Lag", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
          metrics = concat(
            [["Dynamigrate", "ReplicationLag", "Migration", var.name, "service", local.service_name, { label = "source write to target write (ms)" }]],
            local.s3_transport ? [
              ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.queue_name, { label = "oldest queued change (s)", yAxis = "right" }],
              ] : [
              ["AWS/Lambda", "IteratorAge", "FunctionName", local.function_name, { label = "source stream iterator age (ms)" }],
            ],
          )
        }
      },
      {
        type = "metric", x = 12, y = 2, width = 12, height = 6
        properties = {
          title = "Throughput (changes per minute)", region = local.region, view = "timeSeries", stat = "Sum", period = 60
          metrics = [
            ["Dynamigrate", "ChangesApplied", "Migration", var.name, "service", local.service_name],
            [".", "ChangesSuperseded", ".", ".", ".", "."],
            [".", "DeletesReceived", ".", ".", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 8, width = 12, height = 6
        properties = {
          title = "Conflicts (an older change lost to a newer one: expected, not an error)", region = local.region, view = "timeSeries", stat = "Sum", period = 60
          metrics = [
            ["Dynamigrate", "ChangesStale", "Migration", var.name, "service", local.service_name],
            [".", "ResurrectionsPrevented", ".", ".", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 8, width = 12, height = 6
        properties = {
          title = "Errors (each needs a look)", region = local.region, view = "timeSeries", stat = "Sum", period = 60
          metrics = concat(
            [
              ["AWS/Lambda", "Errors", "FunctionName", local.function_name],
              [".", "Throttles", ".", "."],
              ["Dynamigrate", "ChangesParked", "Migration", var.name, "service", local.service_name],
              ["AWS/DynamoDB", "WriteThrottleEvents", "TableName", var.target_table_name],
            ],
            local.s3_transport ? [
              ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.dead_letter_queue_name, { stat = "Maximum", label = "dead-letter queue depth" }],
            ] : [],
          )
        }
      },
    ]
  })
}
