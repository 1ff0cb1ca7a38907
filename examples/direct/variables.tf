################################################################################
# Accounts and providers
################################################################################

variable "region" {
  description = "AWS region of both tables."
  type        = string
  default     = "eu-west-1"
}

variable "source_role_arn" {
  description = "Deployment role to assume in the source account."
  type        = string
}

variable "target_role_arn" {
  description = "Deployment role to assume in the target account."
  type        = string
}

variable "external_id" {
  description = "External id both deployment roles require (null when they do not)."
  type        = string
  default     = null
  sensitive   = true
}

variable "source_account_id" {
  description = "12-digit id of the source account."
  type        = string
}

variable "target_account_id" {
  description = "12-digit id of the target account."
  type        = string
}

################################################################################
# Migration
################################################################################

variable "name" {
  description = "Short name of the migration; every resource name derives from it."
  type        = string
  default     = "orders-direct"
}

variable "source_table_name" {
  description = "Existing source table (stream enabled, NEW_AND_OLD_IMAGES)."
  type        = string
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
  description = "The Lambda zip built by `make build`."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` empty the migration's bucket (rehearsals only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
