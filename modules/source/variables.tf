################################################################################
# Migration
################################################################################

variable "name" {
  description = "Short name of the migration (e.g. \"orders-migration\"). Every resource name derives from it; use the same value as in the target module."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3-40 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. \"orders-migration\")."
  }
}

variable "source_account_id" {
  description = "12-digit AWS account id that owns the source table (the account this module is applied in)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.source_account_id))
    error_message = "source_account_id must be a 12-digit AWS account id (digits only, keep leading zeros, quote it as a string)."
  }
}

variable "target_account_id" {
  description = "12-digit AWS account id that owns the change bucket. The function passes it as ExpectedBucketOwner, so it never writes to a bucket someone else owns."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.target_account_id))
    error_message = "target_account_id must be a 12-digit AWS account id (digits only, keep leading zeros, quote it as a string)."
  }
}

variable "source_table_name" {
  description = "Name of the existing source DynamoDB table. Its stream must be enabled with view type NEW_AND_OLD_IMAGES. The module only reads it; it never creates, changes or destroys it."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.source_table_name))
    error_message = "source_table_name must be a DynamoDB table name: 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "change_bucket_name" {
  description = "Name of the change bucket in the target account (the target module's change_bucket_name output)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.change_bucket_name))
    error_message = "change_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, '.' and '-' (use the target module's change_bucket_name output)."
  }
}

variable "role_name" {
  description = "Name of the function's execution role. null uses \"<name>-stream-to-s3\". The target's bucket policy trusts exactly this role's ARN, so keep both sides in step."
  type        = string
  default     = null

  validation {
    condition     = var.role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", var.role_name))
    error_message = "role_name must be 1-64 characters of letters, digits and +=,.@_-."
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
  description = "Lambda runtime of the stream-to-S3 function."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be one of python3.11, python3.12 or python3.13 (the package needs Python 3.11 or newer)."
  }
}

