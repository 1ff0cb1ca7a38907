"""The version rule applied through the writer against moto: any order, any duplicates, deletes."""

from __future__ import annotations

import gzip
import json
import random
import time
from typing import Any

import boto3
import pytest

from dynamigrate.apply import DeploymentError, execute
from dynamigrate.changes import Change, decode_object
from dynamigrate.config import WriterConfig
from dynamigrate.ddbjson import items_equal, to_client
from dynamigrate.rule import APPLIED, EXISTS, PARKED, STALE, TOMBSTONED, TableSchema, VersionRule, seq_from_int
from dynamigrate.writer import ChangeWriter
from tests.unit.conftest import BUCKET, LEDGER_TABLE, TARGET_TABLE, create_table

MODES = [None, "updated_at"]


def make_writer(version_attribute: str | None, **overrides: Any) -> ChangeWriter:
    config = WriterConfig.from_env(
        {
            "TARGET_TABLE_NAME": TARGET_TABLE,
            "LEDGER_TABLE_NAME": LEDGER_TABLE,
            "CHANGE_BUCKET_NAME": BUCKET,
            "VERSION_ATTRIBUTE": version_attribute or "",
            "WRITER_THREADS": "4",
            **overrides,
        }
    )
    return ChangeWriter(config)


def key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"k{n}"}, "sk": {"N": str(n)}}


def put(
    n: int, seq: int, value: str, *, op: str = "MODIFY", version: int | None = None, ts: float | None = None
) -> Change:
    version = seq if version is None else version
    item = {**key(n), "value": {"S": value}, "updated_at": {"N": str(version)}}
    return Change(op=op, keys=key(n), seq=seq_from_int(seq), ts=ts or time.time(), new=item)


def delete(n: int, seq: int, *, old_version: int, ttl: bool = False) -> Change:
    old = {**key(n), "value": {"S": "old"}, "updated_at": {"N": str(old_version)}}
    return Change(op="REMOVE", keys=key(n), seq=seq_from_int(seq), ts=time.time(), old=old, ttl=ttl)


def target_item(n: int) -> dict[str, Any] | None:
    return boto3.client("dynamodb").get_item(TableName=TARGET_TABLE, Key=key(n), ConsistentRead=True).get("Item")


def apply(writer: ChangeWriter, *changes: Change) -> dict[str, int]:
    summary = writer.apply_changes(list(changes), "changes/test.jsonl.gz")
    return {k: v for k, v in summary.tally.counts.items() if v}


@pytest.mark.parametrize("mode", MODES)
def test_given_two_updates_in_reverse_order_when_applied_then_newer_wins_and_older_is_stale(tables, mode) -> None:
    writer = make_writer(mode)
    assert apply(writer, put(1, 20, "new")) == {APPLIED: 1}
    assert apply(writer, put(1, 10, "old")) == {STALE: 1}
    assert target_item(1)["value"] == {"S": "new"}


@pytest.mark.parametrize("mode", MODES)
def test_given_duplicate_delivery_when_applied_then_second_is_stale(tables, mode) -> None:
    writer = make_writer(mode)
    change = put(1, 10, "v", op="INSERT")
    assert apply(writer, change) == {APPLIED: 1}
    assert apply(writer, change) == {STALE: 1}


@pytest.mark.parametrize("mode", MODES)
def test_given_delete_then_late_older_update_when_applied_then_item_is_not_resurrected(tables, mode) -> None:
    writer = make_writer(mode)
    apply(writer, put(1, 10, "v1", op="INSERT"))
    assert apply(writer, delete(1, 30, old_version=20)) == {APPLIED: 1}
    late = apply(writer, put(1, 20, "v2"))
    assert late == ({TOMBSTONED: 1} if mode else {STALE: 1})
    assert target_item(1) is None


@pytest.mark.parametrize("mode", MODES)
def test_given_reinsert_newer_than_delete_when_delete_arrives_last_then_reinsert_wins(tables, mode) -> None:
    writer = make_writer(mode)
    apply(writer, put(1, 40, "reborn", op="INSERT"))
    assert apply(writer, delete(1, 30, old_version=20)) == {STALE: 1}
    assert target_item(1)["value"] == {"S": "reborn"}


