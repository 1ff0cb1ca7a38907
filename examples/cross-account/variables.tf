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
  default     = "orders-migration"
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
  description = "Path to the Lambda zip built by `make build`. null uses the module's dist/dynamigrate-lambda.zip."
  type        = string
  default     = null
}

variable "writer_enabled" {
  description = "Whether the writer applies changes as they arrive (false keeps them queued, e.g. during a bulk copy)."
  type        = bool
  default     = true
}

variable "rollback_enabled" {
  description = "Deploy the rollback pipeline (target table -> source table) before traffic moves. Needs version_attribute and the target table's stream with NEW_AND_OLD_IMAGES."
  type        = bool
  default     = false
}

variable "create_kms_keys" {
  description = "Create a customer managed KMS key in each account for the change log, queues, ledger, failure bucket and function environments (the module writes both key policies)."
  type        = bool
  default     = false
}

variable "export_load_enabled" {
  description = "Create the Step Functions Distributed Map that loads an Export to S3 of the source table into the target (the bulk copy for large tables)."
  type        = bool
  default     = true
}

variable "exporter_principal_arns" {
  description = "Source-account principals that may export the source table into the change bucket (the operator role is added when it is created)."
  type        = list(string)
  default     = []
}

variable "create_operator_role" {
  description = "Create the operator role the CLI assumes in the source account (needs operator_external_id)."
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
  description = "Let destroy delete buckets that still hold objects (handy for rehearsals, keep false in production)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
