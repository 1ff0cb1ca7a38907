"""replay and redrive: a window re-applies idempotently, parked changes apply after the fix, the DLQ drains."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from dynamigrate import aws
from dynamigrate.changes import encode_object, object_key
from dynamigrate.cli.main import app
from dynamigrate.config import WriterConfig
from dynamigrate.replay import Replayer, ReplayError, dead_letter_queue_url, parse_time, writer_config
from dynamigrate.writer import ChangeWriter
from tests.unit.conftest import BUCKET, LEDGER_TABLE, TARGET_TABLE, WRITER_ENV, deploy_function

WRITER = "orders-writer"
T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
_seq = iter(range(1, 10**6))


def line(pk: str, at: datetime, amount: int | None, *, op: str | None = None) -> dict[str, Any]:
    keys = {"pk": {"S": pk}, "sk": {"N": "1"}}
    out: dict[str, Any] = {"seq": str(next(_seq)).zfill(40), "ts": at.timestamp(), "keys": keys}
    if amount is None:
        return {**out, "op": "REMOVE", "old": {**keys, "amount": {"N": "0"}}}
    return {**out, "op": op or "MODIFY", "new": {**keys, "amount": {"N": str(amount)}}}


def put_changes(lines: list[dict[str, Any]], prefix: str = "changes/") -> str:
    key = object_key(prefix, "orders", lines[0], lines[-1])
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=encode_object(lines, source="test"))
    return key


def target_items() -> dict[str, str]:
    items = boto3.client("dynamodb").scan(TableName=TARGET_TABLE)["Items"]
    return {i["pk"]["S"]: i["amount"]["N"] for i in items}


def replayer(*, retention_days: float = 14) -> Replayer:
    config = replace(WriterConfig.from_env(WRITER_ENV), ledger_retention_seconds=int(retention_days * 86400))
    return Replayer(ChangeWriter(config), aws.s3)


@pytest.fixture
def recent(tables: dict[str, str]) -> datetime:
    """Changes an hour ago (inside the ledger retention, so they are applied, not parked)."""
    return datetime.now(tz=UTC).replace(microsecond=0) - timedelta(hours=1)


def test_given_a_window_when_replayed_twice_then_the_second_run_is_all_stale_and_outside_changes_stay_out(
    recent: datetime,
) -> None:
    before = put_changes([line("early", recent - timedelta(minutes=30), 1)])
    inside = put_changes([line("a", recent, 1), line("b", recent + timedelta(seconds=1), 2), line("a", recent, 3)])
    straddling = put_changes(
        [line("c", recent + timedelta(minutes=59), 4), line("late", recent + timedelta(hours=2), 5)]
    )
    assert len({before, inside, straddling}) == 3

    first = replayer().replay_window(recent, recent + timedelta(hours=1))
    assert target_items() == {"a": "3", "b": "2", "c": "4"}
    assert (first.outcomes["applied"], first.superseded, first.outside_window, first.read) == (3, 1, 2, 6)
    assert first.ok

    second = replayer().replay_window(recent, recent + timedelta(hours=1))
    assert (second.outcomes["applied"], second.outcomes["stale"]) == (0, 3)
    assert target_items() == {"a": "3", "b": "2", "c": "4"}
    assert second.as_dict()["problems"] == []


def test_given_a_malformed_object_in_the_window_then_it_is_reported_and_the_rest_applies(recent: datetime) -> None:
    key = object_key("changes/", "orders", {"ts": recent.timestamp(), "seq": "7"}, {"seq": "8"})
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"not gzip")
    put_changes([line("a", recent, 1)])
    report = replayer().replay_window(recent - timedelta(minutes=1), recent + timedelta(minutes=1))
    assert target_items() == {"a": "1"}
    assert not report.ok
    assert report.unreadable and report.unreadable[0].startswith(key)


def test_given_a_change_parked_as_too_old_when_redriven_with_a_longer_retention_then_it_applies_and_the_object_goes(
    tables: dict[str, str],
) -> None:
    old = datetime.now(tz=UTC) - timedelta(days=20)
    source_key = put_changes([line("old", old, 7), line("fresh", datetime.now(tz=UTC), 8)])
    live = replayer().writer.apply_object(BUCKET, source_key)
    assert live.dead_letter_key == source_key.replace("changes/", "dead-letter/", 1)
    assert target_items() == {"fresh": "8"}

    again = replayer().redrive_dead_letters()  # nothing fixed yet: parked again, same object, new reason
    assert (again.outcomes["parked"], again.ok) == (1, False)
    assert list_keys("dead-letter/") == [live.dead_letter_key]

    fixed = replayer(retention_days=30).redrive_dead_letters()
    assert (fixed.outcomes["applied"], fixed.ok) == (1, True)
    assert target_items() == {"fresh": "8", "old": "7"}
    assert list_keys("dead-letter/") == []


def list_keys(prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture
def deployed(tables: dict[str, str]) -> str:
    """The writer function with its queue and dead-letter queue, as modules/target deploys them."""
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="orders-changes-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    queue = sqs.create_queue(QueueName="orders-changes", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deploy_function(WRITER, "dynamigrate.handlers.s3_to_table.lambda_handler", WRITER_ENV, event_source_arn=queue_arn)
    return dlq


def notification(key: str) -> str:
    return json.dumps({"Records": [{"s3": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1}}}]})


def test_given_the_deployed_writer_then_its_settings_and_dead_letter_queue_are_found(deployed: str) -> None:
    config = writer_config(boto3.client("lambda"), WRITER)
    assert (config.table, config.ledger_table, config.bucket) == (TARGET_TABLE, LEDGER_TABLE, BUCKET)
    assert dead_letter_queue_url(boto3.client("lambda"), boto3.client("sqs"), WRITER) == deployed
    with pytest.raises(ReplayError, match="does not exist in the target account"):
        writer_config(boto3.client("lambda"), "no-such-writer")


def test_given_dead_letter_messages_when_redriven_then_applied_ones_are_deleted_and_the_rest_stay_visible(
    deployed: str, recent: datetime
) -> None:
    good = put_changes([line("a", recent, 1), line("b", recent, 2)])
    sqs = boto3.client("sqs")
    for body in (notification(good), notification("changes/orders/gone.jsonl.gz"), "not json"):
        sqs.send_message(QueueUrl=deployed, MessageBody=body)

    report = replayer().redrive_queue(sqs, deployed)
    assert target_items() == {"a": "1", "b": "2"}
    assert (report.messages["deleted"], report.messages["left"], report.outcomes["applied"]) == (1, 2, 2)
    assert any("NoSuchKey" in problem for problem in report.unreadable)
    depth = sqs.get_queue_attributes(QueueUrl=deployed, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "2"  # failed again, and visible for the next try


def test_given_the_cli_then_replay_reads_the_writer_and_a_repeat_exits_0_with_everything_stale(
    deployed: str, recent: datetime
) -> None:
    put_changes([line("a", recent, 1)])
    args = ["replay", "--writer-function", WRITER, "--from", "2h", "--json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["applied"] == 1
    second = CliRunner().invoke(app, args)
    assert (second.exit_code, json.loads(second.stdout)["stale"]) == (0, 1)
    refused = CliRunner().invoke(app, ["replay", "--writer-function", WRITER, "--from", "yesterday"])
    assert refused.exit_code == 2
    assert "neither an RFC 3339 time" in refused.output


def test_given_times_then_rfc3339_and_ages_parse_and_naive_times_are_refused() -> None:
    assert parse_time("2026-12-03T10:00:00Z") == T0
    assert abs((datetime.now(tz=UTC) - parse_time("6h")).total_seconds() - 6 * 3600) < 5
    with pytest.raises(ValueError, match="no time zone"):
        parse_time("2026-12-03T10:00:00")
