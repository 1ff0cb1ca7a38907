"""Bulk copy and verification, across two accounts, through the library and the CLI."""

from __future__ import annotations

import json
import random
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from dynamigrate.backfill import backfill
from dynamigrate.cli import sample
from dynamigrate.cli.main import app
from dynamigrate.rule import TableSchema, VersionRule
from dynamigrate.verify import verify

SOURCE_ACCOUNT, TARGET_ACCOUNT = "111111111111", "222222222222"
SOURCE_ROLE = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/operator"
TARGET_ROLE = f"arn:aws:iam::{TARGET_ACCOUNT}:role/operator"


def account_client(role_arn: str) -> Any:
    credentials = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="test", ExternalId="rehearsal")[
        "Credentials"
    ]
    return boto3.client(
        "dynamodb",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def make_table(client: Any, name: str, *, key: str = "orders") -> None:
    schema, attributes = sample.KEY_SCHEMA, sample.ATTRIBUTE_DEFINITIONS
    if key == "guid":
        schema = [{"AttributeName": "guid", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "guid", "AttributeType": "S"}]
    client.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
    )


@pytest.fixture
def accounts(moto_aws: None) -> tuple[Any, Any]:
    """Source table with 120 items of every type in one account; empty target and ledger in another."""
    source, target = account_client(SOURCE_ROLE), account_client(TARGET_ROLE)
    make_table(source, "orders")
    make_table(target, "orders")
    target.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    rng = random.Random(11)
    for index in range(120):
        source.put_item(TableName="orders", Item=sample.make_item(index, rng, version=index))
    return source, target


def rule(target: Any) -> VersionRule:
    return VersionRule(TableSchema.from_description(target.describe_table(TableName="orders")["Table"]), "ledger")


def test_given_items_in_source_account_when_backfilled_then_target_account_equals_source(accounts) -> None:
    source, target = accounts
    report = backfill(source, target, "orders", rule(target), segments=3, threads=4)
    assert report.as_dict()["written"] == report.read == 120
    assert report.reconciled and report.ok
    result = verify(source, target, "orders", "orders", source_key=("pk", "sk"), target_key=("pk", "sk"), segments=3)
    assert result.equal, result.as_dict()
    assert result.matched == result.source_items == result.target_items == 120


def test_given_backfill_rerun_when_items_already_copied_then_nothing_is_overwritten(accounts) -> None:
    source, target = accounts
    backfill(source, target, "orders", rule(target))
    again = backfill(source, target, "orders", rule(target)).as_dict()
    assert again["written"] == 0 and again["skipped_exists"] == 120 and again["reconciled"]


def test_given_planted_differences_when_verified_then_each_is_reported_and_nothing_else(accounts) -> None:
    source, target = accounts
    backfill(source, target, "orders", rule(target))
    missing, extra, changed, retyped = sample.item_key(1), sample.item_key(999), sample.item_key(2), sample.item_key(3)
    target.delete_item(TableName="orders", Key=missing)
    target.put_item(TableName="orders", Item={**extra, "note": {"S": "only in target"}})
    target.update_item(
        TableName="orders", Key=changed, UpdateExpression="SET note = :n", ExpressionAttributeValues={":n": {"S": "x"}}
    )
    target.update_item(
        TableName="orders",
        Key=retyped,
        UpdateExpression="SET amount = :a",
        ExpressionAttributeValues={":a": {"S": "1"}},
    )
    result = verify(source, target, "orders", "orders", source_key=("pk", "sk"), target_key=("pk", "sk"))
    found = {(d.kind, d.key["sk"]["N"]): d.attributes for d in result.differences}
    assert found == {
        ("missing", "1"): [],
        ("extra", "999"): [],
        ("different", "2"): ["note"],
        ("different", "3"): ["amount"],
    }
    assert not result.equal
    assert result.matched == 117


def test_given_two_accounts_when_cli_backfills_and_verifies_with_roles_then_it_reports_json(accounts, tmp_path) -> None:
    runner = CliRunner()
    roles = ["--source-role-arn", SOURCE_ROLE, "--target-role-arn", TARGET_ROLE, "--external-id", "rehearsal"]
    tables = ["--source-table", "orders", "--target-table", "orders"]
    checkpoint = ["--checkpoint", str(tmp_path / "copy.json")]
    copied = runner.invoke(app, ["backfill", *tables, "--ledger-table", "ledger", "--json", *checkpoint, *roles])
    assert copied.exit_code == 0, copied.output
    summary = json.loads(copied.stdout)
    assert summary["written"] == 120 and summary["reconciled"] is True
    checked = runner.invoke(app, ["verify", *tables, "--json", *roles])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["equal"] is True


