variable "region" {
  description = "AWS region of the source table."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Short name of the migration; use the same value as in the target configuration."
  type        = string
  default     = "orders-migration"
}

variable "source_account_id" {
  description = "12-digit id of this (source) account."
  type        = string
}

variable "target_account_id" {
  description = "12-digit id of the target account (owner of the change bucket)."
  type        = string
}

variable "source_table_name" {
  description = "Existing source table (stream enabled, NEW_AND_OLD_IMAGES)."
  type        = string
}

variable "change_bucket_name" {
  description = "The target configuration's change_bucket_name output."
  type        = string
}

variable "role_name" {
  description = "Name of the stream-to-S3 role, when not \"<name>-stream-to-s3\" (must match source_role_name in the target configuration)."
  type        = string
  default     = null
}

variable "lambda_package_path" {
  description = "Path to the Lambda zip built by `make build`. null uses dist/dynamigrate-lambda.zip at the repository root."
  type        = string
  default     = null
}

variable "create_operator_role" {
  description = "Create the operator role the CLI assumes from the target account (needs operator_external_id)."
  type        = bool
  default     = false
}

variable "operator_external_id" {
  description = "External id the CLI must present to assume the operator role."
  type        = string
  default     = null
  sensitive   = true
}

variable "force_destroy" {
  description = "Let destroy delete the on-failure bucket while it still holds objects (rehearsals only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
