################################################################################
# Migration
################################################################################

variable "name" {
  description = "Short name of the migration (e.g. \"orders-migration\"). Every resource name in both accounts derives from it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. \"orders-migration\")."
  }
}

variable "source_account_id" {
  description = "12-digit AWS account id of the source table (the aws.source provider's account)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.source_account_id))
    error_message = "source_account_id must be a 12-digit AWS account id (digits only, keep leading zeros, quote it as a string)."
  }
}

variable "target_account_id" {
  description = "12-digit AWS account id of the target table (the aws.target provider's account)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.target_account_id))
    error_message = "target_account_id must be a 12-digit AWS account id (digits only, keep leading zeros, quote it as a string)."
  }
}

variable "source_table_name" {
  description = "Name of the existing source table. Its stream must be enabled with view type NEW_AND_OLD_IMAGES. Never modified or destroyed by this module."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.source_table_name))
    error_message = "source_table_name must be a DynamoDB table name: 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "target_table_name" {
  description = "Name of the existing target table. Never modified or destroyed by this module (only its items are written)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.target_table_name))
    error_message = "target_table_name must be a DynamoDB table name: 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "version_attribute" {
  description = "Item attribute holding a monotonically increasing version or last-modified timestamp; the writer applies a change only when it is newer. null orders changes by the source stream's sequence numbers."
  type        = string
  default     = null
}

variable "transform" {
  description = "Item transform for a new key schema (package.module:function in the Lambda package, or a JSON key mapping; see docs/transforms.md), applied by the writer and the export loader alike. null copies items unchanged."
  type        = string
  default     = null
}

################################################################################
# Lambda package and runtime
################################################################################

variable "lambda_package_path" {
  description = "Path to the Lambda zip built by `make build`. null uses dist/dynamigrate-lambda.zip inside this module."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_package_path == null || can(regex("\\.zip$", var.lambda_package_path))
    error_message = "lambda_package_path must point to a .zip file (run `make build` to create dist/dynamigrate-lambda.zip), or be null."
  }
}

variable "runtime" {
  description = "Lambda runtime of both functions."
  type        = string
  default     = "python3.12"
}

variable "architectures" {
  description = "Instruction set of both functions: [\"x86_64\"] or [\"arm64\"]."
  type        = list(string)
  default     = ["x86_64"]
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of both functions: PassThrough or Active."
  type        = string
  default     = "PassThrough"
}

variable "stream" {
  description = "Source side: stream event source mapping and stream-to-S3 function settings. Unset attributes take the source module's defaults (batch_size 1000, maximum_batching_window_in_seconds 1, parallelization_factor 1, bisect_batch_on_function_error true, maximum_retry_attempts 10, maximum_record_age_in_seconds -1, starting_position TRIM_HORIZON, enabled true, timeout_in_seconds 60, memory_size 256)."
  type = object({
    batch_size                         = optional(number)
    maximum_batching_window_in_seconds = optional(number)
    parallelization_factor             = optional(number)
    bisect_batch_on_function_error     = optional(bool)
    maximum_retry_attempts             = optional(number)
    maximum_record_age_in_seconds      = optional(number)
    starting_position                  = optional(string)
    enabled                            = optional(bool)
    timeout_in_seconds                 = optional(number)
    memory_size                        = optional(number)
    reserved_concurrent_executions     = optional(number)
  })
  default  = {}
  nullable = false
}

variable "writer" {
  description = "Target side: writer function and SQS event source mapping settings. Unset attributes take the target module's defaults (timeout_in_seconds 60, memory_size 512, threads 8, batch_size 10, maximum_batching_window_in_seconds 1, maximum_concurrency 5, max_receive_count 5, enabled true)."
  type = object({
    timeout_in_seconds                 = optional(number)
    memory_size                        = optional(number)
    threads                            = optional(number)
    batch_size                         = optional(number)
    maximum_batching_window_in_seconds = optional(number)
    maximum_concurrency                = optional(number)
    max_receive_count                  = optional(number)
    reserved_concurrent_executions     = optional(number)
    enabled                            = optional(bool)
  })
  default  = {}
  nullable = false
}

