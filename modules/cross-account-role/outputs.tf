output "role_arn" {
  description = "ARN of the operator role (pass it to the CLI with the external id)."
  value       = try(aws_iam_role.this.arn, null)
}

output "role_name" {
  description = "Name of the operator role."
  value       = try(aws_iam_role.this.name, null)
}

output "policy" {
  description = "The role's inline policy (JSON), for review."
  value       = aws_iam_role_policy.this.policy
}
