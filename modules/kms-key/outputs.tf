output "key_arn" {
  description = "Full ARN of the key: give this (never the alias) to anything in another account, which resolves aliases and key IDs in its own account."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "ID of the key."
  value       = aws_kms_key.this.key_id
}

output "alias_name" {
  description = "Alias of the key (\"alias/dynamigrate/<name>\"), for people in this account."
  value       = aws_kms_alias.this.name
}

output "policy_documents" {
  description = "The key policy, by name, as JSON: for security review (the module's tests audit it)."
  value       = { key_policy = aws_kms_key.this.policy }
}