@pytest.mark.parametrize("mode", MODES)
def test_given_update_before_its_insert_when_applied_then_update_wins(tables, mode) -> None:
    writer = make_writer(mode)
    assert apply(writer, put(1, 20, "updated")) == {APPLIED: 1}  # item absent: the fallback path
    assert apply(writer, put(1, 10, "inserted", op="INSERT")) == {STALE: 1}
    assert target_item(1)["value"] == {"S": "updated"}


@pytest.mark.parametrize("mode", MODES)
def test_given_several_changes_to_one_key_in_an_object_when_applied_then_only_newest_is_written(tables, mode) -> None:
    writer = make_writer(mode)
    summary = writer.apply_changes(
        [put(1, 10, "a", op="INSERT"), put(1, 11, "b"), delete(1, 12, old_version=11), put(1, 13, "d", op="INSERT")],
        "changes/x.jsonl.gz",
    )
    assert summary.superseded == 3
    assert summary.tally.counts[APPLIED] == 1
    assert target_item(1)["value"] == {"S": "d"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seed", range(6))
def test_given_random_history_delivered_shuffled_with_duplicates_when_applied_then_target_equals_source(
    tables, mode, seed
) -> None:
    rng = random.Random(seed)
    writer = make_writer(mode)
    source: dict[int, dict[str, Any] | None] = {}
    changes: list[Change] = []
    for seq in range(1, 120):
        n = rng.randrange(5)
        exists = source.get(n) is not None
        if exists and rng.random() < 0.3:
            changes.append(delete(n, seq, old_version=int(source[n]["updated_at"]["N"])))  # type: ignore[index]
            source[n] = None
        else:
            change = put(n, seq, f"v{seq}", op="MODIFY" if exists else "INSERT")
            changes.append(change)
            source[n] = change.new
    delivered = changes + rng.sample(changes, len(changes) // 3)
    rng.shuffle(delivered)
    while delivered:
        size = rng.randint(1, 12)
        apply(writer, *delivered[:size])
        delivered = delivered[size:]
    for n in range(5):
        assert items_equal(target_item(n), source.get(n)), f"key {n} diverged"


def test_given_attribute_mode_change_without_version_when_applied_then_parked_to_dead_letter(tables) -> None:
    writer = make_writer("updated_at")
    change = Change(op="INSERT", keys=key(1), seq=seq_from_int(5), ts=time.time(), new={**key(1), "v": {"S": "x"}})
    summary = writer.apply_changes([change, put(2, 6, "ok", op="INSERT")], "changes/a/b.jsonl.gz")
    assert summary.tally.counts[PARKED] == 1
    assert summary.tally.counts[APPLIED] == 1
    assert summary.dead_letter_key == "dead-letter/a/b.jsonl.gz"
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=summary.dead_letter_key)["Body"].read()
    parked = decode_object(body)
    assert [c.keys for c in parked.changes] == [key(1)]
    assert target_item(1) is None


def test_given_change_older_than_ledger_retention_when_applied_then_parked_not_applied(tables) -> None:
    writer = make_writer(None, LEDGER_RETENTION_SECONDS="86400")
    old = put(1, 5, "ancient", op="INSERT", ts=time.time() - 2 * 86400)
    summary = writer.apply_changes([old], "changes/old.jsonl.gz")
    assert summary.tally.counts[PARKED] == 1
    assert target_item(1) is None


def test_given_item_over_400kb_when_applied_then_parked_and_rest_of_object_applies(tables) -> None:
    writer = make_writer(None)
    huge = Change(
        op="INSERT", keys=key(1), seq=seq_from_int(1), ts=time.time(), new={**key(1), "blob": {"S": "x" * 410_000}}
    )
    summary = writer.apply_changes([huge, put(2, 2, "fine", op="INSERT")], "changes/big.jsonl.gz")
    assert summary.tally.counts[PARKED] == 1
    assert summary.tally.counts[APPLIED] == 1
    assert "ValidationException" in summary.tally.parked[0].reason


def test_given_target_with_other_key_schema_when_applied_then_parked_with_transform_hint(moto_aws) -> None:
    create_table(TARGET_TABLE, {"guid": "S"})
    create_table(LEDGER_TABLE, {"pk": "S"})
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    summary = make_writer(None).apply_changes([put(1, 1, "x", op="INSERT")], "changes/k.jsonl.gz")
    assert summary.tally.counts[PARKED] == 1
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key="dead-letter/k.jsonl.gz")["Body"].read()
    line = json.loads(gzip.decompress(body).splitlines()[1])
    assert "'guid' (S) is missing" in line["reason"]
    assert "configure a transform" in line["reason"]