def test_given_unequal_tables_when_cli_verifies_then_exit_code_is_one(accounts) -> None:
    roles = ["--source-role-arn", SOURCE_ROLE, "--target-role-arn", TARGET_ROLE]
    result = CliRunner().invoke(
        app, ["verify", "--source-table", "orders", "--target-table", "orders", "--json", *roles]
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["missing"] == 120


def test_given_missing_table_when_cli_runs_then_error_names_table_and_account(accounts) -> None:
    roles = ["--source-role-arn", SOURCE_ROLE, "--target-role-arn", TARGET_ROLE]
    result = CliRunner().invoke(app, ["verify", "--source-table", "nope", "--target-table", "orders", *roles])
    assert result.exit_code == 2
    assert "source table 'nope' does not exist" in result.output


def test_given_target_with_other_key_schema_when_cli_backfills_then_it_refuses(accounts) -> None:
    _, target = accounts
    make_table(target, "articles", key="guid")
    roles = ["--source-role-arn", SOURCE_ROLE, "--target-role-arn", TARGET_ROLE]
    args = ["backfill", "--source-table", "orders", "--target-table", "articles", "--ledger-table", "ledger", *roles]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "key schemas differ" in result.output


def plant_differences(target: Any) -> None:
    """Missing, extra, a changed attribute and a changed type."""
    target.delete_item(TableName="orders", Key=sample.item_key(1))
    target.put_item(TableName="orders", Item={**sample.item_key(999), "note": {"S": "only in target"}})
    values = {":n": {"S": "x"}}
    target.update_item(
        TableName="orders", Key=sample.item_key(2), UpdateExpression="SET note = :n", ExpressionAttributeValues=values
    )
    values = {":a": {"S": "1"}}
    target.update_item(
        TableName="orders", Key=sample.item_key(3), UpdateExpression="SET amount = :a", ExpressionAttributeValues=values
    )


@pytest.mark.parametrize("version_attribute", [None, sample.VERSION_ATTRIBUTE])
def test_given_planted_differences_when_verified_with_repair_then_a_second_verify_finds_none(
    accounts, version_attribute
) -> None:
    source, target = accounts
    rules = VersionRule(rule(target).target, "ledger", version_attribute=version_attribute)
    backfill(source, target, "orders", rules)
    plant_differences(target)
    keys = {"source_key": ("pk", "sk"), "target_key": ("pk", "sk")}
    repaired = verify(source, target, "orders", "orders", repair=rules, **keys)
    assert repaired.as_dict()["repaired"] == 4 and repaired.as_dict()["repair_skipped"] == 0
    assert not repaired.equal  # it reports what it found
    again = verify(source, target, "orders", "orders", **keys)
    assert again.equal, again.as_dict()


def test_given_replication_moved_after_the_read_when_repairing_then_the_repair_is_skipped(accounts) -> None:
    source, target = accounts
    rules = rule(target)
    item = source.get_item(TableName="orders", Key=sample.item_key(5))["Item"]
    key = sample.item_key(5)
    # Verify read: target lacks the item, no ledger row. Then replication applies a newer change.
    write = rules.plan_repair(key, item, None, None)
    newer = {**item, "note": {"S": "newer"}}
    target.put_item(TableName="orders", Item=newer)
    target.put_item(
        TableName="ledger",
        Item={
            "pk": {"S": write.params["TransactItems"][0]["ConditionCheck"]["Key"]["pk"]["S"]},
            "seq": {"S": "9" * 40},
        },
    )
    from dynamigrate.apply import execute

    assert execute(target, write).outcome == "stale"
    assert target.get_item(TableName="orders", Key=key)["Item"]["note"] == {"S": "newer"}


def test_given_a_sample_size_when_verified_then_only_about_that_many_items_are_checked(accounts) -> None:
    source, target = accounts
    backfill(source, target, "orders", rule(target))
    result = verify(
        source, target, "orders", "orders", source_key=("pk", "sk"), target_key=("pk", "sk"), sample=30, item_count=120
    )
    assert result.sampled and result.equal
    assert 30 <= result.source_items < 120
    assert result.target_items == 0  # the reverse pass is skipped when sampling


def test_given_repair_without_ledger_when_cli_verifies_then_it_asks_for_the_ledger(accounts) -> None:
    roles = ["--source-role-arn", SOURCE_ROLE, "--target-role-arn", TARGET_ROLE]
    result = CliRunner().invoke(
        app, ["verify", "--source-table", "orders", "--target-table", "orders", "--repair", *roles]
    )
    assert result.exit_code == 2
    assert "--ledger-table" in result.output
