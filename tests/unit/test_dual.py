"""dynamigrate.dual, the application's side of a rekey: every path, concurrency, and what it leaves the pipeline.

The seed's case on moto: ``Summaries(pub, external_id)`` to ``Articles(guid)``
with the declarative mapping of test_transforms, the replicator's ledger, and
the real writer and backfill beside the library.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from aws_lambda_powertools import Metrics

from dynamigrate.backfill import backfill
from dynamigrate.changes import Change
from dynamigrate.config import WriterConfig
from dynamigrate.ddbjson import ledger_id
from dynamigrate.dual import COPIES, FALLBACK_READS, STRICT_MISSES, DualTable
from dynamigrate.rule import APPLICATION_SEQ, EXISTS, STALE, application_owned, seq_from_int
from dynamigrate.transforms import TransformError, load
from dynamigrate.verify import verify
from dynamigrate.writer import ChangeWriter

from .conftest import create_table
from .test_transforms import SEED

if TYPE_CHECKING:
    from collections.abc import Iterator

OLD, NEW, LEDGER = "Summaries", "Articles", "articles-ledger"
MAPPING = load(json.dumps(SEED))


def guid(pub: str, external_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pub}/{external_id}"))


def keys(pub: str, external_id: str) -> dict[str, Any]:
    """The two keys the application passes on every call."""
    return {"Key": {"guid": guid(pub, external_id)}, "OldKey": {"pub": pub, "external_id": external_id}}


@pytest.fixture
def rekey(moto_aws: None) -> Iterator[boto3.client]:
    client = boto3.client("dynamodb")
    create_table(OLD, {"pub": "S", "external_id": "S"})
    create_table(NEW, {"guid": "S"})
    create_table(LEDGER, {"pk": "S"}, ttl="expires_at")
    yield client


def dual(client: Any, **kwargs: Any) -> DualTable:
    return DualTable.connect(client, table=NEW, old_table=OLD, ledger_table=LEDGER, transform=MAPPING, **kwargs)


def old_put(client: Any, pub: str, external_id: str, **attributes: Any) -> None:
    item = {"pub": pub, "external_id": external_id, "headline": f"headline {external_id}", **attributes}
    boto3.resource("dynamodb").Table(OLD).put_item(Item=item)


def new_item(pub: str, external_id: str) -> dict[str, Any] | None:
    response = boto3.resource("dynamodb").Table(NEW).get_item(Key={"guid": guid(pub, external_id)}, ConsistentRead=True)
    return response.get("Item")


def ledger_row(client: Any, pub: str, external_id: str) -> dict[str, Any] | None:
    key = {"pk": {"S": ledger_id({"guid": {"S": guid(pub, external_id)}})}}
    return client.get_item(TableName=LEDGER, Key=key, ConsistentRead=True).get("Item")


def test_given_an_item_in_the_new_table_then_get_reads_it_there_without_a_fallback(rekey) -> None:
    table = dual(rekey)
    table.put_item(Item={"guid": guid("p", "1"), "title": "new", "pub": "p", "external_id": "1"})
    old_put(rekey, "p", "1")  # an older copy that must not be read

    response = table.get_item(**keys("p", "1"))
    assert response["Table"] == NEW and response["Item"]["title"] == "new"
    assert table.counters[FALLBACK_READS] == 0


def test_given_an_item_only_in_the_old_table_then_get_falls_back_and_returns_it_transformed(rekey) -> None:
    metrics = Metrics(namespace="dynamigrate-test")
    table = dual(rekey, metrics=metrics)
    old_put(rekey, "p", "2", clicks=Decimal(7))

    response = table.get_item(**keys("p", "2"))
    assert response["Table"] == OLD
    assert response["Item"] == {
        "guid": guid("p", "2"),
        "pub": "p",
        "external_id": "2",
        "title": "headline 2",
        "kind": "article",
        "clicks": Decimal(7),
    }
    assert table.counters[FALLBACK_READS] == 1
    assert metrics.metric_set[FALLBACK_READS]["Value"] == [1.0]  # Powertools' own metric set
    assert table.get_item(**keys("p", "absent")) == {}
    assert table.counters[FALLBACK_READS] == 1
    assert new_item("p", "2") is None  # a read never writes


def test_given_keys_of_two_different_items_then_the_fallback_refuses_to_return_the_wrong_one(rekey) -> None:
    table = dual(rekey)
    old_put(rekey, "p", "3")
    with pytest.raises(ValueError, match="keys of two different items"):
        table.get_item(Key={"guid": guid("p", "4")}, OldKey={"pub": "p", "external_id": "3"})
    with pytest.raises(ValueError, match="OldKey is required until cutover"):
        table.get_item(Key={"guid": guid("p", "3")})
    with pytest.raises(Exception, match="guid"):
        table.get_item(Key={"guid": 12}, OldKey={"pub": "p", "external_id": "3"})  # a number for a string key


def test_given_an_item_only_in_the_old_table_when_updated_then_it_is_copied_first_and_the_update_applies(rekey) -> None:
    table = dual(rekey)
    old_put(rekey, "p", "5", clicks=Decimal(10))

    table.update_item(
        **keys("p", "5"),
        UpdateExpression="SET title = :t ADD clicks :one",
        ExpressionAttributeValues={":t": "edited", ":one": 1},
    )
    item = new_item("p", "5")
    assert item is not None and item["title"] == "edited" and item["clicks"] == 11  # the copy, then the update
    assert item["kind"] == "article" and "headline" not in item  # the copy went through the mapping
    assert table.counters[COPIES] == 1
    assert application_owned(ledger_row(rekey, "p", "5"))

    table.update_item(**keys("p", "5"), UpdateExpression="ADD clicks :one", ExpressionAttributeValues={":one": 1})
    assert new_item("p", "5")["clicks"] == 12 and table.counters[COPIES] == 1  # in the new table now: no copy


def test_given_an_item_in_neither_table_when_updated_then_it_is_created_as_update_item_does(rekey) -> None:
    table = dual(rekey)
    table.update_item(**keys("p", "6"), UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": "fresh"})
    assert new_item("p", "6") == {"guid": guid("p", "6"), "title": "fresh"}
    assert table.counters[COPIES] == 0


def test_given_a_caller_condition_then_it_is_judged_against_the_item_wherever_it_lives(rekey) -> None:
    table = dual(rekey)
    old_put(rekey, "p", "7", clicks=Decimal(1))
    create_only = {"ConditionExpression": "attribute_not_exists(guid)"}

    # The item exists (in the old table): a create-only put must fail, as it would in one table.
    with pytest.raises(rekey.exceptions.ConditionalCheckFailedException) as failure:
        table.put_item(Item={"guid": guid("p", "7"), "title": "dup"}, OldKey=keys("p", "7")["OldKey"], **create_only)
    assert failure.value.response["Item"]["clicks"] == {"N": "1"}  # what it found: the copy
    assert new_item("p", "7")["title"] == "headline 7"

    with pytest.raises(rekey.exceptions.ConditionalCheckFailedException):
        table.update_item(
            **keys("p", "7"),
            UpdateExpression="SET title = :t",
            ConditionExpression="clicks > :n",
            ExpressionAttributeValues={":t": "x", ":n": 5},
        )
    assert new_item("p", "7")["title"] == "headline 7"

    table.put_item(Item={"guid": guid("p", "8"), "title": "first"}, OldKey=keys("p", "8")["OldKey"], **create_only)
    assert new_item("p", "8")["title"] == "first"  # absent everywhere: the create-only put applies


def test_given_two_processes_updating_one_uncopied_item_at_once_then_every_update_survives(rekey) -> None:
    old_put(rekey, "p", "9", clicks=Decimal(100))
    # Two "processes": each its own client and DualTable, four threads each, all released at once.
    processes = [dual(boto3.client("dynamodb")) for _ in range(2)]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(table: DualTable) -> None:
        start.wait()
        try:
            for _ in range(5):
                table.update_item(
                    **keys("p", "9"), UpdateExpression="ADD clicks :one", ExpressionAttributeValues={":one": 1}
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(processes[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert new_item("p", "9")["clicks"] == 140  # 100 copied once, then 40 increments, none lost or doubled
    assert sum(table.counters[COPIES] for table in processes) == 1


def test_given_a_delete_then_a_late_replicated_change_and_a_backfill_then_the_item_stays_deleted(rekey) -> None:
    table = dual(rekey)
    old_put(rekey, "p", "10")
    assert table.get_item(**keys("p", "10"))["Table"] == OLD

    table.delete_item(**keys("p", "10"))
    row = ledger_row(rekey, "p", "10")
    assert row is not None and row["deleted"] == {"BOOL": True} and row["seq"] == {"S": APPLICATION_SEQ}
    assert table.get_item(**keys("p", "10")) == {}  # the ledger says the new table owns it: no fallback

    old = {"pub": {"S": "p"}, "external_id": {"S": "10"}, "headline": {"S": "late edit"}}
    late = Change(
        op="MODIFY", keys={k: old[k] for k in ("pub", "external_id")}, seq=seq_from_int(7), ts=time.time(), new=old
    )
    config = WriterConfig.from_env({"TARGET_TABLE_NAME": NEW, "LEDGER_TABLE_NAME": LEDGER, "CHANGE_BUCKET_NAME": "b"})
    summary = ChangeWriter(config, transform=MAPPING).apply_changes([late], "changes/late.jsonl.gz")
    assert summary.tally.counts[STALE] == 1

    report = backfill(rekey, rekey, OLD, table.rule, segments=1, transform=MAPPING)
    assert report.tally.counts[EXISTS] == 1 and report.reconciled
    assert new_item("p", "10") is None


def test_given_an_application_write_racing_a_lagging_replicated_change_then_the_application_wins(rekey) -> None:
    table = dual(rekey)
    old_put(rekey, "p", "11")
    table.update_item(**keys("p", "11"), UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": "app"})

    # A change made in the old table before the application moved its writes, delivered after.
    old = {"pub": {"S": "p"}, "external_id": {"S": "11"}, "headline": {"S": "made before the move"}}
    lagging = Change(
        op="MODIFY", keys={k: old[k] for k in ("pub", "external_id")}, seq=seq_from_int(10**30), ts=time.time(), new=old
    )
    config = WriterConfig.from_env({"TARGET_TABLE_NAME": NEW, "LEDGER_TABLE_NAME": LEDGER, "CHANGE_BUCKET_NAME": "b"})
    summary = ChangeWriter(config, transform=MAPPING).apply_changes([lagging], "changes/lag.jsonl.gz")
    assert summary.tally.counts[STALE] == 1
    assert new_item("p", "11")["title"] == "app"


def test_given_strict_mode_then_a_miss_reads_nothing_else_and_raises_the_alert(rekey, caplog) -> None:
    table = dual(rekey, strict=True)
    old_put(rekey, "p", "12")
    with caplog.at_level(logging.WARNING, logger="dynamigrate.dual"):
        assert table.get_item(Key={"guid": guid("p", "12")}) == {}  # no OldKey needed after cutover
    assert table.counters[STRICT_MISSES] == 1 and table.counters[FALLBACK_READS] == 0
    assert "miss after cutover" in caplog.text

    table.update_item(
        Key={"guid": guid("p", "12")}, UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": "recovered"}
    )
    assert table.counters[STRICT_MISSES] == 2 and table.counters[COPIES] == 0
    assert new_item("p", "12") == {"guid": guid("p", "12"), "title": "recovered"}


def test_given_attribute_mode_then_every_write_must_set_the_version(rekey) -> None:
    table = dual(rekey, version_attribute="updated_at")
    with pytest.raises(ValueError, match="version attribute 'updated_at'"):
        table.put_item(Item={"guid": guid("p", "13"), "title": "x"})
    with pytest.raises(ValueError, match="version attribute 'updated_at'"):
        table.update_item(**keys("p", "13"), UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": "x"})
    table.put_item(Item={"guid": guid("p", "13"), "title": "x", "updated_at": 5})
    assert new_item("p", "13")["updated_at"] == 5


def test_given_an_old_item_the_mapping_refuses_then_the_fallback_says_which_attribute(rekey) -> None:
    table = dual(rekey)
    rekey.put_item(TableName=OLD, Item={"pub": {"S": "p"}, "external_id": {"S": "14"}})  # no headline
    with pytest.raises(TransformError, match="headline"):
        table.get_item(**keys("p", "14"))


def test_given_application_writes_during_the_copy_then_verify_with_dual_access_finds_the_tables_equal(rekey) -> None:
    table = dual(rekey)
    for number in range(20):
        old_put(rekey, "p", str(number))
    table.update_item(**keys("p", "3"), UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": "edited"})
    table.delete_item(**keys("p", "4"))
    table.put_item(Item={"guid": guid("p", "new"), "title": "only in the new table"})
    backfill(rekey, rekey, OLD, table.rule, segments=2, transform=MAPPING)

    def run(ledger: str | None) -> Any:
        return verify(
            rekey,
            rekey,
            OLD,
            NEW,
            source_key=("pub", "external_id"),
            target_key=("guid",),
            transform=MAPPING,
            ledger_table=ledger,
        )

    plain = run(None)  # without the ledger, the application's own writes look like differences
    assert plain.count("different") == 1 and plain.count("missing") == 1 and not plain.equal
    owned = run(LEDGER)
    assert owned.equal and owned.count("different") == owned.count("missing") == 0
    assert owned.application_owned == {"source": 2, "target": 2}  # edited + deleted; edited + new
    assert owned.matched == 18


def test_given_an_eventually_consistent_miss_of_an_item_the_application_wrote_then_get_reads_it_again(rekey) -> None:
    class Stale:
        """The edge of the test: the first eventually consistent read of the new table misses, as it may on AWS."""

        def __init__(self, client: Any) -> None:
            self.client, self.missed = client, False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def get_item(self, **kwargs: Any) -> dict[str, Any]:
            if kwargs["TableName"] == NEW and not kwargs.get("ConsistentRead") and not self.missed:
                self.missed = True
                return {}
            return dict(self.client.get_item(**kwargs))

    old_put(rekey, "p", "15")
    dual(rekey).update_item(**keys("p", "15"), UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": "x"})
    stale = Stale(rekey)
    response = dual(stale).get_item(**keys("p", "15"))
    assert stale.missed and response["Table"] == NEW and response["Item"]["title"] == "x"
