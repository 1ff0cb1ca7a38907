# Audits IAM and resource policy documents against the module's security rules.
# Used by every module's `terraform test` (a run with `module { source = ... }`
# fed the module's `policy_documents` output), so the rules live in one place:
#
#   1. No Allow statement has a wildcard in an action, or uses NotAction,
#      NotResource or NotPrincipal.
#   2. An Allow statement's Resource is "*" only when its Sid is one of
#      var.star_resource_sids (each commented where it is written: X-Ray and
#      the vended-logs APIs have no resource-level permissions) or the
#      document is a KMS key policy (where "*" means the key itself).
#   3. No Allow statement names Principal "*".
#   4. Every Allow to a service principal carries aws:SourceAccount and
#      aws:SourceArn conditions (confused-deputy guard).
#   5. An Allow to an account root ("arn:...:root" or a bare account ID) is
#      narrowed by sts:ExternalId or aws:PrincipalArn, except a key policy's
#      grant to its own account (which delegates to that account's IAM).

terraform {
  required_version = ">= 1.7"
}

variable "documents" {
  description = "Policy documents to audit, by name, as JSON strings."
  type        = map(string)
}

variable "key_policy_documents" {
  description = "Names (keys of documents) that are KMS key policies."
  type        = set(string)
  default     = []
}

variable "star_resource_sids" {
  description = "Sids of Allow statements that may use Resource \"*\" because the actions have no resource-level permissions."
  type        = set(string)
  default     = ["WriteTraces", "DeliverExecutionLogs"]
}

locals {
  statements = flatten([
    for name, document in var.documents : [
      for index, statement in flatten([jsondecode(document).Statement]) : {
        where      = "${name}: statement ${try(statement.Sid, index)}"
        key_policy = contains(var.key_policy_documents, name)
        sid        = try(statement.Sid, "")
        allow      = statement.Effect == "Allow"
        actions    = flatten([try(statement.Action, [])])
        resources  = flatten([try(statement.Resource, [])])
        principal  = try(statement.Principal, null)
        negated    = [for field in ["NotAction", "NotResource", "NotPrincipal"] : field if can(statement[field])]
        condition_keys = flatten([
          for operator, entries in try(statement.Condition, {}) : [for key, value in entries : lower(key)]
        ])
        aws_principals = try(statement.Principal == "*", false) ? ["*"] : flatten([try(statement.Principal.AWS, [])])
        services       = try(statement.Principal == "*", false) ? [] : flatten([try(statement.Principal.Service, [])])
      }
    ]
  ])

  # Rule 5's inputs, per statement.
  audited = [
    for s in local.statements : merge(s, {
      whole_account = anytrue([for p in s.aws_principals : endswith(p, ":root") || can(regex("^[0-9]{12}$", p))])
      narrowed      = (s.key_policy && s.sid == "AccountAdministersAndUsesKeyThroughIAM") || contains(s.condition_keys, "sts:externalid") || contains(s.condition_keys, "aws:principalarn")
    })
  ]

  allows = [for s in local.audited : s if s.allow]

  violations = concat(
    [for s in local.allows : "${s.where}: wildcard action ${jsonencode([for a in s.actions : a if strcontains(a, "*")])}" if anytrue([for a in s.actions : strcontains(a, "*")])],
    [for s in local.allows : "${s.where}: uses ${join(", ", s.negated)} in an Allow" if length(s.negated) > 0],
    [for s in local.allows : "${s.where}: Resource \"*\" (allowed only for the Sids ${jsonencode(sort(var.star_resource_sids))} and in key policies)" if contains(s.resources, "*") && !s.key_policy && !contains(var.star_resource_sids, s.sid)],
    [for s in local.allows : "${s.where}: Principal \"*\" in an Allow" if contains(s.aws_principals, "*")],
    [for s in local.allows : "${s.where}: service principal ${jsonencode(s.services)} without aws:SourceAccount and aws:SourceArn conditions" if length(s.services) > 0 && !(contains(s.condition_keys, "aws:sourceaccount") && contains(s.condition_keys, "aws:sourcearn"))],
    [for s in local.allows : "${s.where}: account principal ${jsonencode(s.aws_principals)} not narrowed by sts:ExternalId or aws:PrincipalArn" if s.whole_account && !s.narrowed],
  )
}

output "violations" {
  description = "One line per broken rule, naming the document and statement; empty when every document passes."
  # Documents may be sensitive (a trust policy holding an external ID); a
  # violation names only a statement, its actions and principals.
  value = try(nonsensitive(local.violations), local.violations)
}

output "statement_count" {
  description = "How many statements were audited (so a test can tell an empty audit from a clean one)."
  value       = try(nonsensitive(length(local.statements)), length(local.statements))
}
