"""retire-table: refuses while a check fails (changing nothing), snapshots and lowers capacity, deletes last."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from dynamigrate.cli.main import app
from dynamigrate.config import WRITE_GUARD_SERVICE, metric_dimensions
from dynamigrate.retire import Retirement, RetirePlan, RetireRefusedError
from tests.unit.conftest import deploy_function

TABLE, GUARD, MIGRATION = "Summaries", "articles-rekey-write-guard", "articles-rekey"
DAY = 86400.0


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def old_table(moto_aws: None) -> dict[str, Any]:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pub", "KeyType": "HASH"}, {"AttributeName": "external_id", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pub", "AttributeType": "S"},
            {"AttributeName": "external_id", "AttributeType": "S"},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 50, "WriteCapacityUnits": 20},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    client.put_item(TableName=TABLE, Item={"pub": {"S": "p"}, "external_id": {"S": "1"}})
    return dict(client.describe_table(TableName=TABLE)["Table"])


def deploy_guard(table: dict[str, Any], moved_at: str | None, *, guarded: str = TABLE) -> None:
    """The write guard as modules/write-guard deploys it: a function with its environment and a stream mapping."""
    env = {"GUARDED_TABLE_NAME": guarded, "MIGRATION_NAME": MIGRATION}
    if moved_at is not None:
        env["WRITES_MOVED_AT"] = moved_at
    deploy_function(
        GUARD, "dynamigrate.handlers.write_guard.lambda_handler", env, event_source_arn=table["LatestStreamArn"]
    )


def foreign_write(at: float, count: int = 1) -> None:
    """What the guard's EMF line becomes in CloudWatch: ForeignWrites for the migration."""
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Dynamigrate",
        MetricData=[
            {
                "MetricName": "ForeignWrites",
                "Dimensions": metric_dimensions(MIGRATION, WRITE_GUARD_SERVICE),  # type: ignore[typeddict-item]
                "Timestamp": datetime.fromtimestamp(at, UTC),
                "Value": count,
                "Unit": "Count",
            }
        ],
    )


def retire(**changes: Any) -> Retirement:
    plan = RetirePlan(table=TABLE, guard_function=GUARD, migration=MIGRATION, quiet_seconds=14 * DAY, snapshot="backup")
    for name, value in changes.items():
        setattr(plan, name, value)
    return Retirement(
        boto3.client("dynamodb"),
        boto3.client("lambda"),
        boto3.client("cloudwatch"),
        plan,
        sleep=lambda _: time.sleep(0.05),
    )


def untouched() -> bool:
    """The table is as the fixture made it: same capacity, no backup taken."""
    client = boto3.client("dynamodb")
    throughput = client.describe_table(TableName=TABLE)["Table"]["ProvisionedThroughput"]
    backups = client.list_backups(TableName=TABLE)["BackupSummaries"]
    return throughput["ReadCapacityUnits"] == 50 and throughput["WriteCapacityUnits"] == 20 and not backups


@pytest.mark.parametrize(
    ("moved_days_ago", "guarded", "message"),
    [
        (None, TABLE, "has no writes_moved_at"),
        (3, TABLE, "less than the quiet period (14 days, 0:00:00) ago"),
        (30, "Other", "watches 'Other', not Summaries"),
    ],
)
def test_given_a_guard_that_cannot_vouch_for_the_quiet_period_then_retire_refuses_and_changes_nothing(
    old_table: dict[str, Any], moved_days_ago: float | None, guarded: str, message: str
) -> None:
    moved = None if moved_days_ago is None else iso(time.time() - moved_days_ago * DAY)
    deploy_guard(old_table, moved, guarded=guarded)
    with pytest.raises(RetireRefusedError, match=message.replace("(", r"\(").replace(")", r"\)")):
        retire().run()
    assert untouched()


def test_given_no_guard_then_retire_says_to_deploy_one(old_table: dict[str, Any]) -> None:
    with pytest.raises(RetireRefusedError, match="deploy modules/write-guard"):
        retire().run()
    assert untouched()


def test_given_a_foreign_write_within_the_quiet_period_then_retire_refuses_and_names_the_count(
    old_table: dict[str, Any],
) -> None:
    deploy_guard(old_table, iso(time.time() - 30 * DAY))
    foreign_write(time.time() - 20 * DAY, count=5)  # before the quiet period: forgiven
    foreign_write(time.time() - 2 * DAY, count=2)
    with pytest.raises(RetireRefusedError, match="counted 2 foreign writes to Summaries"):
        retire().run()
    assert untouched()


