"""The old table's write guard: silent on what the migration does, loud on a foreign write."""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
from datetime import UTC
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from aws_lambda_powertools import Logger

from dynamigrate.config import ConfigError, WriteGuardConfig
from dynamigrate.dual import DualTable
from tests.unit.conftest import FakeContext, create_table, load_event, load_handler

if TYPE_CHECKING:
    from types import ModuleType

GUARD = "dynamigrate.handlers.write_guard"
MOVED = "2026-11-24T10:00:00Z"
MOVED_EPOCH = 1795514400.0  # the same instant


def records(*times: float, ttl_at: float | None = None) -> list[dict[str, Any]]:
    """Stream records of the shared sample batch, made at the given times (one TTL delete if asked)."""
    template = load_event("dynamodb_stream_batch.json")["Records"]
    out = []
    for index, at in enumerate(times):
        record = copy.deepcopy(template[index % len(template)])
        record["dynamodb"]["ApproximateCreationDateTime"] = at
        record.pop("userIdentity", None)
        out.append(record)
    if ttl_at is not None:
        removal = copy.deepcopy(next(r for r in template if r["eventName"] == "REMOVE"))
        removal["dynamodb"]["ApproximateCreationDateTime"] = ttl_at
        removal["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        out.append(removal)
    return out


def with_log(module: ModuleType) -> ModuleType:
    """Give the handler a Powertools logger writing to a buffer the test reads (``module.log_buffer``)."""
    module.log_buffer = io.StringIO()  # type: ignore[attr-defined]
    module.logger = Logger(service=f"write-guard-{uuid.uuid4()}", stream=module.log_buffer)  # type: ignore[attr-defined]
    return module


def emitted(guard: ModuleType, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(metrics of the EMF document printed by the handler, its log records)."""
    metrics: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = document[definition["Name"]]
            metrics[definition["Name"]] = sum(value) if isinstance(value, list) else value
        assert document["Migration"] == "rekey"
    logs = [json.loads(line) for line in guard.log_buffer.getvalue().splitlines()]
    guard.log_buffer.truncate(0)
    guard.log_buffer.seek(0)
    return metrics, logs


@pytest.fixture
def guard(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    env = {"GUARDED_TABLE_NAME": "Summaries", "WRITES_MOVED_AT": MOVED, "MIGRATION_NAME": "rekey"}
    env["POWERTOOLS_METRICS_NAMESPACE"] = "Dynamigrate"
    return with_log(load_handler(GUARD, env, monkeypatch))


def test_given_writes_after_they_were_declared_moved_then_each_is_counted_and_logged_with_its_key(
    guard: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = {"Records": records(MOVED_EPOCH - 60, MOVED_EPOCH + 1, MOVED_EPOCH + 2, ttl_at=MOVED_EPOCH + 3)}
    assert guard.lambda_handler(event, FakeContext()) == {
        "OldTableWrites": 1,
        "OldTableTtlDeletes": 1,
        "ForeignWrites": 2,
    }
    metrics, logs = emitted(guard, capsys)
    assert metrics == {"OldTableWrites": 1, "OldTableTtlDeletes": 1, "ForeignWrites": 2}
    foreign = [log for log in logs if log["message"] == "foreign write to the old table"]
    assert [log["at"] for log in foreign] == [MOVED_EPOCH + 1, MOVED_EPOCH + 2]
    assert [log["key"] for log in foreign] == ["pk=customer#0001,sk=1", "pk=kunde-ü#0002,sk=2"]
    assert all(log["table"] == "Summaries" and log["seq"] and log["op"] for log in foreign)
    assert any(log["level"] == "ERROR" and log["foreign_writes"] == 2 for log in logs)


def test_given_only_ttl_deletes_and_earlier_writes_then_the_guard_stays_silent(
    guard: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = {"Records": records(MOVED_EPOCH - 5, ttl_at=MOVED_EPOCH + 600)}
    assert guard.lambda_handler(event, FakeContext())["ForeignWrites"] == 0
    metrics, logs = emitted(guard, capsys)
    assert metrics["ForeignWrites"] == 0  # reported as a zero, so the alarm sees data, not a gap
    assert not [log for log in logs if log["level"] in ("WARNING", "ERROR")]


def test_given_an_unreadable_record_then_it_counts_as_foreign_instead_of_vanishing(
    guard: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = {"Records": [{"eventID": "x1", "eventName": "MODIFY", "dynamodb": {"Keys": {}}}]}
    assert guard.lambda_handler(event, FakeContext())["ForeignWrites"] == 1
    _, logs = emitted(guard, capsys)
    assert any("unreadable stream record" in log.get("problem", "") and log["event_id"] == "x1" for log in logs)


def test_given_no_declared_move_then_writes_are_expected_and_a_bad_time_is_refused() -> None:
    config = WriteGuardConfig.from_env({"GUARDED_TABLE_NAME": "Summaries"})
    assert config.writes_moved_at is None
    assert (
        WriteGuardConfig.from_env({"GUARDED_TABLE_NAME": "t", "WRITES_MOVED_AT": MOVED}).writes_moved_at == MOVED_EPOCH
    )
    with pytest.raises(ConfigError, match="no time zone"):
        WriteGuardConfig.from_env({"GUARDED_TABLE_NAME": "t", "WRITES_MOVED_AT": "2026-11-24T10:00:00"})
    with pytest.raises(ConfigError, match="not an RFC 3339 time"):
        WriteGuardConfig.from_env({"GUARDED_TABLE_NAME": "t", "WRITES_MOVED_AT": "yesterday"})
    with pytest.raises(ConfigError, match="GUARDED_TABLE_NAME"):
        WriteGuardConfig.from_env({})


def test_given_a_real_stream_then_dual_access_leaves_it_silent_and_a_direct_put_is_caught(
    moto_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from .test_dual import LEDGER, MAPPING, NEW, OLD, keys

    client = boto3.client("dynamodb")
    create_table(OLD, {"pub": "S", "external_id": "S"}, stream=True)
    create_table(NEW, {"guid": "S"})
    create_table(LEDGER, {"pk": "S"}, ttl="expires_at")
    client.put_item(TableName=OLD, Item={"pub": {"S": "p"}, "external_id": {"S": "1"}, "headline": {"S": "h"}})
    time.sleep(1.1)  # the move is declared on a whole second, after the application's last old-table write
    moved = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    env = {"GUARDED_TABLE_NAME": OLD, "MIGRATION_NAME": "rekey", "WRITES_MOVED_AT": moved}
    guard = with_log(load_handler(GUARD, env, monkeypatch))
    seen = [0]

    dual = DualTable.connect(client, table=NEW, old_table=OLD, ledger_table=LEDGER, transform=MAPPING)
    dual.get_item(**keys("p", "1"))
    dual.update_item(**keys("p", "1"), UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": "x"})
    dual.delete_item(**keys("p", "1"))
    assert guard.lambda_handler({"Records": stream_records(OLD, seen)}, FakeContext())["ForeignWrites"] == 0

    client.put_item(TableName=OLD, Item={"pub": {"S": "p"}, "external_id": {"S": "2"}, "headline": {"S": "late"}})
    assert guard.lambda_handler({"Records": stream_records(OLD, seen)}, FakeContext())["ForeignWrites"] == 1
    _, logs = emitted(guard, capsys)
    (foreign,) = [log for log in logs if log["message"] == "foreign write to the old table"]
    assert (foreign["op"] == "INSERT" and '"2"' in foreign["key"]) or "2" in foreign["key"]


def stream_records(table: str, seen: list[int]) -> list[dict[str, Any]]:
    """New records of moto's stream for the table, as Lambda delivers them (``seen`` counts those handed out)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.utilities import dynamo_json_dump

    items = dynamodb_backends["123456789012"]["us-east-1"].get_table(table).stream_shard.items
    out = []
    for item in items[seen[0] :]:
        event = json.loads(dynamo_json_dump(item.to_json()))
        made = item.record["dynamodb"]["ApproximateCreationDateTime"]  # moto's naive UTC datetime
        event["dynamodb"]["ApproximateCreationDateTime"] = made.replace(tzinfo=UTC).timestamp()
        out.append(event)
    seen[0] = len(items)
    return out
