variable "region" {
  description = "AWS region of the target table."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Short name of the migration; use the same value in the source configuration."
  type        = string
  default     = "orders-migration"
}

variable "source_account_id" {
  description = "12-digit id of the source account."
  type        = string
}

variable "target_account_id" {
  description = "12-digit id of this (target) account."
  type        = string
}

variable "source_role_name" {
  description = "Name of the source account's stream-to-S3 role, when not \"<name>-stream-to-s3\" (must match role_name in the source configuration)."
  type        = string
  default     = null
}

variable "target_table_name" {
  description = "Existing target table."
  type        = string
}

variable "version_attribute" {
  description = "Item attribute that orders versions (null orders by stream sequence numbers)."
  type        = string
  default     = null
}

variable "lambda_package_path" {
  description = "Path to the Lambda zip built by `make build`. null uses dist/dynamigrate-lambda.zip at the repository root."
  type        = string
  default     = null
}

variable "writer_enabled" {
  description = "Whether the writer applies changes as they arrive (false keeps them queued, e.g. during a bulk copy)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy delete the change bucket while it still holds objects (rehearsals only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
