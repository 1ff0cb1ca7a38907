################################################################################
# Target account
################################################################################

output "change_bucket_name" {
  description = "Name of the change bucket (target account)."
  value       = module.target.change_bucket_name
}

output "change_bucket_arn" {
  description = "ARN of the change bucket (target account)."
  value       = module.target.change_bucket_arn
}

output "queue_url" {
  description = "URL of the change queue (target account)."
  value       = module.target.queue_url
}

output "queue_arn" {
  description = "ARN of the change queue (target account)."
  value       = module.target.queue_arn
}

output "dead_letter_queue_url" {
  description = "URL of the change queue's dead-letter queue (target account)."
  value       = module.target.dead_letter_queue_url
}

output "dead_letter_queue_arn" {
  description = "ARN of the change queue's dead-letter queue (target account)."
  value       = module.target.dead_letter_queue_arn
}

output "writer_function_name" {
  description = "Name of the writer function (target account)."
  value       = module.target.writer_function_name
}

output "writer_function_arn" {
  description = "ARN of the writer function (target account)."
  value       = module.target.writer_function_arn
}

output "writer_role_arn" {
  description = "ARN of the writer's execution role (target account)."
  value       = module.target.writer_role_arn
}

output "writer_event_source_mapping_uuid" {
  description = "UUID of the change queue -> writer event source mapping (target account)."
  value       = module.target.writer_event_source_mapping_uuid
}

output "ledger_table_name" {
  description = "Name of the ledger table (target account)."
  value       = module.target.ledger_table_name
}

output "ledger_table_arn" {
  description = "ARN of the ledger table (target account)."
  value       = module.target.ledger_table_arn
}

output "target_table_arn" {
  description = "ARN of the target table."
  value       = module.target.target_table_arn
}

################################################################################
# Source account
################################################################################

output "source_table_arn" {
  description = "ARN of the source table."
  value       = module.source.source_table_arn
}

output "stream_arn" {
  description = "ARN of the source table's stream."
  value       = module.source.stream_arn
}

output "stream_function_name" {
  description = "Name of the stream-to-S3 function (source account)."
  value       = module.source.function_name
}

output "stream_function_arn" {
  description = "ARN of the stream-to-S3 function (source account)."
  value       = module.source.function_arn
}

output "stream_role_arn" {
  description = "ARN of the stream-to-S3 execution role (source account), the principal the change bucket trusts."
  value       = module.source.role_arn
}

output "stream_event_source_mapping_uuid" {
  description = "UUID of the stream -> stream-to-S3 event source mapping (source account)."
  value       = module.source.event_source_mapping_uuid
}

output "on_failure_bucket_name" {
  description = "Name of the bucket that receives discarded stream batches (source account)."
  value       = module.source.on_failure_bucket_name
}

output "on_failure_bucket_arn" {
  description = "ARN of the bucket that receives discarded stream batches (source account)."
  value       = module.source.on_failure_bucket_arn
}

################################################################################
# Export load
################################################################################

output "export_prefix" {
  description = "Key prefix in the change bucket for Export to S3 (--s3-prefix of ExportTableToPointInTime, with --s3-bucket the change bucket and --s3-bucket-owner the target account)."
  value       = module.target.export_prefix
}

output "export_load_state_machine_arn" {
  description = "ARN of the state machine that loads an export into the target table (null unless export_load.enabled)."
  value       = module.target.export_load_state_machine_arn
}

################################################################################
# Operator role
################################################################################

output "operator_role_arn" {
  description = "ARN of the operator role the CLI assumes in the source account (null when create_operator_role is false)."
  value       = try(module.operator_role[0].role_arn, null)
}

output "operator_role_name" {
  description = "Name of the operator role (null when create_operator_role is false)."
  value       = try(module.operator_role[0].role_name, null)
}

################################################################################
# Everything the CLI reads, in one object
################################################################################

output "migration" {
  description = "Everything the dynamigrate CLI needs about this migration, grouped by account (`terraform output -json migration`)."

  precondition {
    condition     = var.transform != null || module.source.table_key == module.target.table_key
    error_message = "The target table's key schema ${jsonencode(module.target.table_key)} differs from the source table's ${jsonencode(module.source.table_key)}. Without a transform, replication copies items as they are, so both tables need the same key attributes and types: create the target table with the source's key schema, or set transform to move to the new key schema (docs/transforms.md)."
  }

  precondition {
    condition     = !(var.create_kms_keys && (var.kms_key_arn != null || var.source_kms_key_arn != null))
    error_message = "create_kms_keys creates the keys: leave kms_key_arn and source_kms_key_arn null, or set create_kms_keys = false to use keys you already have."
  }

  value = {
    name              = var.name
    transport         = "s3"
    version_attribute = var.version_attribute
    transform         = var.transform
    source = {
      account_id                = var.source_account_id
      region                    = data.aws_region.source.name
      table_name                = var.source_table_name
      table_arn                 = module.source.source_table_arn
      stream_arn                = module.source.stream_arn
      function_name             = module.source.function_name
      event_source_mapping_uuid = module.source.event_source_mapping_uuid
      on_failure_bucket_name    = module.source.on_failure_bucket_name
      operator_role_arn         = try(module.operator_role[0].role_arn, null)
    }
    target = {
      account_id                = var.target_account_id
      region                    = data.aws_region.target.name
      table_name                = var.target_table_name
      table_arn                 = module.target.target_table_arn
      ledger_table_name         = module.target.ledger_table_name
      change_bucket_name        = module.target.change_bucket_name
      change_prefix             = module.target.change_prefix
      dead_letter_prefix        = module.target.dead_letter_prefix
      queue_url                 = module.target.queue_url
      dead_letter_queue_url     = module.target.dead_letter_queue_url
      function_name             = module.target.writer_function_name
      event_source_mapping_uuid = module.target.writer_event_source_mapping_uuid
      export_prefix             = module.target.export_prefix
      export_load_state_machine = module.target.export_load_state_machine_arn
      export_load_reports       = module.target.export_load_reports_prefix
    }
  }
}

