# Plan-only tests of the operator role with a mocked AWS provider (offline).

mock_provider "aws" {}

variables {
  name                   = "orders-migration-operator"
  trusted_principal_arns = ["arn:aws:iam::222222222222:root"]
  external_id            = "4f9c2a6e-0f5b-4c3e-9d2b-7c1a8e6b5d40"
  table_arns             = ["arn:aws:dynamodb:eu-west-1:111111111111:table/orders"]
}

run "read_only_by_default" {
  command = plan

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Sid       = "AssumeWithExternalId"
      Effect    = "Allow"
      Principal = { AWS = ["arn:aws:iam::222222222222:root"] }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = "4f9c2a6e-0f5b-4c3e-9d2b-7c1a8e6b5d40" } }
    }]
    error_message = "Only the trusted principals, presenting the external id, may assume the role."
  }

  assert {
    condition     = aws_iam_role.this.name == "orders-migration-operator" && aws_iam_role.this.max_session_duration == 3600
    error_message = "Role name and session duration are wrong."
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for a in flatten([s.Action]) : !strcontains(a, "*")
      ]
    ]))
    error_message = "No action may contain a wildcard."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Action])) == toset([
      "dynamodb:BatchGetItem", "dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable",
      "dynamodb:DescribeTimeToLive", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
      "dynamodb:DescribeStream", "dynamodb:ListStreams",
    ])
    error_message = "By default the role may only read."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource])) == toset([
      "arn:aws:dynamodb:eu-west-1:111111111111:table/orders",
      "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/index/*",
      "arn:aws:dynamodb:eu-west-1:111111111111:table/orders/stream/*",
    ])
    error_message = "Permissions must be scoped to the listed table, its indexes and its streams."
  }
}

run "write_and_pause_resume_when_asked" {
  command = plan

  variables {
    allow_write                    = true
    event_source_mapping_arns      = ["arn:aws:lambda:eu-west-1:111111111111:event-source-mapping:0f8c6b4e-1d2a-4b3c-8e9f-a1b2c3d4e5f6"]
    allowed_principal_arn_patterns = ["arn:aws:iam::222222222222:role/ci-*"]
    require_mfa                    = true
    max_session_duration           = 43200
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      s.Sid == "WriteItems" && s.Resource == ["arn:aws:dynamodb:eu-west-1:111111111111:table/orders"] && toset(s.Action) == toset([
        "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
      ])
    ])
    error_message = "allow_write must add exactly the item writes on the tables."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      s.Sid == "PauseResumeReplication" && tolist(s.Resource) == var.event_source_mapping_arns
      && toset(s.Action) == toset(["lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"])
    ])
    error_message = "The role must be able to pause and resume exactly the listed event source mappings."
  }

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition == {
      StringEquals = { "sts:ExternalId" = "4f9c2a6e-0f5b-4c3e-9d2b-7c1a8e6b5d40" }
      ArnLike      = { "aws:PrincipalArn" = ["arn:aws:iam::222222222222:role/ci-*"] }
      Bool         = { "aws:MultiFactorAuthPresent" = "true" }
    }
    error_message = "Principal patterns and MFA must be added to the external id condition."
  }

  assert {
    condition     = aws_iam_role.this.max_session_duration == 43200
    error_message = "max_session_duration must be used."
  }
}

run "rejects_empty_external_id" {
  command = plan

  variables {
    external_id = ""
  }

  expect_failures = [var.external_id]
}

run "rejects_one_character_external_id" {
  command = plan

  variables {
    external_id = "x"
  }

  expect_failures = [var.external_id]
}

run "rejects_bad_trusted_principal" {
  command = plan

  variables {
    trusted_principal_arns = ["222222222222"]
  }

  expect_failures = [var.trusted_principal_arns]
}

run "rejects_wildcard_table_arn" {
  command = plan

  variables {
    table_arns = ["arn:aws:dynamodb:eu-west-1:111111111111:table/*"]
  }

  expect_failures = [var.table_arns]
}

run "rejects_bad_session_duration" {
  command = plan

  variables {
    max_session_duration = 60
  }

  expect_failures = [var.max_session_duration]
}

run "rejects_bad_event_source_mapping_arn" {
  command = plan

  variables {
    event_source_mapping_arns = ["arn:aws:lambda:eu-west-1:111111111111:function:orders"]
  }

  expect_failures = [var.event_source_mapping_arns]
}

# Policy audit (tests/policy-audit) with every feature that adds statements on.
run "every_feature_on" {
  command = plan

  variables {
    allow_write               = true
    event_source_mapping_arns = ["arn:aws:lambda:eu-west-1:111111111111:event-source-mapping:0f8c6b4e-1d2a-4b3c-8e9f-a1b2c3d4e5f6"]
    require_mfa               = true
    export_destination = {
      bucket_arn   = "arn:aws:s3:::orders-migration-changes-222222222222-eu-west-1"
      prefix       = "exports"
      bucket_owner = "222222222222"
    }
  }
}

run "policy_audit" {
  command = plan

  module {
    source = "../../tests/policy-audit"
  }

  variables {
    documents = run.every_feature_on.policy_documents
  }

  assert {
    condition     = output.violations == [] && length(run.every_feature_on.policy_documents) == 2
    error_message = "Policy audit: ${jsonencode(output.violations)}"
  }
}
