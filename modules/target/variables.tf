################################################################################
# Migration
################################################################################

variable "name" {
  description = "Short name of the migration (e.g. \"orders-migration\"). Every resource name derives from it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. \"orders-migration\")."
  }
}

variable "source_account_id" {
  description = "12-digit AWS account id that owns the source table and the stream-to-S3 function."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.source_account_id))
    error_message = "source_account_id must be a 12-digit AWS account id (digits only, keep leading zeros, quote it as a string)."
  }
}

variable "target_account_id" {
  description = "12-digit AWS account id that owns the target table and the change bucket (the account this module is applied in)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.target_account_id))
    error_message = "target_account_id must be a 12-digit AWS account id (digits only, keep leading zeros, quote it as a string)."
  }
}

variable "source_writer_role_arn" {
  description = "ARN of the source account's stream-to-S3 execution role, the only principal allowed to put change-log objects into the change bucket (transport = \"s3\"; null with transport = \"direct\"). It need not exist yet: the bucket policy matches it by aws:PrincipalArn."
  type        = string
  default     = null

  validation {
    condition     = var.source_writer_role_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]{1,512}$", var.source_writer_role_arn))
    error_message = "source_writer_role_arn must be an IAM role ARN such as arn:aws:iam::111111111111:role/orders-migration-stream-to-s3."
  }
}

variable "transport" {
  description = "How changes travel: \"s3\" (the change log: the source account's stream-to-S3 function writes objects into this account's bucket, an SQS queue feeds the writer; replayable for the log's retention) or \"direct\" (the writer reads the source table's stream across accounts; needs source_stream_arn and modules/stream-access in the source account). docs/transports.md compares them."
  type        = string
  default     = "s3"
  nullable    = false

  validation {
    condition     = contains(["s3", "direct"], var.transport)
    error_message = "transport must be \"s3\" or \"direct\"."
  }
}

variable "source_stream_arn" {
  description = "transport = \"direct\": ARN of the source table's stream (NEW_AND_OLD_IMAGES), which the writer reads across accounts."
  type        = string
  default     = null

  validation {
    condition     = var.source_stream_arn == null || can(regex("^arn:aws[a-zA-Z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[a-zA-Z0-9_.-]{3,255}/stream/.+$", var.source_stream_arn))
    error_message = "source_stream_arn must be a DynamoDB stream ARN such as arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/2024-01-01T00:00:00.000."
  }
}

variable "direct_stream" {
  description = "transport = \"direct\": the stream event source mapping's settings (as modules/source's stream). The function's own settings are in writer."
  type = object({
    batch_size                         = optional(number, 500)
    maximum_batching_window_in_seconds = optional(number, 1)
    parallelization_factor             = optional(number, 1)
    maximum_retry_attempts             = optional(number, 10)
    maximum_record_age_in_seconds      = optional(number, -1)
    starting_position                  = optional(string, "TRIM_HORIZON")
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.direct_stream.batch_size >= 1 && var.direct_stream.batch_size <= 10000 && var.direct_stream.parallelization_factor >= 1 && var.direct_stream.parallelization_factor <= 10
    error_message = "direct_stream.batch_size must be 1..10000 and parallelization_factor 1..10."
  }

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.direct_stream.starting_position)
    error_message = "direct_stream.starting_position must be TRIM_HORIZON or LATEST."
  }
}

variable "target_table_name" {
  description = "Name of the existing target DynamoDB table the writer applies changes to. The module only reads it; it never creates, changes or destroys it."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.target_table_name))
    error_message = "target_table_name must be a DynamoDB table name: 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "version_attribute" {
  description = "Name of an item attribute holding a monotonically increasing version or last-modified timestamp. The writer applies a change only when it is newer than what the target holds. null or \"\" orders changes by the source stream's sequence numbers instead."
  type        = string
  default     = null

  validation {
    condition     = var.version_attribute == null || can(regex("^.{0,255}$", var.version_attribute))
    error_message = "version_attribute must be an attribute name of at most 255 characters, \"\" or null."
  }
}