output "alarm_names" {
  description = "CloudWatch alarm names by purpose: source (capture, in the source account) and target (writer, in the target account)."
  value = {
    source          = module.source.alarm_names
    target          = module.target.alarm_names
    rollback_source = try(module.rollback_source[0].alarm_names, {})
    rollback_target = try(module.rollback_target[0].alarm_names, {})
  }
}

output "dashboard_names" {
  description = "CloudWatch dashboards: source (capture) and target (replication); null where create_dashboards = false."
  value       = { source = module.source.dashboard_name, target = module.target.dashboard_name }
}

output "rollback" {
  description = "The rollback pipeline (target table -> source table) in the same shape as `migration`, or null when rollback_enabled = false: `terraform output -json rollback > reverse.json` for dynamigrate cutover reverse and status."

  precondition {
    condition     = var.rollback_enabled == false || (var.version_attribute != null && var.transform == null)
    error_message = "rollback_enabled needs version_attribute (attribute mode: the stream sequence numbers of two tables cannot order writes made in both during a rollback window) and no transform (the rollback path copies items back as they are, so both tables must share one key schema)."
  }

  value = var.rollback_enabled ? {
    name              = local.rollback_name
    transport         = "s3"
    version_attribute = var.version_attribute
    transform         = null
    source = {
      account_id                = var.target_account_id
      region                    = data.aws_region.target.name
      table_name                = var.target_table_name
      table_arn                 = module.rollback_source[0].source_table_arn
      stream_arn                = module.rollback_source[0].stream_arn
      function_name             = module.rollback_source[0].function_name
      event_source_mapping_uuid = module.rollback_source[0].event_source_mapping_uuid
      on_failure_bucket_name    = module.rollback_source[0].on_failure_bucket_name
      operator_role_arn         = null
    }
    target = {
      account_id                = var.source_account_id
      region                    = data.aws_region.source.name
      table_name                = var.source_table_name
      table_arn                 = module.rollback_target[0].target_table_arn
      ledger_table_name         = module.rollback_target[0].ledger_table_name
      change_bucket_name        = module.rollback_target[0].change_bucket_name
      change_prefix             = module.rollback_target[0].change_prefix
      dead_letter_prefix        = module.rollback_target[0].dead_letter_prefix
      queue_url                 = module.rollback_target[0].queue_url
      dead_letter_queue_url     = module.rollback_target[0].dead_letter_queue_url
      function_name             = module.rollback_target[0].writer_function_name
      event_source_mapping_uuid = module.rollback_target[0].writer_event_source_mapping_uuid
      export_prefix             = module.rollback_target[0].export_prefix
      export_load_state_machine = module.rollback_target[0].export_load_state_machine_arn
      export_load_reports       = module.rollback_target[0].export_load_reports_prefix
    }
  } : null
}

output "kms_key_arns" {
  description = "Full ARNs of the customer managed keys in use (created by create_kms_keys or given): target (change bucket, queues, DLQs, ledger, writer) and source (stream function, failure bucket, rollback pipeline); null where AWS managed encryption is used."
  value = {
    source = local.source_kms_key_arn
    target = local.target_kms_key_arn
  }
}

output "encryption" {
  description = "What encrypts what in each pipeline module, read from the planned resources (see the modules' `encryption` outputs)."
  value = {
    target          = module.target.encryption
    source          = module.source.encryption
    rollback_target = try(module.rollback_target[0].encryption, null)
    rollback_source = try(module.rollback_source[0].encryption, null)
  }
}

output "policy_documents" {
  description = "Every IAM, resource and key policy the migration attaches, by module and name, as JSON: for a security review before apply (`terraform show -json` of a plan has the same). Sensitive: the operator role's trust policy holds operator_external_id."
  sensitive   = true
  value = merge(
    { for name, document in module.target.policy_documents : "target.${name}" => document },
    { for name, document in module.source.policy_documents : "source.${name}" => document },
    { for name, document in try(module.operator_role[0].policy_documents, {}) : "operator_role.${name}" => document },
    { for name, document in try(module.target_key[0].policy_documents, {}) : "target_key.${name}" => document },
    { for name, document in try(module.source_key[0].policy_documents, {}) : "source_key.${name}" => document },
    { for name, document in try(module.rollback_target[0].policy_documents, {}) : "rollback_target.${name}" => document },
    { for name, document in try(module.rollback_source[0].policy_documents, {}) : "rollback_source.${name}" => document },
  )
}
