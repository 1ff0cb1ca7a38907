"""The rollback pipeline on the embedded emulator: both directions at once, no echo, one winner per conflict.

examples/cross-account is applied with rollback_enabled = true (attribute mode on
the sample items' `updated_at`). Writes are counted per key on both tables'
streams: a stream holds one record per write that changed an item, so an echo
(a replicated change written back to where it came from) would show as a second
record for the key on its origin table.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections import Counter
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from dynamigrate.cli import sample
from dynamigrate.cli.demo import DemoOptions, Deployment, Rehearsal
from dynamigrate.ddbjson import describe_key
from dynamigrate.emulator import Emulator
from tests.integration.conftest import EXAMPLE, LAMBDA_ZIP

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration
SOURCE, TARGET = "111111111111", "222222222222"


class Both:
    def __init__(self, emulator: Emulator, deployment: Deployment) -> None:
        self.emulator = emulator
        self.deployment = deployment
        self.tables = {SOURCE: deployment.source, TARGET: deployment.target}
        self.names = {SOURCE: deployment.source_table, TARGET: deployment.target_table}

    def put(self, account: str, index: int, version: int, note: str = "") -> dict[str, Any]:
        item = sample.make_item(index, random.Random(index), version=version)
        if note:
            item["note"] = {"S": note}
        self.tables[account].put_item(TableName=self.names[account], Item=item)
        return item

    def get(self, account: str, index: int) -> dict[str, Any] | None:
        response = self.tables[account].get_item(
            TableName=self.names[account], Key=sample.item_key(index), ConsistentRead=True
        )
        return response.get("Item")

    def writes(self, account: str) -> Counter[str]:
        """Stream records per key: each is one write that changed the item."""
        session = self.emulator.session(account)
        ddb, streams = session.client("dynamodb"), session.client("dynamodbstreams")
        arn = ddb.describe_table(TableName=self.names[account])["Table"]["LatestStreamArn"]
        counts: Counter[str] = Counter()
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator, Limit=1000)
                counts.update(describe_key(r["dynamodb"]["Keys"]) for r in page["Records"])  # type: ignore[arg-type]
                iterator = page.get("NextShardIterator") if page["Records"] else None
        return counts

    def drain(self) -> None:
        assert self.emulator.wait_idle(timeout=120), self.emulator.stats()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    work: Path = tmp_path_factory.mktemp("rollback")
    options = DemoOptions(
        items=40,
        work_dir=work,
        example_dir=EXAMPLE,
        lambda_zip=LAMBDA_ZIP,
        json_output=True,
        version_attribute=sample.VERSION_ATTRIBUTE,
        rollback=True,
    )
    rehearsal = Rehearsal(options, Console(file=io.StringIO()))
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator(work_dir=work / "emulator"))
        deployment = rehearsal.deploy(emulator, stack)
        assert deployment.outputs["rollback"]["target"]["table_name"] == deployment.source_table
        yield Both(emulator, deployment)


def key(index: int) -> str:
    return describe_key(sample.item_key(index))


def test_given_both_directions_when_each_side_writes_then_the_other_gets_it_and_nothing_echoes(both: Both) -> None:
    before = {SOURCE: both.writes(SOURCE), TARGET: both.writes(TARGET)}
    both.put(SOURCE, 100_001, sample.version_now(), "written in the source account")
    both.put(TARGET, 100_002, sample.version_now(), "written in the target account")
    both.drain()
    assert both.get(TARGET, 100_001)["note"]["S"] == "written in the source account"  # type: ignore[index]
    assert both.get(SOURCE, 100_002)["note"]["S"] == "written in the target account"  # type: ignore[index]

    both.tables[TARGET].delete_item(TableName=both.names[TARGET], Key=sample.item_key(100_001))
    both.drain()
    assert both.get(SOURCE, 100_001) is None  # the rollback pipeline carried the delete back

    after = {SOURCE: both.writes(SOURCE), TARGET: both.writes(TARGET)}
    grown = {acct: after[acct] - before[acct] for acct in after}
    # One write per key and table for the one-way writes; the delete adds one on each side. An echo adds more.
    assert grown[SOURCE][key(100_001)] == 2 and grown[TARGET][key(100_001)] == 2, grown
    assert grown[SOURCE][key(100_002)] == 1 and grown[TARGET][key(100_002)] == 1, grown
    time.sleep(2)
    both.drain()
    assert both.writes(SOURCE) == after[SOURCE] and both.writes(TARGET) == after[TARGET]  # quiet: no ping-pong


def test_given_conflicting_writes_in_both_accounts_then_both_tables_keep_the_same_winner(both: Both) -> None:
    base = sample.version_now()
    pairs = {  # index: (source version, target version)
        100_010: (base + 10, base + 20),  # the target's write is newer
        100_011: (base + 40, base + 30),  # the source's write is newer
    }
    gate = threading.Barrier(2)

    def write(account: str, side: int) -> None:
        gate.wait()
        for index, versions in pairs.items():
            both.put(account, index, versions[side], f"{account} v{versions[side]}")

    threads = [threading.Thread(target=write, args=(acct, side)) for side, acct in enumerate((SOURCE, TARGET))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    both.drain()
    for index, versions in pairs.items():
        winner = max(versions)
        for account in (SOURCE, TARGET):
            item = both.get(account, index)
            assert item is not None and int(item[sample.VERSION_ATTRIBUTE]["N"]) == winner, (account, index, item)
        assert both.get(SOURCE, index) == both.get(TARGET, index)
