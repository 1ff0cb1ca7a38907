################################################################################
# Alarms and dashboard for the capture side. The stream keeps records for 24
# hours: the iterator-age alarm fires long before that, so there is time to act
# before a change can expire unread.
################################################################################

locals {
  service_name = "dynamigrate-stream-to-s3" # POWERTOOLS_SERVICE_NAME: the `service` dimension of the function's metrics

  source_alarms = var.alarms.enabled ? {
    stream-iterator-age = {
      description = "The oldest unread record of the ${var.source_table_name} stream is older than ${var.alarms.iterator_age_in_seconds} s. Stream records expire after 24 hours: find why ${local.function_name} is behind (errors, throttles, a disabled mapping) now."
      metric      = "IteratorAge"
      statistic   = "Maximum"
      threshold   = var.alarms.iterator_age_in_seconds * 1000
    }
    stream-errors = {
      description = "${local.function_name} fails: its batch is retried and bisected; a record that still fails after stream.maximum_retry_attempts goes to s3://${local.on_failure_bucket_name}. Read ${local.log_group_name}."
      metric      = "Errors"
      statistic   = "Sum"
      threshold   = 1
    }
    stream-throttles = {
      description = "Invocations of ${local.function_name} are throttled, so the stream is read late: raise the account's concurrency or stream.reserved_concurrent_executions."
      metric      = "Throttles"
      statistic   = "Sum"
      threshold   = 1
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.source_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = local.function_name }
  statistic           = each.value.statistic
  period              = var.alarms.period_in_seconds
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

  dashboard_name = "${var.name}-capture"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "text", x = 0, y = 0, width = 24, height = 2
        properties = {
          markdown = "## ${var.name}: changes out of ${var.source_table_name}\nFunction `${local.function_name}` writes each stream batch to `s3://${var.change_bucket_name}/${local.change_prefix}`; batches that fail every retry go to `s3://${local.on_failure_bucket_name}`. Stream records expire after 24 hours."
        }
      },
      {
        type = "metric", x = 0, y = 2, width = 8, height = 6
        properties = {
          title = "Stream lag (iterator age, ms)", region = local.region, view = "timeSeries", stat = "Maximum", period = 60
          metrics = [
            ["AWS/Lambda", "IteratorAge", "FunctionName", local.function_name],
          ]
          annotations = { horizontal = [{ label = "alarm", value = var.alarms.iterator_age_in_seconds * 1000 }] }
        }
      },
      {
        type = "metric", x = 8, y = 2, width = 8, height = 6
        properties = {
          title = "Throughput (records per minute)", region = local.region, view = "timeSeries", stat = "Sum", period = 60
          metrics = [
            ["Dynamigrate", "RecordsCaptured", "Migration", var.name, "service", local.service_name],
            [".", "TtlDeletesCaptured", ".", ".", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 16, y = 2, width = 8, height = 6
        properties = {
          title = "Errors", region = local.region, view = "timeSeries", stat = "Sum", period = 60
          metrics = [
            ["AWS/Lambda", "Errors", "FunctionName", local.function_name],
            [".", "Throttles", ".", "."],
            ["Dynamigrate", "RecordsRejected", "Migration", var.name, "service", local.service_name],
          ]
        }
      },
    ]
  })
}