variable "transform" {
  description = "Item transform for a new key schema, applied alike by the writer (live changes) and the export loader: \"package.module:function\" importable in the Lambda package (`make build TRANSFORM_SOURCE=dir` packs your module), or a JSON key mapping (jsonencode({ set = {...}, drop = [...] }); see docs/transforms.md). null copies items unchanged. Deletes need the stream's old images (NEW_AND_OLD_IMAGES) to find the new key."
  type        = string
  default     = null

  validation {
    condition = var.transform == null || can(regex("^[A-Za-z_][\\w.]*:[A-Za-z_]\\w*$", coalesce(var.transform, "x:y"))) || (
      can(regex("^\\s*\\{", coalesce(var.transform, "x"))) && can(jsondecode(coalesce(var.transform, "x")))
    )
    error_message = "transform must look like package.module:function, or be a JSON mapping object (jsonencode({ set = {...}, drop = [...] }))."
  }
}

################################################################################
# Lambda package and runtime
################################################################################

variable "lambda_package_path" {
  description = "Path to the Lambda deployment zip built by `make build` (one shared zip for every dynamigrate function)."
  type        = string

  validation {
    condition     = endswith(var.lambda_package_path, ".zip")
    error_message = "lambda_package_path must point to a .zip file (run `make build` to create dist/dynamigrate-lambda.zip)."
  }
}

variable "runtime" {
  description = "Lambda runtime of the writer function."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be one of python3.11, python3.12 or python3.13 (the package needs Python 3.11 or newer)."
  }
}

variable "architectures" {
  description = "Instruction set of the writer function. The package is pure Python, so both work; arm64 is cheaper per GB-second."
  type        = list(string)
  default     = ["x86_64"]

  validation {
    condition     = length(var.architectures) == 1 && alltrue([for a in var.architectures : contains(["x86_64", "arm64"], a)])
    error_message = "architectures must be [\"x86_64\"] or [\"arm64\"]."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the writer function: PassThrough (trace only when the caller does) or Active (adds xray:PutTraceSegments to the role)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "writer" {
  description = "Writer function and SQS event source mapping settings. Set enabled = false to pause replication (for example while a bulk copy runs); changes stay in the queue."
  type = object({
    timeout_in_seconds                 = optional(number, 60)
    memory_size                        = optional(number, 512)
    threads                            = optional(number, 8)
    batch_size                         = optional(number, 10)
    maximum_batching_window_in_seconds = optional(number, 1)
    maximum_concurrency                = optional(number, 5)
    max_receive_count                  = optional(number, 5)
    reserved_concurrent_executions     = optional(number)
    enabled                            = optional(bool, true)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.writer.timeout_in_seconds >= 1 && var.writer.timeout_in_seconds <= 900
    error_message = "writer.timeout_in_seconds must be between 1 and 900 (Lambda's maximum)."
  }

  validation {
    condition     = var.writer.memory_size >= 128 && var.writer.memory_size <= 10240
    error_message = "writer.memory_size must be between 128 and 10240 MB."
  }

  validation {
    condition     = var.writer.threads >= 1 && var.writer.threads <= 64
    error_message = "writer.threads must be between 1 and 64."
  }

  validation {
    condition     = var.writer.batch_size >= 1 && var.writer.batch_size <= 10000
    error_message = "writer.batch_size must be between 1 and 10000 (AWS's range for standard SQS queues)."
  }

  validation {
    condition     = var.writer.maximum_batching_window_in_seconds >= 0 && var.writer.maximum_batching_window_in_seconds <= 300
    error_message = "writer.maximum_batching_window_in_seconds must be between 0 and 300."
  }

  validation {
    condition     = var.writer.batch_size <= 10 || var.writer.maximum_batching_window_in_seconds >= 1
    error_message = "writer.batch_size above 10 needs writer.maximum_batching_window_in_seconds of at least 1 (an AWS rule for SQS event sources)."
  }

  validation {
    condition     = var.writer.maximum_concurrency >= 2 && var.writer.maximum_concurrency <= 1000
    error_message = "writer.maximum_concurrency must be between 2 and 1000 (AWS's range for SQS event source scaling)."
  }

  validation {
    condition     = var.writer.max_receive_count >= 1 && var.writer.max_receive_count <= 1000
    error_message = "writer.max_receive_count must be between 1 and 1000."
  }

  validation {
    condition     = var.writer.reserved_concurrent_executions == null || try(var.writer.reserved_concurrent_executions >= 0, false)
    error_message = "writer.reserved_concurrent_executions must be null (unreserved) or a number >= 0."
  }
}

################################################################################
# Monitoring
################################################################################

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires and when it clears (an SNS topic of yours, in this account). Empty: the alarms only change state."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-zA-Z-]*:(sns|lambda|ssm|automate):", arn))])
    error_message = "alarm_actions must be ARNs of SNS topics (or other CloudWatch alarm actions)."
  }
}