variable "architectures" {
  description = "Instruction set of the stream-to-S3 function. The package is pure Python, so both work; arm64 is cheaper per GB-second."
  type        = list(string)
  default     = ["x86_64"]

  validation {
    condition     = length(var.architectures) == 1 && alltrue([for a in var.architectures : contains(["x86_64", "arm64"], a)])
    error_message = "architectures must be [\"x86_64\"] or [\"arm64\"]."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the function: PassThrough (trace only when the caller does) or Active (adds xray:PutTraceSegments to the role)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "stream" {
  description = "Stream event source mapping and function settings. Set enabled = false to pause reading the stream (records wait in the stream for up to 24 hours)."
  type = object({
    batch_size                         = optional(number, 1000)
    maximum_batching_window_in_seconds = optional(number, 1)
    parallelization_factor             = optional(number, 1)
    bisect_batch_on_function_error     = optional(bool, true)
    maximum_retry_attempts             = optional(number, 10)
    maximum_record_age_in_seconds      = optional(number, -1)
    starting_position                  = optional(string, "TRIM_HORIZON")
    enabled                            = optional(bool, true)
    timeout_in_seconds                 = optional(number, 60)
    memory_size                        = optional(number, 256)
    reserved_concurrent_executions     = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.stream.batch_size >= 1 && var.stream.batch_size <= 10000
    error_message = "stream.batch_size must be between 1 and 10000 (AWS's range for DynamoDB streams)."
  }

  validation {
    condition     = var.stream.maximum_batching_window_in_seconds >= 0 && var.stream.maximum_batching_window_in_seconds <= 300
    error_message = "stream.maximum_batching_window_in_seconds must be between 0 and 300."
  }

  validation {
    condition     = var.stream.parallelization_factor >= 1 && var.stream.parallelization_factor <= 10
    error_message = "stream.parallelization_factor must be between 1 and 10."
  }

  validation {
    condition     = var.stream.maximum_retry_attempts >= -1 && var.stream.maximum_retry_attempts <= 10000
    error_message = "stream.maximum_retry_attempts must be between -1 (retry until the record expires) and 10000."
  }

  validation {
    condition     = var.stream.maximum_record_age_in_seconds == -1 || (var.stream.maximum_record_age_in_seconds >= 60 && var.stream.maximum_record_age_in_seconds <= 604800)
    error_message = "stream.maximum_record_age_in_seconds must be -1 (no limit) or between 60 and 604800."
  }

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.stream.starting_position)
    error_message = "stream.starting_position must be TRIM_HORIZON (replay the last 24 hours, the safe choice) or LATEST."
  }

  validation {
    condition     = var.stream.timeout_in_seconds >= 1 && var.stream.timeout_in_seconds <= 900
    error_message = "stream.timeout_in_seconds must be between 1 and 900 (Lambda's maximum)."
  }

  validation {
    condition     = var.stream.memory_size >= 128 && var.stream.memory_size <= 10240
    error_message = "stream.memory_size must be between 128 and 10240 MB."
  }

  validation {
    condition     = var.stream.reserved_concurrent_executions == null || try(var.stream.reserved_concurrent_executions >= 0, false)
    error_message = "stream.reserved_concurrent_executions must be null (unreserved) or a number >= 0."
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
  description = "CloudWatch alarms on the stream function (iterator age, errors, throttles). Set enabled = false to create none."
  type = object({
    enabled                 = optional(bool, true)
    period_in_seconds       = optional(number, 300)
    iterator_age_in_seconds = optional(number, 3600)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_in_seconds)
    error_message = "alarms.period_in_seconds must be 60, 300, 900 or 3600."
  }

  validation {
    condition     = var.alarms.iterator_age_in_seconds >= 60 && var.alarms.iterator_age_in_seconds <= 43200
    error_message = "alarms.iterator_age_in_seconds must be between 60 and 43200 (12 hours): stream records expire after 24 hours, and the alarm must leave time to act."
  }
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard (<name>-capture) with stream lag, throughput and errors."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# On-failure bucket
################################################################################

variable "on_failure_bucket_arn" {
  description = "ARN of an existing S3 bucket that receives batches the event source mapping discards. null creates \"<name>-stream-failures-<source_account_id>-<region>\" in the source account."
  type        = string
  default     = null

  validation {
    condition     = var.on_failure_bucket_arn == null || can(regex("^arn:aws[a-zA-Z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.on_failure_bucket_arn))
    error_message = "on_failure_bucket_arn must be an S3 bucket ARN such as arn:aws:s3:::my-failures (no key or wildcard)."
  }
}

variable "on_failure_bucket_name" {
  description = "Name of the on-failure bucket the module creates (ignored when on_failure_bucket_arn is set). null uses \"<name>-stream-failures-<source_account_id>-<region>\", which must fit in 63 characters."
  type        = string
  default     = null

  validation {
    condition     = var.on_failure_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.on_failure_bucket_name))
    error_message = "on_failure_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit."
  }
}

variable "on_failure_retention_in_days" {
  description = "Days the created on-failure bucket keeps discarded batches (and noncurrent versions) before they expire."
  type        = number
  default     = 90

  validation {
    condition     = var.on_failure_retention_in_days >= 1 && var.on_failure_retention_in_days <= 3650
    error_message = "on_failure_retention_in_days must be between 1 and 3650."
  }
}

variable "on_failure_bucket_kms_key_arn" {
  description = "ARN of the on-failure bucket's KMS key: the created bucket uses it for SSE-KMS; for an existing bucket (on_failure_bucket_arn) set it when that bucket encrypts with a KMS key. Either way the role gets kms:GenerateDataKey on it. null uses SSE-S3."
  type        = string
  default     = null

  validation {
    condition     = var.on_failure_bucket_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.on_failure_bucket_kms_key_arn))
    error_message = "on_failure_bucket_kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the created on-failure bucket even when it still holds objects."
  type        = bool
  default     = false
}

variable "access_logging" {
  description = "Server access logging for the created on-failure bucket: the name of an existing log bucket in the source account and a key prefix. null disables access logging."
  type = object({
    target_bucket = string
    target_prefix = optional(string)
  })
  default = null
}

################################################################################
# Encryption
################################################################################

variable "kms_key_arn" {
  description = "ARN of the KMS key (in the target account) that encrypts the change bucket, when it uses SSE-KMS. The function writes objects with it and the role gets kms:GenerateDataKey and kms:Encrypt on it; the key policy must allow this role too. null writes with the bucket's default encryption."
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
  description = "Log level of the function (POWERTOOLS_LOG_LEVEL and LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR or CRITICAL."
  }
}

variable "log_retention_in_days" {
  description = "Days CloudWatch Logs keeps the function's logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "lambda_kms_key_arn" {
  description = "ARN of a customer managed KMS key (this account) that encrypts the stream function's environment variables; its role gets kms:Decrypt on it. null uses Lambda's service key."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.lambda_kms_key_arn))
    error_message = "lambda_kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab (aliases are not accepted)."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key that encrypts the function's log group. The key policy must allow logs.<region>.amazonaws.com. null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

################################################################################
# IAM and tags
################################################################################

variable "role_permissions_boundary_arn" {
  description = "ARN of a permissions boundary policy to attach to the function's role, when your organisation requires one."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::([0-9]{12}|aws):policy/.+$", var.role_permissions_boundary_arn))
    error_message = "role_permissions_boundary_arn must be an IAM policy ARN such as arn:aws:iam::111111111111:policy/boundary."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource (a dynamigrate:migration tag with the migration name is added)."
  type        = map(string)
  default     = {}
}
