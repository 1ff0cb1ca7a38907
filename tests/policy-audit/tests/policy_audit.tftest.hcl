# The auditor must fail on each rule it enforces, and pass a clean document.

variables {
  documents = {
    clean = jsonencode({
      Version = "2012-10-17"
      Statement = [
        { Sid = "Read", Effect = "Allow", Action = ["s3:GetObject"], Resource = "arn:aws:s3:::bucket/changes/*" },
        { Sid = "WriteTraces", Effect = "Allow", Action = ["xray:PutTraceSegments"], Resource = "*" },
        { Sid = "TlsOnly", Effect = "Deny", Principal = "*", Action = "s3:*", Resource = "*", Condition = { Bool = { "aws:SecureTransport" = "false" } } },
        {
          Sid       = "Notify", Effect = "Allow", Principal = { Service = "s3.amazonaws.com" }, Action = "sqs:SendMessage", Resource = "arn:aws:sqs:eu-west-1:222222222222:q"
          Condition = { StringEquals = { "aws:SourceAccount" = "222222222222" }, ArnLike = { "aws:SourceArn" = "arn:aws:s3:::bucket" } }
        },
        {
          Sid       = "Writer", Effect = "Allow", Principal = { AWS = "arn:aws:iam::111111111111:root" }, Action = "s3:PutObject", Resource = "arn:aws:s3:::bucket/changes/*"
          Condition = { ArnEquals = { "aws:PrincipalArn" = "arn:aws:iam::111111111111:role/writer" } }
        },
      ]
    })
  }
}

run "a_clean_document_passes" {
  command = plan

  assert {
    condition     = output.violations == [] && output.statement_count == 5
    error_message = "Expected no violations in 5 statements, got ${jsonencode(output.violations)}."
  }
}

run "each_rule_fails_its_statement" {
  command = plan

  variables {
    key_policy_documents = ["key"]
    documents = {
      iam = jsonencode({
        Version = "2012-10-17"
        Statement = [
          { Sid = "StarAction", Effect = "Allow", Action = "s3:Get*", Resource = "arn:aws:s3:::bucket/*" },
          { Sid = "StarResource", Effect = "Allow", Action = "s3:ListAllMyBuckets", Resource = "*" },
          { Sid = "NotAction", Effect = "Allow", NotAction = "iam:PassRole", Resource = "arn:aws:s3:::bucket" },
        ]
      })
      resource = jsonencode({
        Version = "2012-10-17"
        Statement = [
          { Sid = "Anyone", Effect = "Allow", Principal = "*", Action = "s3:GetObject", Resource = "arn:aws:s3:::bucket/*" },
          { Sid = "Deputy", Effect = "Allow", Principal = { Service = "s3.amazonaws.com" }, Action = "sqs:SendMessage", Resource = "arn:aws:sqs:eu-west-1:222222222222:q", Condition = { StringEquals = { "aws:SourceAccount" = "222222222222" } } },
          { Sid = "WholeAccount", Effect = "Allow", Principal = { AWS = "111111111111" }, Action = "s3:PutObject", Resource = "arn:aws:s3:::bucket/changes/*" },
        ]
      })
      key = jsonencode({
        Version = "2012-10-17"
        Statement = [
          { Sid = "AccountAdministersAndUsesKeyThroughIAM", Effect = "Allow", Principal = { AWS = "arn:aws:iam::222222222222:root" }, Action = "kms:Decrypt", Resource = "*" },
          { Sid = "OtherAccount", Effect = "Allow", Principal = { AWS = "arn:aws:iam::111111111111:root" }, Action = "kms:GenerateDataKey", Resource = "*" },
        ]
      })
    }
  }

  assert {
    condition = length(output.violations) == 7 && alltrue([
      for fragment in [
        "iam: statement StarAction: wildcard action",
        "iam: statement StarResource: Resource \"*\"",
        "iam: statement NotAction: uses NotAction",
        "resource: statement Anyone: Principal \"*\"",
        "resource: statement Deputy: service principal",
        "resource: statement WholeAccount: account principal",
        "key: statement OtherAccount: account principal",
      ] : anytrue([for v in output.violations : startswith(v, fragment)])
    ])
    error_message = "Expected one violation per bad statement (none for the key policy's grant to its own account), got ${jsonencode(output.violations)}."
  }
}

run "a_key_policy_grant_to_another_account_root_fails" {
  command = plan

  variables {
    key_policy_documents = ["key"]
    documents = {
      key = jsonencode({
        Version = "2012-10-17"
        Statement = [
          { Sid = "AccountAdministersAndUsesKeyThroughIAM", Effect = "Allow", Principal = { AWS = "arn:aws:iam::222222222222:root" }, Action = "kms:Decrypt", Resource = "*" },
          { Sid = "OtherAccount", Effect = "Allow", Principal = { AWS = "arn:aws:iam::111111111111:root" }, Action = "kms:GenerateDataKey", Resource = "*" },
        ]
      })
    }
  }

  assert {
    condition     = length(output.violations) == 1 && startswith(output.violations[0], "key: statement OtherAccount: account principal")
    error_message = "A key policy may grant only its own account's root without narrowing, got ${jsonencode(output.violations)}."
  }
}