variable "alarms" {
  description = "CloudWatch alarms on the writer (errors, throttles, dead-letter queue, parked changes, queue age, replication lag, target write throttles). Set enabled = false to create none."
  type = object({
    enabled                    = optional(bool, true)
    period_in_seconds          = optional(number, 300)
    queue_age_in_seconds       = optional(number, 900)
    replication_lag_in_seconds = optional(number, 900)
    write_throttle_events      = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_in_seconds)
    error_message = "alarms.period_in_seconds must be 60, 300, 900 or 3600."
  }

  validation {
    condition     = var.alarms.queue_age_in_seconds >= 60 && var.alarms.replication_lag_in_seconds >= 1
    error_message = "alarms.queue_age_in_seconds must be at least 60 and alarms.replication_lag_in_seconds at least 1."
  }

  validation {
    condition     = var.alarms.queue_age_in_seconds < var.queue_message_retention_in_seconds
    error_message = "alarms.queue_age_in_seconds must be below queue_message_retention_in_seconds, or messages expire before it fires."
  }

  validation {
    condition     = var.alarms.write_throttle_events >= 1
    error_message = "alarms.write_throttle_events must be at least 1."
  }
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard (<name>-replication) with lag, throughput, conflicts and errors."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Export load (bulk copy of large tables from an Export to S3)
################################################################################

variable "export_load" {
  description = <<-EOT
    Bulk copy from an Export to S3 without a machine of your own: a Step Functions
    Distributed Map runs the package's loader Lambda over the export's data files,
    through the same version rule as the writer. enabled creates the loader function
    and the state machine. exporter_principal_arns are the source-account principals
    (roles or users, wildcards allowed) that may call ExportTableToPointInTime into
    this bucket under exports/ (also what `dynamigrate load-export` reads); empty
    grants no one. max_concurrency data files load at once, each by one function
    with `threads` concurrent transactions; write_units_per_second caps all of
    them together (null: as fast as the table takes, throttling retried). The
    loader applies var.transform, as the writer does. Exports and load reports
    expire after retention_in_days.
  EOT
  type = object({
    enabled                        = optional(bool, false)
    exporter_principal_arns        = optional(list(string), [])
    max_concurrency                = optional(number, 10)
    memory_size                    = optional(number, 1024)
    timeout_in_seconds             = optional(number, 900)
    threads                        = optional(number, 16)
    write_units_per_second         = optional(number)
    reserved_concurrent_executions = optional(number)
    retention_in_days              = optional(number, 14)
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for arn in var.export_load.exporter_principal_arns : can(regex("^arn:aws[a-zA-Z-]*:(iam|sts)::[0-9]{12}:[\\w+=,.@/*-]+$", arn))])
    error_message = "export_load.exporter_principal_arns must be IAM principal ARNs such as arn:aws:iam::111111111111:role/migration-operator (wildcards allowed)."
  }

  validation {
    condition     = var.export_load.max_concurrency >= 1 && var.export_load.max_concurrency <= 10000
    error_message = "export_load.max_concurrency must be between 1 and 10000 (Distributed Map's limit for child executions)."
  }

  validation {
    condition     = var.export_load.memory_size >= 128 && var.export_load.memory_size <= 10240
    error_message = "export_load.memory_size must be between 128 and 10240 MB."
  }

  validation {
    condition     = var.export_load.timeout_in_seconds >= 180 && var.export_load.timeout_in_seconds <= 900
    error_message = "export_load.timeout_in_seconds must be between 180 and 900: the loader keeps 90 seconds in reserve to hand over where it stopped."
  }

  validation {
    condition     = var.export_load.threads >= 1 && var.export_load.threads <= 64
    error_message = "export_load.threads must be between 1 and 64."
  }

  validation {
    condition     = var.export_load.write_units_per_second == null || try(var.export_load.write_units_per_second >= var.export_load.max_concurrency, false)
    error_message = "export_load.write_units_per_second must be null or at least max_concurrency (each concurrent loader gets an equal share)."
  }

  validation {
    condition     = var.export_load.reserved_concurrent_executions == null || try(var.export_load.reserved_concurrent_executions >= 0, false)
    error_message = "export_load.reserved_concurrent_executions must be null (unreserved) or a number >= 0."
  }

  validation {
    condition     = var.export_load.retention_in_days >= 1
    error_message = "export_load.retention_in_days must be at least 1."
  }
}

