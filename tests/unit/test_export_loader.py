"""The export loader Lambda (the Distributed Map's task): prepare, load in hand-over calls, summarize.

The handler runs on moto exactly as the module's state machine drives it: one
``prepare``, then per data file ``load`` calls until ``done`` (a call whose time
runs low hands over where it stopped), then ``summarize``.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from dynamigrate.ddbjson import key_of
from dynamigrate.exportload import ExportFormatError
from dynamigrate.handlers import export_to_table
from dynamigrate.rule import TableSchema

from .conftest import FakeContext, create_table
from .test_export_load import ITEMS, KEY, exported

if TYPE_CHECKING:
    from collections.abc import Iterator

BUCKET = "exports"
_refused: dict[str, Any] | None = None  # the item refuse_one cannot map


class ShortContext(FakeContext):
    """An invocation whose time runs low after ``calls`` chunks: the loader must hand over."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:
        self.calls -= 1
        return 600_000 if self.calls >= 0 else 1_000


def refuse_one(item: dict[str, Any]) -> dict[str, Any]:
    """A transform (TRANSFORM=tests.unit.test_export_loader:refuse_one) that cannot map one item."""
    if item == _refused:
        raise KeyError("no target key for this item")
    return item


@pytest.fixture
def loader_env(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    client, s3 = boto3.client("dynamodb"), boto3.client("s3")
    export_arn = exported(client, s3)  # bucket "exports", prefix "migration"
    create_table("dst", KEY)
    create_table("ledger", {"pk": "S"}, ttl="expires_at")
    for name, value in {
        "TARGET_TABLE_NAME": "dst",
        "LEDGER_TABLE_NAME": "ledger",
        "EXPORT_BUCKET_NAME": BUCKET,
        "EXPORT_PREFIX": "migration/",
        "LOAD_PREFIX": "export-loads/",
        "DEAD_LETTER_PREFIX": "dead-letter/",
        "LOADER_THREADS": "4",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(export_to_table, "_loader", None)
    yield client, s3, export_arn
    export_to_table._loader = None


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    return [i for page in client.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]


def run_state_machine(export_arn: str, chunks_per_call: int) -> tuple[dict[str, Any], int]:
    """Drive the handler as the module's state machine does; returns the summary and the number of load calls."""
    prepared = export_to_table.lambda_handler({"action": "prepare", "export_arn": export_arn}, FakeContext())
    files = json.loads(
        boto3.client("s3").get_object(Bucket=prepared["bucket"], Key=prepared["files_key"])["Body"].read()
    )
    calls = 0
    for entry in files:  # the map's ItemSelector
        state: dict[str, Any] = {
            "action": "load",
            "export_id": prepared["export_id"],
            "key": entry["key"],
            "item_count": entry["item_count"],
            "next_item": 0,
        }
        while True:
            state = export_to_table.lambda_handler(state, ShortContext(chunks_per_call))  # the Choice state's loop
            calls += 1
            if state["done"]:
                break
    summary = export_to_table.lambda_handler(
        {"action": "summarize", **{k: prepared[k] for k in ("export_arn", "export_id", "item_count", "file_count")}},
        FakeContext(),
    )
    return summary, calls


def test_given_export_when_loaded_in_hand_over_calls_then_every_item_is_copied_once_and_counts_reconcile(
    loader_env: tuple[Any, Any, str],
) -> None:
    client, s3, export_arn = loader_env
    summary, calls = run_state_machine(export_arn, chunks_per_call=0)  # one 1,000-item chunk per call

    assert summary["files"] == summary["files_loaded"] == 3
    assert summary["read"] == summary["items"] == summary["written"] == ITEMS
    assert summary["reconciled"] and summary["parked"] == summary["failed"] == 0
    assert calls == 3  # files of 1,000, 1,000 and 100 items: each fits one call, the loader hands over at the end
    schema = TableSchema.from_description(client.describe_table(TableName="dst")["Table"])
    source = {json.dumps(key_of(i, schema.key_names)) for i in scan(client, "src")}
    target = {json.dumps(key_of(i, schema.key_names)) for i in scan(client, "dst")}
    assert source == target and len(target) == ITEMS
    stored = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"export-loads/{export_arn.rsplit('/', 1)[-1]}/summary.json")["Body"].read()
    )
    assert stored["written"] == ITEMS

    # Running the whole load again writes nothing: every copy finds its item.
    again, _ = run_state_machine(export_arn, chunks_per_call=5)
    assert again["written"] == 0 and again["skipped_exists"] == ITEMS and again["reconciled"]