variable "export_load" {
  description = "Target side: bulk copy from an Export to S3 by a Step Functions Distributed Map running the loader function (see modules/target). Unset attributes take the target module's defaults (enabled false, exporter_principal_arns [], max_concurrency 10, memory_size 1024, timeout_in_seconds 900, threads 16, write_units_per_second null, retention_in_days 14; the loader applies var.transform). When enabled and create_operator_role is true, the operator role may also export the source table into the change bucket."
  type = object({
    enabled                        = optional(bool)
    exporter_principal_arns        = optional(list(string), [])
    max_concurrency                = optional(number)
    memory_size                    = optional(number)
    timeout_in_seconds             = optional(number)
    threads                        = optional(number)
    write_units_per_second         = optional(number)
    reserved_concurrent_executions = optional(number)
    retention_in_days              = optional(number)
  })
  default  = {}
  nullable = false
}

################################################################################
# Target account: change bucket, queues, ledger
################################################################################

variable "change_bucket_name" {
  description = "Name of the change bucket. null uses \"<name>-changes-<target_account_id>-<region>\"."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the change bucket and the created on-failure bucket even when they still hold objects."
  type        = bool
  default     = false
}

variable "change_log_retention_in_days" {
  description = "Days to keep change-log objects under changes/."
  type        = number
  default     = 30
}

variable "dead_letter_retention_in_days" {
  description = "Days to keep records the writer could not apply (dead-letter/)."
  type        = number
  default     = 90
}

variable "noncurrent_version_retention_in_days" {
  description = "Days to keep noncurrent object versions in the change bucket."
  type        = number
  default     = 7
}

variable "change_bucket_access_logging" {
  description = "Server access logging for the change bucket: an existing log bucket in the target account and an optional key prefix. null disables it."
  type = object({
    target_bucket = string
    target_prefix = optional(string)
  })
  default = null
}

variable "queue_message_retention_in_seconds" {
  description = "Seconds the change queue keeps an unprocessed notification (60-1209600)."
  type        = number
  default     = 1209600
}

variable "ledger_retention_in_days" {
  description = "Days the ledger keeps tombstones and last-applied positions (TTL)."
  type        = number
  default     = 14
}

variable "ledger_deletion_protection_enabled" {
  description = "Turn on deletion protection for the ledger table."
  type        = bool
  default     = false
}

variable "create_kms_keys" {
  description = "Create a customer managed key in each account (modules/kms-key) and encrypt everything with them: in the target account the change bucket, queues, DLQs, ledger and function environments; in the source account the on-failure bucket, the stream function's environment and, with rollback_enabled, the rollback pipeline's bucket, queues and ledger. Each key policy lets the other account's writer role generate data keys through S3 only. Leave kms_key_arn and source_kms_key_arn null when this is true."
  type        = bool
  default     = false
}

variable "kms_key_deletion_window_in_days" {
  description = "Days KMS waits before deleting a key created by create_kms_keys (7-30). Data encrypted with it is unreadable once it is gone."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Full ARN (not an alias: the source account resolves aliases in its own account) of an existing customer managed key in the target account for the change bucket, queues, DLQs, ledger and the writer's environment. Its key policy must allow the source role (`<name>-stream-to-s3`) kms:GenerateDataKey via s3.<region>.amazonaws.com, and s3.amazonaws.com kms:GenerateDataKey and kms:Decrypt for the change bucket (aws:SourceArn, aws:SourceAccount); modules/kms-key writes exactly that policy. null (and create_kms_keys = false) uses AWS managed encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a full KMS key ARN such as arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab (aliases and key IDs are resolved in the caller's account, so the source account could not use them)."
  }
}

variable "source_kms_key_arn" {
  description = "Full ARN of an existing customer managed key in the source account for the stream function's environment, the created on-failure bucket and, with rollback_enabled, the rollback pipeline's bucket, queues and ledger (its key policy must then allow the rollback stream role `<name>-rollback-stream-to-s3` of the target account as kms_key_arn's allows the source role). null (and create_kms_keys = false) uses AWS managed encryption."
  type        = string
  default     = null

  validation {
    condition     = var.source_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.source_kms_key_arn))
    error_message = "source_kms_key_arn must be a full KMS key ARN such as arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

variable "target_log_kms_key_arn" {
  description = "KMS key (target account) for the writer's log group. null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "target_role_permissions_boundary_arn" {
  description = "Permissions boundary for the writer role, when your organisation requires one."
  type        = string
  default     = null
}

################################################################################
# Source account: stream function, on-failure bucket
################################################################################

variable "source_role_name" {
  description = "Name of the stream-to-S3 execution role. null uses \"<name>-stream-to-s3\". The change bucket policy trusts exactly this role."
  type        = string
  default     = null
}