################################################################################
# Change bucket
################################################################################

variable "change_bucket_name" {
  description = "Name of the change bucket. null uses \"<name>-changes-<target_account_id>-<region>\", which must fit in 63 characters."
  type        = string
  default     = null

  validation {
    condition     = var.change_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.change_bucket_name))
    error_message = "change_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the change bucket even when it still holds objects. Keep false in production so the change log survives a mistaken destroy."
  type        = bool
  default     = false
}

variable "change_log_retention_in_days" {
  description = "Days to keep change-log objects under changes/ before they expire."
  type        = number
  default     = 30

  validation {
    condition     = var.change_log_retention_in_days >= 1 && var.change_log_retention_in_days <= 3650
    error_message = "change_log_retention_in_days must be between 1 and 3650."
  }
}

variable "dead_letter_retention_in_days" {
  description = "Days to keep records the writer could not apply (under dead-letter/) before they expire. Longer than the change log so they can be inspected and replayed."
  type        = number
  default     = 90

  validation {
    condition     = var.dead_letter_retention_in_days >= 1 && var.dead_letter_retention_in_days <= 3650
    error_message = "dead_letter_retention_in_days must be between 1 and 3650."
  }
}

variable "noncurrent_version_retention_in_days" {
  description = "Days to keep noncurrent (overwritten or deleted) object versions in the change bucket."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_retention_in_days >= 1 && var.noncurrent_version_retention_in_days <= 3650
    error_message = "noncurrent_version_retention_in_days must be between 1 and 3650."
  }
}

variable "access_logging" {
  description = "Server access logging for the change bucket: the name of an existing log bucket in the target account and a key prefix. null disables access logging."
  type = object({
    target_bucket = string
    target_prefix = optional(string)
  })
  default = null
}

################################################################################
# Queues
################################################################################

variable "queue_message_retention_in_seconds" {
  description = "Seconds the change queue keeps a notification the writer has not processed. The dead-letter queue always keeps messages for 14 days (the maximum), so nothing expires there first."
  type        = number
  default     = 1209600

  validation {
    condition     = var.queue_message_retention_in_seconds >= 60 && var.queue_message_retention_in_seconds <= 1209600
    error_message = "queue_message_retention_in_seconds must be between 60 (1 minute) and 1209600 (14 days)."
  }
}

################################################################################
# Ledger table
################################################################################

variable "ledger_retention_in_days" {
  description = "Days the writer keeps tombstones and per-item last-applied positions in the ledger table (DynamoDB TTL on expires_at). Must outlast the longest delay between a change and its replay."
  type        = number
  default     = 14

  validation {
    condition     = var.ledger_retention_in_days >= 1 && var.ledger_retention_in_days <= 365
    error_message = "ledger_retention_in_days must be between 1 and 365."
  }
}

variable "ledger_deletion_protection_enabled" {
  description = "Turn on DynamoDB deletion protection for the ledger table. When true, `terraform destroy` fails until it is turned off again."
  type        = bool
  default     = false
}

################################################################################
# Encryption
################################################################################

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key in the target account for the change bucket (SSE-KMS with a bucket key), both queues and the ledger table. null uses SSE-S3, SQS-managed SSE and the AWS managed DynamoDB key. The key policy must let the source writer role use kms:GenerateDataKey and s3.amazonaws.com use kms:GenerateDataKey and kms:Decrypt (for notifications)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab (aliases are not accepted)."
  }
}

################################################################################
# Logging
################################################################################

variable "log_level" {
  description = "Log level of the writer function (POWERTOOLS_LOG_LEVEL and LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "log_retention_in_days" {
  description = "Days CloudWatch Logs keeps the writer's logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key that encrypts the writer's log group. The key policy must allow logs.<region>.amazonaws.com. null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

################################################################################
# IAM and tags
################################################################################

variable "role_permissions_boundary_arn" {
  description = "ARN of a permissions boundary policy to attach to the writer role, when your organisation requires one."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::([0-9]{12}|aws):policy/.+$", var.role_permissions_boundary_arn))
    error_message = "role_permissions_boundary_arn must be an IAM policy ARN such as arn:aws:iam::222222222222:policy/boundary."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource (a dynamigrate:migration tag with the migration name is added)."
  type        = map(string)
  default     = {}
}