def test_given_missing_target_table_when_writer_starts_then_error_names_table_and_fix(moto_aws) -> None:
    with pytest.raises(RuntimeError, match=f"cannot describe target table {TARGET_TABLE}"):
        make_writer(None).apply_changes([put(1, 1, "x")], "changes/k.jsonl.gz")


def test_given_missing_ledger_table_when_applied_then_deployment_error_fails_the_batch(moto_aws) -> None:
    create_table(TARGET_TABLE, {"pk": "S", "sk": "N"})
    with pytest.raises(DeploymentError, match="ResourceNotFoundException"):
        make_writer(None).apply_changes([put(1, 1, "x", op="INSERT")], "changes/k.jsonl.gz")


# ------------------------------------------------------------------ copies --


def rule_for(mode: str | None) -> VersionRule:
    table = boto3.client("dynamodb").describe_table(TableName=TARGET_TABLE)["Table"]
    return VersionRule(TableSchema.from_description(dict(table)), LEDGER_TABLE, mode)


def copy(mode: str | None, n: int, value: str, version: int) -> str:
    item = to_client({**key(n), "value": {"S": value}, "updated_at": {"N": str(version)}})
    return execute(boto3.client("dynamodb"), rule_for(mode).plan_copy(item)).outcome


@pytest.mark.parametrize("mode", MODES)
def test_given_absent_item_when_copied_then_written(tables, mode) -> None:
    assert copy(mode, 1, "copied", 5) == APPLIED
    assert target_item(1)["value"] == {"S": "copied"}


@pytest.mark.parametrize("mode", MODES)
def test_given_replicated_newer_item_when_copied_then_copy_never_clobbers_it(tables, mode) -> None:
    apply(make_writer(mode), put(1, 50, "replicated", op="INSERT"))
    assert copy(mode, 1, "scanned-earlier", 40) == EXISTS
    assert target_item(1)["value"] == {"S": "replicated"}


@pytest.mark.parametrize("mode", MODES)
def test_given_replicated_delete_when_copied_then_copy_does_not_resurrect(tables, mode) -> None:
    apply(make_writer(mode), delete(1, 50, old_version=40))
    assert copy(mode, 1, "scanned-before-delete", 40) in (EXISTS, TOMBSTONED)
    assert target_item(1) is None


def test_given_attribute_mode_and_older_target_item_when_copied_then_newer_copy_wins(tables) -> None:
    apply(make_writer("updated_at"), put(1, 10, "older", op="INSERT", version=10))
    assert copy("updated_at", 1, "newer", 20) == APPLIED
    assert target_item(1)["value"] == {"S": "newer"}


@pytest.mark.parametrize(("mode", "shown"), [(None, "'seq'"), ("updated_at", "newer or equal item")])
def test_given_stale_change_when_skipped_then_conflict_names_what_the_target_holds(tables, mode, shown) -> None:
    writer = make_writer(mode)
    apply(writer, put(1, 20, "new", op="INSERT"))
    summary = writer.apply_changes([put(1, 10, "old")], "changes/c.jsonl.gz")
    assert summary.tally.counts[STALE] == 1
    (conflict,) = summary.tally.conflicts
    assert conflict.outcome == STALE and conflict.key == key(1)
    assert "target holds" in conflict.reason and shown in conflict.reason