variable "on_failure_bucket_arn" {
  description = "ARN of an existing bucket (source account) for discarded stream batches. null creates \"<name>-stream-failures-<source_account_id>-<region>\"."
  type        = string
  default     = null
}

variable "on_failure_bucket_name" {
  description = "Name for the created on-failure bucket when the generated one is too long."
  type        = string
  default     = null
}

variable "on_failure_retention_in_days" {
  description = "Days the created on-failure bucket keeps discarded batches."
  type        = number
  default     = 90
}

variable "on_failure_bucket_kms_key_arn" {
  description = "KMS key (source account) of the on-failure bucket. null uses the source account's key (create_kms_keys or source_kms_key_arn) for a created bucket, else SSE-S3."
  type        = string
  default     = null
}

variable "on_failure_bucket_access_logging" {
  description = "Server access logging for the created on-failure bucket: an existing log bucket in the source account and an optional key prefix. null disables it."
  type = object({
    target_bucket = string
    target_prefix = optional(string)
  })
  default = null
}

variable "source_log_kms_key_arn" {
  description = "KMS key (source account) for the stream function's log group. null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "source_role_permissions_boundary_arn" {
  description = "Permissions boundary for the stream-to-S3 role, when your organisation requires one."
  type        = string
  default     = null
}

################################################################################
# Operator role (source account)
################################################################################

variable "create_operator_role" {
  description = "Create a role in the source account that the dynamigrate CLI assumes from the target account (bulk copy, verify, preflight, pause/resume of the stream). Needs operator_external_id."
  type        = bool
  default     = false
}

variable "operator_role_name" {
  description = "Name of the operator role. null uses \"<name>-operator\"."
  type        = string
  default     = null
}

variable "operator_external_id" {
  description = "External id the CLI must present to assume the operator role (2-1224 characters). Required when create_operator_role is true."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.operator_external_id == null || try(length(var.operator_external_id) >= 2 && length(var.operator_external_id) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", var.operator_external_id)), false)
    error_message = "operator_external_id must be 2-1224 characters of letters, digits and +=,.@:/_- (generate one, e.g. `uuidgen`)."
  }
}

variable "operator_trusted_principal_arns" {
  description = "Principals allowed to assume the operator role. Empty trusts the target account (arn:<partition>:iam::<target_account_id>:root), whose IAM then decides who may."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "operator_allow_write" {
  description = "Let the operator role also write items to the source table (needed only for a rollback that copies data back)."
  type        = bool
  default     = false
}

variable "operator_max_session_duration" {
  description = "Maximum session length of the operator role in seconds (3600-43200)."
  type        = number
  default     = 3600
}

################################################################################
# Observability and tags
################################################################################

variable "rollback_enabled" {
  description = "Deploy the rollback pipeline: target table -> source table, through the same version rule, so traffic can move back after the switch without losing the writes the target took. Needs version_attribute (two tables' stream sequence numbers cannot order writes made in both) and no transform, and the target table's stream with NEW_AND_OLD_IMAGES. Its capture starts at LATEST, so turn it on before traffic moves (docs/cutover.md)."
  type        = bool
  default     = false
  nullable    = false
}

variable "source_alarm_actions" {
  description = "ARNs (an SNS topic in the source account) notified by the capture alarms: stream iterator age, errors, throttles."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "target_alarm_actions" {
  description = "ARNs (an SNS topic in the target account) notified by the writer alarms: errors, throttles, dead-letter queue, parked changes, queue age, replication lag, target write throttles."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "alarms" {
  description = "Alarm thresholds for both sides (modules/source and modules/target document each). enabled = false creates none."
  type = object({
    enabled                    = optional(bool, true)
    period_in_seconds          = optional(number, 300)
    iterator_age_in_seconds    = optional(number, 3600)
    queue_age_in_seconds       = optional(number, 900)
    replication_lag_in_seconds = optional(number, 900)
    write_throttle_events      = optional(number, 1)
  })
  default  = {}
  nullable = false
}

variable "create_dashboards" {
  description = "Create the CloudWatch dashboards: <name>-capture in the source account, <name>-replication in the target account."
  type        = bool
  default     = true
  nullable    = false
}

variable "log_level" {
  description = "Log level of both functions: DEBUG, INFO, WARNING, ERROR or CRITICAL."
  type        = string
  default     = "INFO"
}

variable "log_retention_in_days" {
  description = "Days CloudWatch Logs keeps both functions' logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to every taggable resource in both accounts."
  type        = map(string)
  default     = {}
}