def test_given_file_larger_than_one_call_when_loaded_then_calls_hand_over_without_loss(
    loader_env: tuple[Any, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, export_arn = loader_env
    monkeypatch.setattr("dynamigrate.exportload.LINES_PER_CHUNK", 300)
    summary, calls = run_state_machine(export_arn, chunks_per_call=0)
    assert calls == 4 + 4 + 1  # 1,000 items in chunks of 300 take four calls each
    assert summary["read"] == summary["written"] == ITEMS and summary["reconciled"]


def test_given_item_the_transform_refuses_when_loaded_then_it_is_parked_with_its_reason_and_the_run_fails(
    loader_env: tuple[Any, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, s3, export_arn = loader_env
    refused = client.scan(TableName="src", Limit=1)["Items"][0]
    monkeypatch.setattr(f"{__name__}._refused", refused)
    monkeypatch.setenv("TRANSFORM", f"{__name__}:refuse_one")

    with pytest.raises(export_to_table.ExportLoadIncompleteError, match="1 items were refused and parked"):
        run_state_machine(export_arn, chunks_per_call=5)

    export_id = export_arn.rsplit("/", 1)[-1]
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=f"export-loads/{export_id}/summary.json")["Body"].read())
    assert summary["parked"] == 1 and summary["written"] == ITEMS - 1 and summary["reconciled"]
    (dead_letter,) = summary["dead_letter_keys"]
    assert dead_letter.startswith(f"dead-letter/export-loads/{export_id}/")
    lines = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=dead_letter)["Body"].read()).splitlines()
    parked = [json.loads(line) for line in lines]
    assert len(parked) == 1 and "no target key" in parked[0]["reason"]
    assert parked[0]["Item"]["pk"] == refused["pk"]


def test_given_data_file_shorter_than_its_manifest_when_loaded_then_the_call_fails_naming_the_file(
    loader_env: tuple[Any, Any, str],
) -> None:
    _, s3, export_arn = loader_env
    prepared = export_to_table.lambda_handler({"action": "prepare", "export_arn": export_arn}, FakeContext())
    entry = json.loads(s3.get_object(Bucket=BUCKET, Key=prepared["files_key"])["Body"].read())[0]
    lines = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read()).splitlines()
    s3.put_object(Bucket=BUCKET, Key=entry["key"], Body=gzip.compress(b"\n".join(lines[:-1]) + b"\n"))
    event = {
        "action": "load",
        "export_id": prepared["export_id"],
        "key": entry["key"],
        "item_count": entry["item_count"],
    }

    with pytest.raises(ExportFormatError, match=f"{entry['key']} holds {entry['item_count'] - 1} items"):
        export_to_table.lambda_handler(event, ShortContext(10))


def test_given_bad_events_when_handled_then_errors_name_what_is_wrong(loader_env: tuple[Any, Any, str]) -> None:
    with pytest.raises(ValueError, match="unknown action 'copy'"):
        export_to_table.lambda_handler({"action": "copy"}, FakeContext())
    with pytest.raises(ValueError, match="event has no 'export_arn'"):
        export_to_table.lambda_handler({"action": "prepare"}, FakeContext())
    outside = {"action": "load", "export_id": "x", "key": "changes/evil.json.gz", "item_count": 1}
    with pytest.raises(ExportFormatError, match="outside the export prefix"):
        export_to_table.lambda_handler(outside, FakeContext())
