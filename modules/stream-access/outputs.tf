output "stream_arn" {
  description = "ARN of the source table's stream, readable by reader_role_arns once this is applied (pass it to modules/target source_stream_arn: the mapping then waits for the policy)."
  value       = local.stream_arn
  depends_on  = [aws_dynamodb_resource_policy.stream]
}

output "source_table_arn" {
  description = "ARN of the source table."
  value       = data.aws_dynamodb_table.source.arn
}

output "policy_documents" {
  description = "The stream's resource policy, by name, as JSON: for security review (the module's tests audit it)."
  value       = { stream_policy = aws_dynamodb_resource_policy.stream.policy }
}
