variable "source_account_id" {
  description = "The source account (where the table and its stream are); checked against the provider's."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.source_account_id))
    error_message = "source_account_id must be a 12-digit AWS account id."
  }
}

variable "source_table_name" {
  description = "The source table, whose stream (NEW_AND_OLD_IMAGES) the writer reads."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.source_table_name))
    error_message = "source_table_name must be a DynamoDB table name (3-255 of a-z, A-Z, 0-9, _ . -)."
  }
}

variable "reader_role_arns" {
  description = "Execution roles allowed to read the stream: the writer role of modules/target with transport = \"direct\" (output writer_role_arn, or arn:aws:iam::<target account>:role/<name>-writer). They need not exist yet."
  type        = list(string)

  validation {
    condition     = length(var.reader_role_arns) > 0 && alltrue([for arn in var.reader_role_arns : can(regex("^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]{1,512}$", arn))])
    error_message = "reader_role_arns must be one or more IAM role ARNs such as arn:aws:iam::222222222222:role/orders-migration-writer (no wildcards)."
  }
}
