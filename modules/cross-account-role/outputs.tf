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

output "policy_documents" {
  description = "Every IAM policy this module attaches, by name, as JSON: for security review (the module's tests audit them). Sensitive: the trust policy holds external_id."
  sensitive   = true
  value = {
    role_trust  = aws_iam_role.this.assume_role_policy
    role_policy = aws_iam_role_policy.this.policy
  }
}