def test_given_a_quiet_guard_then_retire_snapshots_lowers_capacity_and_keeps_the_table(
    old_table: dict[str, Any],
) -> None:
    deploy_guard(old_table, iso(time.time() - 30 * DAY))
    foreign_write(time.time() - 20 * DAY)
    report = retire().run()

    assert report.foreign_writes == 0 and report.snapshot["kind"] == "backup"
    assert report.snapshot["status"] == "AVAILABLE"
    assert report.capacity == {"changed": True, "before": {"read": 50, "write": 20}, "after": {"read": 1, "write": 1}}
    client = boto3.client("dynamodb")
    assert client.describe_table(TableName=TABLE)["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"] == 1
    assert f"--delete --confirm {TABLE} --snapshot-ref {report.snapshot['backup_arn']}" in report.next_step
    assert not report.deleted


def test_given_the_second_sitting_then_delete_needs_the_name_a_complete_snapshot_and_no_protection(
    old_table: dict[str, Any],
) -> None:
    deploy_guard(old_table, iso(time.time() - 30 * DAY))
    backup = retire().run().snapshot["backup_arn"]
    client = boto3.client("dynamodb")

    with pytest.raises(RetireRefusedError, match=f"pass --confirm {TABLE}"):
        retire(delete=True, confirm="summaries", snapshot_ref=backup).run()
    with pytest.raises(RetireRefusedError, match="pass --snapshot-ref"):
        retire(delete=True, confirm=TABLE).run()
    client.update_table(TableName=TABLE, DeletionProtectionEnabled=True)
    with pytest.raises(RetireRefusedError, match="deletion protection on"):
        retire(delete=True, confirm=TABLE, snapshot_ref=backup).run()
    assert client.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"

    client.update_table(TableName=TABLE, DeletionProtectionEnabled=False)
    foreign_write(time.time() - 60)  # a write slipped in meanwhile: the checks run again before deleting
    with pytest.raises(RetireRefusedError, match="counted 1 foreign writes"):
        retire(delete=True, confirm=TABLE, snapshot_ref=backup).run()

    retire_later = retire(delete=True, confirm=TABLE, snapshot_ref=backup, quiet_seconds=30)
    retire_later.clock = lambda: time.time() + 120  # two minutes later, the quiet period (30 s) is clean again
    report = retire_later.run()
    assert report.deleted and report.snapshot["status"] == "AVAILABLE"
    assert TABLE not in client.list_tables()["TableNames"]


def test_given_an_export_snapshot_then_it_needs_a_bucket_and_point_in_time_recovery(old_table: dict[str, Any]) -> None:
    deploy_guard(old_table, iso(time.time() - 30 * DAY))
    with pytest.raises(RetireRefusedError, match="needs --bucket"):
        retire(snapshot="export").run()
    with pytest.raises(RetireRefusedError, match="point-in-time recovery"):
        retire(snapshot="export", bucket="retired-tables").run()
    assert untouched()

    boto3.client("s3").create_bucket(Bucket="retired-tables")
    boto3.client("dynamodb").update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    report = retire(snapshot="export", bucket="retired-tables").run()
    assert report.snapshot["kind"] == "export" and report.snapshot["status"] == "COMPLETED"
    listed = boto3.client("s3").list_objects_v2(Bucket="retired-tables", Prefix="retired/")
    assert any(obj["Key"].endswith("manifest-summary.json") for obj in listed.get("Contents", []))


def test_given_the_cli_then_a_refusal_exits_1_and_a_first_sitting_prints_the_next_step(
    old_table: dict[str, Any],
) -> None:
    args = ["retire-table", "--table", TABLE, "--guard-function", GUARD, "--migration", MIGRATION]
    refused = CliRunner().invoke(app, [*args, "--snapshot", "backup"])
    assert refused.exit_code == 1 and "deploy modules/write-guard" in " ".join(refused.output.split())

    deploy_guard(old_table, iso(time.time() - 30 * DAY))
    result = CliRunner().invoke(app, [*args, "--snapshot", "backup", "--keep-capacity", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["capacity"] == {"changed": False} and summary["deleted"] is False
    assert summary["snapshot"]["status"] == "AVAILABLE" and "--delete --confirm Summaries" in summary["next_step"]
