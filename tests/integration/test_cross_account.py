"""examples/cross-account applied to the embedded emulator in two accounts, then a live migration.

One deployment (module-scoped: `terraform apply` costs about a minute) serves
the tests in order: the live migration converges item for item, a malformed
change object is parked in the dead-letter queue while the pipeline keeps
working, and `terraform destroy` removes the pipeline but not the tables.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import pytest
from rich.console import Console

from dynamigrate.cli import sample
from dynamigrate.cli.demo import DemoOptions, Deployment, Rehearsal
from dynamigrate.emulator import Emulator
from tests.integration.conftest import EXAMPLE, LAMBDA_ZIP

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration


class Stack:
    def __init__(self, rehearsal: Rehearsal, emulator: Emulator, deployment: Deployment, stack: ExitStack) -> None:
        self.rehearsal = rehearsal
        self.emulator = emulator
        self.deployment = deployment
        self.stack = stack
        self.outputs: dict[str, Any] = deployment.outputs


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work: Path = tmp_path_factory.mktemp("cross-account")
    options = DemoOptions(
        items=600,
        live_seconds=8.0,
        rate=25.0,
        work_dir=work,
        example_dir=EXAMPLE,
        lambda_zip=LAMBDA_ZIP,
        json_output=True,
    )
    rehearsal = Rehearsal(options, Console(file=io.StringIO()))
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator(work_dir=work / "emulator"))
        deployment = rehearsal.deploy(emulator, stack)
        yield Stack(rehearsal, emulator, deployment, stack)


def wait_for(condition: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f}s: {message}")


def test_given_deployed_pipeline_when_migrating_live_then_target_equals_source(deployed: Stack) -> None:
    report = deployed.rehearsal.migrate(deployed.emulator, deployed.deployment, deployed.stack)
    assert report["verify"]["equal"], report["verify"]
    assert report["verify"]["source_items"] == report["verify"]["target_items"] > 0
    assert report["copy"]["reconciled"]
    assert report["copy"]["written"] + report["copy"]["skipped_exists"] + report["copy"]["skipped_deleted"] > 0
    assert report["live_writes"]["total"] > 0 and report["live_writes"]["deletes"] > 0
    pipeline = report["pipeline"]
    assert pipeline["changes_captured"] >= report["live_writes"]["total"]
    assert pipeline["change_objects"] < pipeline["changes_captured"]  # one object per batch, not per change
    assert pipeline["changes_applied"] > 0
    assert pipeline["parked"] == 0
    stats = report["emulator"]
    assert all(s["errors"] == 0 and s["timeouts"] == 0 for s in stats.values()), stats
    assert sum(s["invocations"] for s in stats.values()) >= 2
    assert report["ok"]


def test_given_malformed_object_in_bucket_when_writer_retries_then_it_lands_in_dlq_and_pipeline_keeps_working(
    deployed: Stack,
) -> None:
    target = deployed.emulator.session(deployed.rehearsal.options.target_account)
    sqs = target.client("sqs")
    queue_url = deployed.outputs["queue_url"]
    dlq_url = deployed.outputs["dead_letter_queue_url"]
    # Retries happen after the visibility timeout (6 x the writer timeout); shorten it so the test is fast.
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "1"})
    bucket = deployed.outputs["change_bucket_name"]
    target.client("s3").put_object(Bucket=bucket, Key="changes/orders/forged.jsonl.gz", Body=gzip.compress(b"{oops"))

    def dlq_depth() -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    wait_for(lambda: dlq_depth() == 1, 90, "the malformed object's message never reached the DLQ")
    parked = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=1)["Messages"][0]
    notification = json.loads(parked["Body"])["Records"][0]["s3"]
    assert unquote_plus(notification["object"]["key"]) == "changes/orders/forged.jsonl.gz"

    # Still replicating: a new source write reaches the target.
    item = sample.make_item(999_999, random.Random(1), version=sample.version_now())
    deployed.deployment.source.put_item(TableName=deployed.deployment.source_table, Item=item)
    key = sample.item_key(999_999)
    wait_for(
        lambda: "Item" in deployed.deployment.target.get_item(TableName="orders", Key=key, ConsistentRead=True),
        60,
        "a change made after the malformed object did not replicate",
    )


def test_given_pipeline_when_destroyed_then_tables_and_their_items_remain(deployed: Stack) -> None:
    deployment = deployed.deployment
    assert deployment.terraform is not None
    before = {
        "source": deployment.source.scan(TableName="orders", Select="COUNT")["Count"],
        "target": deployment.target.scan(TableName="orders", Select="COUNT")["Count"],
    }
    deployment.terraform.destroy()
    after = {
        "source": deployment.source.scan(TableName="orders", Select="COUNT")["Count"],
        "target": deployment.target.scan(TableName="orders", Select="COUNT")["Count"],
    }
    assert after == before and before["source"] > 0
    assert "rehearsal-ledger" not in deployment.target.list_tables()["TableNames"]
    functions = deployed.emulator.session(deployed.rehearsal.options.source_account).client("lambda")
    assert functions.list_functions()["Functions"] == []
