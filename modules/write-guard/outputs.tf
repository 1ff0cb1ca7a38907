output "function_name" {
  description = "Name of the guard function (dynamigrate retire-table --guard-function reads its declared move time)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the guard function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the guard's execution role."
  value       = aws_iam_role.this.arn
}

output "foreign_writes_alarm_arn" {
  description = "ARN of the alarm on ForeignWrites (namespace Dynamigrate, dimension Migration = name)."
  value       = aws_cloudwatch_metric_alarm.foreign_writes.arn
}

output "writes_moved_at" {
  description = "The declared move time the guard judges writes by (null: not declared yet)."
  value       = var.writes_moved_at
}

output "deny_writes_policy_enabled" {
  description = "Whether a resource policy denies writes to the old table."
  value       = var.deny_writes.enabled
}

output "policy_documents" {
  description = "Every IAM and resource policy this module attaches, by name, as JSON: for security review (the module's tests audit them)."
  value = merge(
    {
      role_trust  = aws_iam_role.this.assume_role_policy
      role_policy = aws_iam_role_policy.this.policy
    },
    { for policy in aws_dynamodb_resource_policy.deny_writes : "table_policy" => policy.policy },
  )
}
