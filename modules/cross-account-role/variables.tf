################################################################################
# Role
################################################################################

variable "name" {
  description = "Name of the role the dynamigrate CLI assumes (bulk copy, verify, preflight, pause/resume)."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.name))
    error_message = "name must be an IAM role name: 1-64 characters of letters, digits and +=,.@_-."
  }
}

variable "description" {
  description = "Description of the role."
  type        = string
  default     = "dynamigrate operator role: lets the migration CLI read (and optionally write) the listed DynamoDB tables."
}

variable "max_session_duration" {
  description = "Maximum session length in seconds for the role (bulk copies of large tables may need more than the 1 hour default)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 (1 hour) and 43200 (12 hours)."
  }
}

variable "permissions_boundary_arn" {
  description = "ARN of a permissions boundary policy to attach to the role, when your organisation requires one."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-zA-Z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN such as arn:aws:iam::111111111111:policy/boundary."
  }
}

################################################################################
# Trust
################################################################################

variable "trusted_principal_arns" {
  description = "IAM principals allowed to assume the role: account roots (arn:aws:iam::222222222222:root), roles or users. Each must also present external_id."
  type        = list(string)

  validation {
    condition     = length(var.trusted_principal_arns) > 0
    error_message = "trusted_principal_arns must list at least one principal, e.g. [\"arn:aws:iam::222222222222:root\"]."
  }

  validation {
    condition     = alltrue([for a in var.trusted_principal_arns : can(regex("^arn:aws[a-zA-Z-]*:(iam::[0-9]{12}:(root|role/[\\w+=,.@/-]+|user/[\\w+=,.@/-]+)|sts::[0-9]{12}:assumed-role/[\\w+=,.@-]+/[\\w+=,.@-]+)$", a))])
    error_message = "Each trusted_principal_arns entry must be an IAM ARN: arn:aws:iam::<12 digits>:root, :role/<name> or :user/<name>."
  }
}

variable "external_id" {
  description = "Shared secret every caller must pass as sts:ExternalId (confused-deputy protection). 2-1224 characters of letters, digits and +=,.@:/-."
  type        = string
  sensitive   = true

  validation {
    # RE2 caps repetition counts at 1000, so the length is checked apart.
    condition     = try(length(var.external_id) >= 2 && length(var.external_id) <= 1224 && can(regex("^[\\w+=,.@:/-]+$", var.external_id)), false)
    error_message = "external_id must be 2-1224 characters of letters, digits and +=,.@:/_- (generate one, e.g. `uuidgen`, and share it with the operators)."
  }
}

variable "allowed_principal_arn_patterns" {
  description = "Optional aws:PrincipalArn patterns (wildcards allowed) that further narrow who may assume the role, e.g. a CI role when trusted_principal_arns is an account root. Empty means any principal the trusted accounts allow."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.allowed_principal_arn_patterns : startswith(a, "arn:")])
    error_message = "Each allowed_principal_arn_patterns entry must be an ARN pattern such as arn:aws:iam::222222222222:role/ci-*."
  }
}

variable "require_mfa" {
  description = "Require callers to have signed in with MFA (aws:MultiFactorAuthPresent). Leave false for CI roles, which cannot use MFA."
  type        = bool
  default     = false
}

################################################################################
# Permissions
################################################################################

variable "table_arns" {
  description = "ARNs of the DynamoDB tables the CLI may read (and write when allow_write). Indexes and streams of these tables are included."
  type        = list(string)

  validation {
    condition     = length(var.table_arns) > 0
    error_message = "table_arns must list at least one table ARN."
  }

  validation {
    condition     = alltrue([for a in var.table_arns : can(regex("^arn:aws[a-zA-Z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[a-zA-Z0-9_.-]{3,255}$", a))])
    error_message = "Each table_arns entry must be a DynamoDB table ARN such as arn:aws:dynamodb:eu-west-1:111111111111:table/orders (no wildcards)."
  }
}

variable "allow_write" {
  description = "Also allow item writes (PutItem, DeleteItem, UpdateItem, ConditionCheckItem, BatchWriteItem) on the tables, e.g. for a bulk copy into them or a rollback."
  type        = bool
  default     = false
}

variable "event_source_mapping_arns" {
  description = "ARNs of the Lambda event source mappings the CLI may read and enable/disable (pause and resume replication)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.event_source_mapping_arns : can(regex("^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:[0-9]{12}:event-source-mapping:[0-9a-f-]{36}$", a))])
    error_message = "Each event_source_mapping_arns entry must be an event source mapping ARN such as arn:aws:lambda:eu-west-1:111111111111:event-source-mapping:<uuid>."
  }
}

variable "export_destination" {
  description = "Where the role may export the tables to (ExportTableToPointInTime, for the export paths of the bulk copy): the bucket's ARN, the key prefix and the bucket owner's account id. null grants no export."
  type = object({
    bucket_arn   = string
    prefix       = string
    bucket_owner = string
  })
  default = null

  validation {
    condition     = var.export_destination == null || can(regex("^arn:aws[a-zA-Z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.export_destination.bucket_arn))
    error_message = "export_destination.bucket_arn must be an S3 bucket ARN such as arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1."
  }

  validation {
    condition     = var.export_destination == null || can(regex("^[0-9]{12}$", var.export_destination.bucket_owner))
    error_message = "export_destination.bucket_owner must be a 12-digit AWS account id."
  }
}

variable "tags" {
  description = "Tags applied to the role."
  type        = map(string)
  default     = {}
}
