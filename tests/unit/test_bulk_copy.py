"""The bulk copy's parts: batched conditional transactions, the capacity limiter, checkpoints and resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from dynamigrate.backfill import CheckpointMismatchError, Interrupted, backfill
from dynamigrate.batchcopy import TransactBatcher
from dynamigrate.capacity import CapacityLimiter, consumed_units, table_capacity
from dynamigrate.cli import sample
from dynamigrate.ddbjson import key_of, ledger_id
from dynamigrate.rule import APPLIED, EXISTS, FAILED, PARKED, TableSchema, VersionRule
from dynamigrate.verify import verify

from .conftest import create_table

if TYPE_CHECKING:
    from pathlib import Path

KEY = {"pk": "S", "sk": "N"}


def make_tables(client: Any, *, items: int, provisioned: dict[str, int] | None = None) -> VersionRule:
    create_table("src", KEY)
    if provisioned:
        client.create_table(
            TableName="dst",
            KeySchema=sample.KEY_SCHEMA,
            AttributeDefinitions=sample.ATTRIBUTE_DEFINITIONS,
            ProvisionedThroughput=provisioned,
        )
    else:
        create_table("dst", KEY)
    create_table("ledger", {"pk": "S"}, ttl="expires_at")
    rng = random.Random(3)
    for index in range(items):
        client.put_item(TableName="src", Item=sample.make_item(index, rng, version=index))
    return VersionRule(TableSchema.from_description(client.describe_table(TableName="dst")["Table"]), "ledger")


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    return client.scan(TableName=table)["Items"]


class Recorder:
    """Counts the requests sent through a client and can fail chosen ones."""

    def __init__(self, client: Any, fail: dict[int, dict[str, Any]] | None = None) -> None:
        self.client, self.fail, self.calls = client, fail or {}, 0

    def transact_write_items(self, **kwargs: Any) -> Any:
        number, self.calls = self.calls, self.calls + 1
        if number in self.fail:
            raise ClientError(self.fail[number], "TransactWriteItems")
        return self.client.transact_write_items(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


# ----------------------------------------------------------- batched copies --


def test_given_copies_some_blocked_when_batched_then_each_gets_its_outcome_in_few_requests(moto_aws: None) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=0)
    rng = random.Random(5)
    items = [sample.make_item(i, rng, version=i) for i in range(120)]
    # Items 0-9 are already in the target; items 10-14 were deleted by replication (ledger rows).
    for item in items[:10]:
        client.put_item(TableName="dst", Item=item)
    expires = {"N": str(int(time.time()) + 3600)}
    for item in items[10:15]:
        tombstone = {
            "pk": {"S": ledger_id(key_of(item, ("pk", "sk")))},
            "deleted": {"BOOL": True},
            "expires_at": expires,
        }
        client.put_item(TableName="ledger", Item=tombstone)
    recorder = Recorder(client)
    batcher = TransactBatcher(recorder, "dst")  # type: ignore[arg-type]

    results = batcher.run([rule.plan_copy(item) for item in items])

    outcomes = [r.outcome for r in results]
    assert outcomes[:15] == [EXISTS] * 15
    assert outcomes[15:] == [APPLIED] * 105
    # 120 copies = 3 transactions of 50/50/20; blocked copies cost one cancelled round each batch.
    assert recorder.calls <= 6, recorder.calls
    assert len(scan_all(client, "dst")) == 115


def test_given_transaction_conflicts_when_batched_then_copies_are_retried_and_applied(moto_aws: None) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=0)
    rng = random.Random(6)
    items = [sample.make_item(i, rng, version=i) for i in range(30)]
    conflict = {
        "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
        "CancellationReasons": [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * 59,
    }
    throttled = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
    recorder = Recorder(client, fail={0: conflict, 1: throttled})
    results = TransactBatcher(recorder, "dst", sleep=lambda _: None).run([rule.plan_copy(i) for i in items])  # type: ignore[arg-type]
    assert [r.outcome for r in results] == [APPLIED] * 30
    assert recorder.calls == 3
    assert len(scan_all(client, "dst")) == 30


def test_given_throttling_that_never_ends_when_batched_then_copies_fail_and_are_reported(moto_aws: None) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=0)
    items = [sample.make_item(i, random.Random(i), version=i) for i in range(4)]
    throttled = {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}
    recorder = Recorder(client, fail=dict.fromkeys(range(100), throttled))
    results = TransactBatcher(recorder, "dst", retries=2, sleep=lambda _: None).run([rule.plan_copy(i) for i in items])  # type: ignore[arg-type]
    assert [r.outcome for r in results] == [FAILED] * 4
    assert all("ThrottlingException after retries" in r.reason for r in results)


def test_given_an_oversize_copy_in_a_batch_when_batched_then_only_it_is_parked(moto_aws: None) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=0)
    items = [sample.make_item(i, random.Random(i), version=i) for i in range(5)]
    items[2]["blob"] = {"S": "x" * 410_000}  # over the 400 KB item limit
    results = TransactBatcher(client, "dst").run([rule.plan_copy(i) for i in items])
    assert [r.outcome for r in results] == [APPLIED, APPLIED, PARKED, APPLIED, APPLIED]
    assert "size" in results[2].reason.lower()


def test_given_two_copies_of_one_target_item_when_batched_then_they_go_in_separate_requests(moto_aws: None) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=0)
    item = sample.make_item(1, random.Random(1), version=1)
    results = TransactBatcher(client, "dst").run([rule.plan_copy(item), rule.plan_copy(dict(item))])
    assert sorted(r.outcome for r in results) == [APPLIED, EXISTS]


# ------------------------------------------------------------------ capacity --


def test_table_capacity_reads_provisioned_on_demand_warm_and_default_figures() -> None:
    provisioned = {
        "BillingModeSummary": {"BillingMode": "PROVISIONED"},
        "ProvisionedThroughput": {"ReadCapacityUnits": 400, "WriteCapacityUnits": 100},
    }
    assert table_capacity(provisioned).share(50, 25) == (200.0, 25.0)
    on_demand = {
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ProvisionedThroughput": {"ReadCapacityUnits": 0},
    }
    assert (
        table_capacity(
            {**on_demand, "OnDemandThroughput": {"MaxReadRequestUnits": 900, "MaxWriteRequestUnits": 300}}
        ).write
        == 300
    )
    warm = table_capacity({**on_demand, "WarmThroughput": {"ReadUnitsPerSecond": 15000, "WriteUnitsPerSecond": 5000}})
    assert (warm.read, warm.write, warm.basis) == (15000, 5000, "warm throughput")
    assert table_capacity(on_demand).basis == "on-demand default for a new table"
    assert (
        consumed_units(
            {"ConsumedCapacity": [{"TableName": "a", "CapacityUnits": 2.0}, {"TableName": "b", "CapacityUnits": 3.0}]}
        )
        == 5.0
    )
    assert consumed_units({"ConsumedCapacity": {"TableName": "a", "CapacityUnits": 1.5}}, "a") == 1.5
    assert consumed_units({}) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_given_a_rate_when_requests_of_any_size_are_charged_then_the_average_holds_within_10_percent() -> None:
    clock = FakeClock()
    limiter = CapacityLimiter(250.0, clock=clock, sleep=clock.sleep)
    rng = random.Random(1)
    for _ in range(400):
        limiter.wait()
        clock.now += 0.002  # the request's own latency
        limiter.charge(rng.choice([0.5, 4.0, 25.0, 128.0]))  # tiny reads up to a full 1 MB scan page
    rate = limiter.consumed / clock.now
    assert abs(rate - 250.0) / 250.0 < 0.10, rate


def test_given_a_provisioned_target_when_backfilled_at_half_capacity_then_writes_hold_the_rate(moto_aws: None) -> None:
    """A run against a table of known capacity; the emulator reports no consumed capacity, so figures are stubbed."""
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=400, provisioned={"ReadCapacityUnits": 1000, "WriteCapacityUnits": 80})
    capacity = table_capacity(client.describe_table(TableName="dst")["Table"])
    _, rate = capacity.share(100, 50)
    clock = FakeClock()
    writes = CapacityLimiter(rate, clock=clock, sleep=clock.sleep)

    class Reporting(Recorder):
        def transact_write_items(self, **kwargs: Any) -> Any:
            response = dict(super().transact_write_items(**kwargs))
            clock.now += 0.01
            puts = sum(1 for part in kwargs["TransactItems"] if "Put" in part)
            response["ConsumedCapacity"] = [{"TableName": "dst", "CapacityUnits": 2.0 * puts}]
            return response

    report = backfill(client, Reporting(client), "src", rule, segments=1, threads=1, page_size=20, write_limiter=writes)  # type: ignore[arg-type]
    assert report.read == 400 and report.tally.counts[APPLIED] == 400
    assert rate == 40.0
    measured = writes.consumed / clock.now
    assert writes.consumed == 800.0
    assert abs(measured - rate) / rate < 0.10, measured


# ---------------------------------------------------------- checkpoint/resume --


def resume_to_equal(client: Any, rule: VersionRule, checkpoint: Path, *, items: int, **options: Any) -> Any:
    """Rerun a stopped copy from its checkpoint; it must count each item once and end with equal tables.

    Returns the checkpoint as the stopped run left it.
    """
    saved = json.loads(checkpoint.read_text())
    assert saved["read"] == sum(saved["counts"].values())
    report = backfill(client, client, "src", rule, checkpoint=checkpoint, **options)
    assert report.resumed_from == saved["read"]
    assert report.read == items and report.reconciled and report.ok
    assert verify(client, client, "src", "dst", source_key=("pk", "sk"), target_key=("pk", "sk")).equal
    return saved


def test_given_a_copy_stopped_midway_when_rerun_with_its_checkpoint_then_it_finishes_counting_each_item_once(
    moto_aws: None, tmp_path: Path
) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=300)
    checkpoint = tmp_path / "copy.json"
    stop = threading.Event()
    seen = [0]

    def progress(count: int) -> None:
        seen[0] += count
        if seen[0] >= 100:
            stop.set()

    with pytest.raises(Interrupted):
        backfill(
            client, client, "src", rule, segments=3, page_size=25, checkpoint=checkpoint, progress=progress, stop=stop
        )
    saved = resume_to_equal(client, rule, checkpoint, items=300, segments=3, page_size=25)
    assert 100 <= saved["read"] < 300

    again = backfill(client, client, "src", rule, segments=3, page_size=25, checkpoint=checkpoint)
    assert again.read == 300 and again.resumed_from == 300  # already complete: nothing is read again


def test_given_planning_that_crashes_mid_page_when_rerun_then_the_page_is_copied_once(
    moto_aws: None, tmp_path: Path
) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=120)
    checkpoint = tmp_path / "copy.json"
    planned: list[int] = []

    def crash_once(item: dict[str, Any]) -> dict[str, Any]:  # a bug in a transform, not a refusal of one item
        planned.append(1)
        if len(planned) == 80:  # past the first request's worth (50 copies), already handed to the writers
            raise RuntimeError("transform bug")
        return item

    with pytest.raises(RuntimeError, match="transform bug"):
        backfill(
            client,
            client,
            "src",
            rule,
            segments=1,
            threads=1,
            transform=crash_once,
            transform_name="t",
            checkpoint=checkpoint,
        )
    # The page was never recorded (no checkpoint yet): handed to the writers or not, its copies are redone.
    assert not checkpoint.exists() or json.loads(checkpoint.read_text())["read"] == 0
    report = backfill(
        client, client, "src", rule, segments=1, transform=crash_once, transform_name="t", checkpoint=checkpoint
    )
    assert report.read == 120 and report.reconciled and report.ok
    assert verify(client, client, "src", "dst", source_key=("pk", "sk"), target_key=("pk", "sk")).equal


class Crashing(Recorder):
    """Raises an unexpected error on one chosen request (a bug, not a DynamoDB refusal)."""

    def __init__(self, client: Any, crash_on: int) -> None:
        super().__init__(client)
        self.crash_on = crash_on

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.calls == self.crash_on:
            self.calls += 1
            raise RuntimeError("boom")
        return super().transact_write_items(**kwargs)


def test_given_a_page_that_crashes_while_later_pages_are_written_then_the_checkpoint_stays_before_it(
    moto_aws: None, tmp_path: Path
) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=60)
    checkpoint = tmp_path / "copy.json"
    crashing = Crashing(client, crash_on=1)  # the second page's request; pages after it are already under way
    with pytest.raises(RuntimeError, match="boom"):
        backfill(client, crashing, "src", rule, segments=1, threads=1, page_size=10, checkpoint=checkpoint)
    saved = resume_to_equal(client, rule, checkpoint, items=60, segments=1, page_size=10)
    assert saved["read"] == 10  # only the first page: no later page moved the checkpoint past the crashed one


def test_given_a_checkpoint_of_another_copy_when_resumed_then_it_refuses_and_says_why(
    moto_aws: None, tmp_path: Path
) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=10)
    checkpoint = tmp_path / "copy.json"
    backfill(client, client, "src", rule, segments=2, checkpoint=checkpoint)
    with pytest.raises(CheckpointMismatchError, match="belongs to another copy"):
        backfill(client, client, "src", rule, segments=4, checkpoint=checkpoint)


@pytest.fixture
def moto_server() -> Any:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_given_a_cli_copy_killed_with_sigkill_when_rerun_then_nothing_is_lost(moto_server: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_server,
    }
    env.pop("AWS_PROFILE", None)
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for name in ("src", "dst"):
        client.create_table(
            TableName=name,
            KeySchema=sample.KEY_SCHEMA,
            AttributeDefinitions=sample.ATTRIBUTE_DEFINITIONS,
            BillingMode="PAY_PER_REQUEST",
        )
    client.create_table(
        TableName="ledger",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    rng = random.Random(9)
    for index in range(400):
        client.put_item(TableName="src", Item=sample.make_item(index, rng, version=index))
    checkpoint = tmp_path / "copy.json"
    command = [
        sys.executable,
        "-m",
        "dynamigrate.cli.main",
        "backfill",
        "--source-table",
        "src",
        "--target-table",
        "dst",
        "--ledger-table",
        "ledger",
        "--checkpoint",
        str(checkpoint),
        "--segments",
        "4",
        "--json",
    ]

    # Slow enough (a 100-item page takes seconds) that the kill lands mid-copy even on a loaded machine:
    # at 200 units the four segments' pages could all land between two polls (seen in CI).
    slow = subprocess.Popen([*command, "--write-units", "40"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if checkpoint.exists() and json.loads(checkpoint.read_text())["read"] >= 100:
            break
        time.sleep(0.05)
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    killed_at = json.loads(checkpoint.read_text())["read"]
    assert 100 <= killed_at < 400, killed_at

    finished = subprocess.run(
        [*command, "--unlimited"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout)
    assert summary["resumed_from"] == killed_at
    assert summary["read"] == 400 and summary["reconciled"] is True
    assert summary["written"] + summary["skipped_exists"] == 400
    result = verify(client, client, "src", "dst", source_key=("pk", "sk"), target_key=("pk", "sk"))
    assert result.equal, result.as_dict()


def test_given_a_cancellation_that_blames_no_copy_when_batched_then_each_copy_is_judged_alone(moto_aws: None) -> None:
    client = boto3.client("dynamodb")
    rule = make_tables(client, items=0)
    items = [sample.make_item(i, random.Random(i), version=i) for i in range(3)]
    odd = {"Error": {"Code": "TransactionCanceledException", "Message": "?"}, "CancellationReasons": [{"Code": "None"}]}
    recorder = Recorder(client, fail={0: odd})
    batcher = TransactBatcher(recorder, "dst")  # type: ignore[arg-type]
    results = batcher.run([rule.plan_copy(i) for i in items])
    assert [r.outcome for r in results] == [APPLIED] * 3
    assert batcher.stats.fallbacks == 1
