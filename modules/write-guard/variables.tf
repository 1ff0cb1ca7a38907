variable "name" {
  description = "Name of the migration: prefixes every resource and is the Migration dimension of the guard's metrics."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,37}$", var.name))
    error_message = "name must be 1-38 letters, digits or hyphens, starting with a letter or digit."
  }
}

variable "table_name" {
  description = "The OLD table (the one being retired). It needs a DynamoDB stream of any view type; the module never manages the table."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be a DynamoDB table name (3-255 characters: letters, digits, _ . -)."
  }
}

variable "writes_moved_at" {
  description = "When every writer moved to the new table, as an RFC 3339 UTC time (\"2026-11-24T10:00:00Z\"). Writes after it are foreign: counted as ForeignWrites, logged with their keys, alarmed. null (not declared yet) only counts writes as OldTableWrites."
  type        = string
  default     = null

  validation {
    condition     = var.writes_moved_at == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$", coalesce(var.writes_moved_at, "x")))
    error_message = "writes_moved_at must be an RFC 3339 time in UTC such as 2026-11-24T10:00:00Z, or null."
  }
}

variable "deny_writes" {
  description = "Attach a resource policy to the old table that denies every item write (PutItem, UpdateItem, DeleteItem, BatchWriteItem, PartiQL writes) to every principal except exempt_principal_arns (wildcards allowed). The table must not have another resource policy: this one replaces it."
  type = object({
    enabled               = optional(bool, false)
    exempt_principal_arns = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for arn in var.deny_writes.exempt_principal_arns : can(regex("^arn:aws[a-zA-Z-]*:(iam|sts)::[0-9]{12}:[\\w+=,.@/*-]+$", arn))])
    error_message = "deny_writes.exempt_principal_arns must be IAM principal ARNs such as arn:aws:iam::111111111111:role/break-glass."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when the alarms change state (an SNS topic of yours). Empty: the alarms only change state."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "enabled" {
  description = "Whether the stream mapping runs. Turn it off to pause the guard without deleting it."
  type        = bool
  default     = true
}

variable "lambda_package_path" {
  description = "Path to the Lambda deployment zip built by `make build` (the same zip as the pipeline's functions)."
  type        = string

  validation {
    condition     = endswith(var.lambda_package_path, ".zip")
    error_message = "lambda_package_path must point to a .zip file (run `make build` to create dist/dynamigrate-lambda.zip)."
  }
}

variable "runtime" {
  description = "Lambda runtime of the guard function."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.11, python3.12 or python3.13."
  }
}

variable "architectures" {
  description = "Instruction set of the guard function: [\"x86_64\"] or [\"arm64\"]."
  type        = list(string)
  default     = ["x86_64"]

  validation {
    condition     = length(var.architectures) == 1 && contains(["x86_64", "arm64"], var.architectures[0])
    error_message = "architectures must be [\"x86_64\"] or [\"arm64\"]."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the guard function: PassThrough or Active."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the guard function; null leaves it unreserved."
  type        = number
  default     = null
}

variable "role_name" {
  description = "Name of the guard's execution role. null uses \"<name>-write-guard\"."
  type        = string
  default     = null
}

variable "role_permissions_boundary_arn" {
  description = "Permissions boundary for the guard's role, when your organisation requires one."
  type        = string
  default     = null
}

variable "log_level" {
  description = "Log level of the guard function (DEBUG, INFO, WARNING, ERROR)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_in_days" {
  description = "Days to keep the guard's logs (which name every foreign write's key)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "lambda_kms_key_arn" {
  description = "ARN of a customer managed KMS key (this account) that encrypts the guard function's environment variables; its role gets kms:Decrypt on it. null uses Lambda's service key."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.lambda_kms_key_arn))
    error_message = "lambda_kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab (aliases are not accepted)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key for the guard's log group. null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}
