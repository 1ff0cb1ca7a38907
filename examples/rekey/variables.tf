variable "region" {
  description = "AWS region of both tables."
  type        = string
  default     = "eu-west-1"
}

variable "account_id" {
  description = "12-digit id of the account holding both tables."
  type        = string
}

variable "role_arn" {
  description = "Deployment role to assume (null: use the caller's credentials as they are)."
  type        = string
  default     = null
}

variable "external_id" {
  description = "External id the deployment role requires (null when it does not)."
  type        = string
  default     = null
  sensitive   = true
}

variable "name" {
  description = "Name of the migration (prefixes every resource)."
  type        = string
  default     = "articles-rekey"
}

variable "old_table_name" {
  description = "The table keyed by (pub, external_id), with a NEW_AND_OLD_IMAGES stream."
  type        = string
  default     = "Summaries"
}

variable "new_table_name" {
  description = "The table keyed by guid (a UUIDv5 of pub/external_id), created before this apply."
  type        = string
  default     = "Articles"
}

variable "writes_moved_at" {
  description = "When every writer uses the new table (RFC 3339 UTC); null until then."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "SNS topic ARNs the write guard's alarms notify."
  type        = list(string)
  default     = []
}

variable "deny_writes" {
  description = "Deny item writes to the old table with a resource policy (see modules/write-guard)."
  type = object({
    enabled               = optional(bool, false)
    exempt_principal_arns = optional(list(string), [])
  })
  default = {}
}

variable "lambda_package_path" {
  description = "Lambda zip built by `make build`."
  type        = string
  default     = "../../dist/dynamigrate-lambda.zip"
}

variable "force_destroy" {
  description = "Let terraform destroy empty the change bucket (rehearsals)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
