"""Model-based proof: the target converges to the source under any delivery the pipeline allows.

Hypothesis generates a history of puts, updates, deletes, TTL deletes and
re-inserts on a few keys of a moto table with a stream, then drives the real
stream-to-S3 and writer handlers the way AWS may: stream batches of any size,
S3 failures that make the stream function fail (retried, bisected), change
objects delivered in any order, any number of times, in SQS batches of any
size, DynamoDB throttling and crashes mid-batch in the writer (the message is
redelivered), and the bulk copy reading the source at any moment and writing
at any point of the delivery. Whatever it draws, once everything is
delivered the target table must equal the source table, with nothing parked.

`make test` runs the default profile; `make soak` runs thousands of examples.
"""

from __future__ import annotations

import os
import random
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.unit.pipeline import Pipeline

settings.register_profile(
    "default",
    max_examples=110,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
settings.register_profile("soak", parent=settings.get_profile("default"), max_examples=1500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

KEYS = 4
OPS = ("put", "update", "delete", "ttl_delete", "reinsert")


def key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"k-{n}"}, "sk": {"N": str(n)}}


class Source:
    """The application writing to the source table; versions grow across deletes and re-inserts."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.clock = 0
        self.ddb = boto3.client("dynamodb")

    def version(self) -> dict[str, str]:
        self.clock += 1
        return {"N": str(self.clock)}

    def exists(self, n: int) -> bool:
        return "Item" in self.ddb.get_item(TableName=self.pipeline.source, Key=key(n), ConsistentRead=True)

    def apply(self, op: str, n: int, value: int) -> None:
        table = self.pipeline.source
        if op in ("put", "reinsert"):
            item = {**key(n), "value": {"N": str(value)}, "tag": {"S": f"v{value}"}, "updated_at": self.version()}
            self.ddb.put_item(TableName=table, Item=item)
        elif op == "update":
            created = not self.exists(n)
            self.ddb.update_item(
                TableName=table,
                Key=key(n),
                UpdateExpression="SET #v = :v, updated_at = :t REMOVE tag",
                ExpressionAttributeNames={"#v": "value"},
                ExpressionAttributeValues={":v": {"N": str(value)}, ":t": self.version()},
            )
            if created:
                self.pipeline.fix_moto_upsert_records()
        elif self.exists(n):  # a delete of a missing item writes no stream record
            self.ddb.delete_item(TableName=table, Key=key(n))
            if op == "ttl_delete":
                self.pipeline.mark_last_as_ttl()


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    steps = draw(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, KEYS - 1)), min_size=1, max_size=24))
    return [(op, n, i) for i, (op, n) in enumerate(steps)]


def run_model(mode: str | None, data: st.DataObject) -> None:
    pipeline = Pipeline(mode)
    source = Source(pipeline)
    history = data.draw(histories(), label="history")
    copy_start = data.draw(st.integers(0, len(history)), label="bulk copy starts after step")
    copied: list[dict[str, Any]] = []
    objects: list[str] = []
    # The application writes; the change capture runs at random moments; the
    # bulk copy scans the source one key at a time from `copy_start` on.
    to_scan = list(range(KEYS))
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    for step, (op, n, value) in enumerate(history):
        source.apply(op, n, value)
        if step >= copy_start and to_scan and rng.random() < 0.5:
            scanned = to_scan.pop(rng.randrange(len(to_scan)))
            item = source.ddb.get_item(TableName=pipeline.source, Key=key(scanned)).get("Item")
            if item is not None:
                copied.append(item)
        if rng.random() < 0.3:
            objects += capture(pipeline, data)
    for scanned in to_scan:  # the scan finishes after the last write
        item = source.ddb.get_item(TableName=pipeline.source, Key=key(scanned)).get("Item")
        if item is not None:
            copied.append(item)
    objects += capture(pipeline, data)

    # Delivery: every object at least once, in any order, in batches; failed messages come back later.
    pending = objects + data.draw(st.lists(st.sampled_from(objects), max_size=6), label="duplicates") if objects else []
    rng.shuffle(pending)
    copies = list(copied)
    rounds = 0
    while pending or copies:
        rounds += 1
        assert rounds < 500, "delivery did not finish"
        if copies and (not pending or rng.random() < 0.3):
            # One backfill request: several copies in one batched transaction, sometimes throttled.
            size = rng.randint(1, len(copies))
            throttled = set(data.draw(st.lists(st.integers(0, 3), max_size=2), label="copy throttles"))
            outcomes = pipeline.copy_items(copies[:size], throttled)
            failed = [item for item, outcome in zip(copies[:size], outcomes, strict=True) if outcome == "failed"]
            copies = failed + copies[size:]  # a failed copy is reported and retried by a rerun
            continue
        size = rng.randint(1, min(10, len(pending)))
        batch, pending = pending[:size], pending[size:]
        failures = set(data.draw(st.lists(st.integers(0, 12), max_size=2), label="writer failures"))
        for key_ in pipeline.deliver(batch, failures):
            pending.insert(rng.randint(0, len(pending)), key_)

    assert pipeline.differences() == [], f"target diverged: {pipeline.differences()}"
    assert pipeline.parked() == []
    stats = pipeline.stats
    event(f"stream batches retried: {'yes' if stats.stream_retries else 'no'}")
    event(f"writer messages failed and redelivered: {'yes' if stats.writer_failures else 'no'}")
    event(f"TTL deletes: {'yes' if pipeline.ttl_records else 'no'}")
    for outcome, count in stats.copies.items():
        if count:
            event(f"bulk copy outcome: {outcome}")


def capture(pipeline: Pipeline, data: st.DataObject) -> list[str]:
    sizes = data.draw(st.lists(st.integers(1, 8), min_size=1, max_size=4), label="stream batch sizes")
    failures = set(data.draw(st.lists(st.integers(0, 4), max_size=2), label="stream S3 failures"))
    return pipeline.capture(sizes, failures)


@pytest.mark.parametrize("mode", [None, "updated_at"], ids=["stream-ordering", "version-attribute"])
@given(data=st.data())
def test_given_any_history_and_any_delivery_when_drained_then_target_equals_source(
    moto_aws: None, mode: str | None, data: st.DataObject
) -> None:
    run_model(mode, data)


def test_given_injected_failures_when_driven_then_harness_retries_and_still_converges(moto_aws: None) -> None:
    """The failure injection is real: S3 and DynamoDB errors happen, are retried, and the tables still match."""
    pipeline = Pipeline("updated_at")
    source = Source(pipeline)
    for step, (op, n) in enumerate([("put", 0), ("put", 1), ("update", 0), ("ttl_delete", 1), ("reinsert", 1)]):
        source.apply(op, n, step)
    objects = pipeline.capture([2], s3_failures={0, 1})
    assert pipeline.stats.stream_retries == 2
    pending = objects + objects
    while pending:
        batch, pending = pending[:2], pending[2:]
        pending += pipeline.deliver(batch, dynamodb_failures={0} if pipeline.stats.deliveries < 3 else set())
    assert pipeline.stats.writer_failures > 0
    assert len(pipeline.ttl_records) == 1
    assert pipeline.differences() == []
    assert pipeline.parked() == []
