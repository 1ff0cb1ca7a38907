################################################################################
# Ledger table: the replicator's own state, never application data. One item
# per replicated key holds the last applied stream position and, after a
# delete, a tombstone, so an older change arriving late (S3 notifications are
# unordered) cannot resurrect or roll back an item. Items expire through TTL.
################################################################################

resource "aws_dynamodb_table" "ledger" {
  name         = local.ledger_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  deletion_protection_enabled = var.ledger_deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  # enabled without a key ARN uses the AWS managed key aws/dynamodb.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = local.tags
}
