variable "name" {
  description = "Name of the migration (or pipeline). The key gets the alias \"alias/dynamigrate/<name>\" and the tag dynamigrate:migration = name."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,200}$", var.name))
    error_message = "name may contain only letters, digits, '-' and '_' (it becomes part of a KMS alias)."
  }
}

variable "description" {
  description = "Description of the key, shown in the KMS console."
  type        = string
  default     = null
}

variable "account_id" {
  description = "Account the key is created in (the provider's account). Its root principal administers and uses the key through IAM, as with a key created in the console; nothing outside this account can use the key except the principals named below."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID."
  }
}

variable "s3_writer_principal_arns" {
  description = "Exact ARNs of roles (usually in the other account) that write objects encrypted with this key through S3, such as the stream function's role: kms:GenerateDataKey, only when S3 calls KMS for them (kms:ViaService)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.s3_writer_principal_arns : can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "s3_writer_principal_arns must be IAM role ARNs (arn:aws:iam::<account>:role/<name>); account roots and wildcards are not accepted."
  }
}

variable "s3_exporter_principal_arns" {
  description = "Exact ARNs of roles that export a DynamoDB table into a bucket encrypted with this key (the export writes multipart uploads through S3): kms:GenerateDataKey and kms:Decrypt, only through S3."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.s3_exporter_principal_arns : can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "s3_exporter_principal_arns must be IAM role ARNs (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "s3_notification_bucket_arns" {
  description = "ARNs of buckets in this account whose event notifications S3 sends to queues encrypted with this key: s3.amazonaws.com gets kms:GenerateDataKey and kms:Decrypt, only for these buckets (aws:SourceArn) in this account (aws:SourceAccount)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.s3_notification_bucket_arns : can(regex("^arn:aws[a-zA-Z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", arn))])
    error_message = "s3_notification_bucket_arns must be bucket ARNs such as arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1."
  }
}

variable "deletion_window_in_days" {
  description = "Days KMS waits before deleting the key after `terraform destroy` (7-30). Objects, queue messages and ledger items encrypted with it become unreadable once it is gone."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags for the key."
  type        = map(string)
  default     = {}
}
