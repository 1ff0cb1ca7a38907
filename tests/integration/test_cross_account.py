"""examples/cross-account applied to the embedded emulator in two accounts, then a live migration.

One deployment (module-scoped: `terraform apply` costs about a minute), with
the rollback pipeline, serves the tests in order: the live migration converges
item for item, a malformed change object is parked in the dead-letter queue
while the pipeline keeps working, everything is encrypted with each account's
own customer managed key (and the key policies refuse anyone else), an export
loads through the state machine,
both directions replicate without an echo and settle conflicts alike, and
`terraform destroy` removes the pipeline but not the tables.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import threading
import time
from collections import Counter
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
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
        version_attribute=sample.VERSION_ATTRIBUTE,  # the rollback pipeline orders by the items' own stamp
        rollback=True,
        rollback_window=False,  # the rollback tests below do their own, counted per key
        kms=True,  # create_kms_keys: change objects cross accounts under the target account's key
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
    assert report["encryption"]["change_objects_under_target_key"], report["encryption"]
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


def test_given_created_keys_when_changes_cross_accounts_then_each_account_key_encrypts_its_side(
    deployed: Stack,
) -> None:
    """create_kms_keys, end to end: the key policies are enforced by the emulator, as by KMS."""
    opts = deployed.rehearsal.options
    outputs = deployed.outputs
    keys = outputs["kms_key_arns"]
    assert keys["target"].split(":")[4] == opts.target_account
    assert keys["source"].split(":")[4] == opts.source_account
    target = deployed.emulator.session(opts.target_account)
    source = deployed.emulator.session(opts.source_account)

    # The change objects that crossed accounts (the migration test wrote them) carry the target key.
    s3 = target.client("s3")
    bucket = outputs["change_bucket_name"]
    changes = s3.list_objects_v2(Bucket=bucket, Prefix="changes/")["Contents"]
    assert changes
    for listed in changes[:5]:
        head = s3.head_object(Bucket=bucket, Key=listed["Key"])
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == keys["target"], head
    sqs = target.client("sqs")
    for url in (outputs["queue_url"], outputs["dead_letter_queue_url"]):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"]
        assert attributes["KmsMasterKeyId"] == keys["target"], url
    writer = target.client("lambda").get_function_configuration(FunctionName=outputs["writer_function_name"])
    assert writer["KMSKeyArn"] == keys["target"]
    stream = source.client("lambda").get_function_configuration(FunctionName=outputs["stream_function_name"])
    assert stream["KMSKeyArn"] == keys["source"]
    assert stream["Environment"]["Variables"]["KMS_KEY_ARN"] == keys["target"]
    ledger = target.client("dynamodb").describe_table(TableName=outputs["ledger_table_name"])["Table"]
    assert ledger["SSEDescription"]["KMSMasterKeyArn"] == keys["target"]

    def s3_as(role_arn: str) -> Any:
        credentials = source.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="kms-test")["Credentials"]
        return boto3.client(
            "s3",
            endpoint_url=deployed.emulator.endpoint_url,
            region_name=opts.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    body = gzip.compress(b"")
    # Another role of the source account: the target key's policy names only the stream role.
    intruder = s3_as(f"arn:aws:iam::{opts.source_account}:role/intruder")
    with pytest.raises(ClientError) as denied:
        intruder.put_object(
            Bucket=bucket,
            Key="changes/intruder.jsonl.gz",
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=keys["target"],
        )
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "kms:GenerateDataKey" in denied.value.response["Error"]["Message"]
    # The stream role itself, naming the key by alias: resolved in the source account, where it does not exist.
    stream_role = s3_as(stream["Role"])
    with pytest.raises(ClientError) as missing:
        stream_role.put_object(
            Bucket=bucket,
            Key="changes/alias.jsonl.gz",
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=f"alias/dynamigrate/{opts.name}",
        )
    assert missing.value.response["Error"]["Code"] == "KMS.NotFoundException"
    listed_after = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="changes/")["Contents"]}
    assert not {"changes/intruder.jsonl.gz", "changes/alias.jsonl.gz"} & listed_after


def test_given_export_of_source_when_state_machine_loads_it_then_new_items_are_copied_and_counts_reconcile(
    deployed: Stack,
) -> None:
    """The Distributed Map path, end to end: Export to S3 into the target bucket, then the module's state machine.

    The writer is paused while new items are written to the source, so only the
    export load can bring them over; items already replicated are left alone.
    """
    opts = deployed.rehearsal.options
    source = deployed.emulator.session(opts.source_account)
    target = deployed.emulator.session(opts.target_account)
    deployment = deployed.deployment
    writer_uuid = deployed.outputs["migration"]["target"]["event_source_mapping_uuid"]
    lambda_ = target.client("lambda")
    lambda_.update_event_source_mapping(UUID=writer_uuid, Enabled=False)
    try:
        rng = random.Random(7)
        new_keys = [sample.item_key(800_000 + n) for n in range(30)]
        for n in range(30):
            deployment.source.put_item(
                TableName=deployment.source_table, Item=sample.make_item(800_000 + n, rng, version=sample.version_now())
            )
        ddb = source.client("dynamodb")
        ddb.update_continuous_backups(  # Export to S3 reads the point-in-time backups
            TableName=deployment.source_table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
        table_arn = ddb.describe_table(TableName=deployment.source_table)["Table"]["TableArn"]
        bucket = deployed.outputs["change_bucket_name"]
        export_arn = ddb.export_table_to_point_in_time(
            TableArn=table_arn,
            S3Bucket=bucket,
            S3BucketOwner=opts.target_account,
            S3Prefix=deployed.outputs["export_prefix"],
            ExportFormat="DYNAMODB_JSON",
        )["ExportDescription"]["ExportArn"]
        wait_for(
            lambda: ddb.describe_export(ExportArn=export_arn)["ExportDescription"]["ExportStatus"] != "IN_PROGRESS",
            60,
            "the export did not finish",
        )
        exported = ddb.describe_export(ExportArn=export_arn)["ExportDescription"]
        assert exported["ExportStatus"] == "COMPLETED", exported

        sfn = target.client("stepfunctions")
        execution = sfn.start_execution(
            stateMachineArn=deployed.outputs["export_load_state_machine_arn"],
            input=json.dumps({"export_arn": export_arn}),
        )["executionArn"]
        wait_for(
            lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING",
            180,
            "the export load did not finish",
        )
        described = sfn.describe_execution(executionArn=execution)
        assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
        summary = json.loads(described["output"])
        assert summary["reconciled"] and summary["parked"] == summary["failed"] == 0, summary
        assert summary["read"] == summary["items"] == exported["ItemCount"]
        assert summary["files_loaded"] == summary["files"] >= 1
        assert summary["written"] == len(new_keys), summary  # only what replication has not brought
        for key in new_keys:
            item = deployment.target.get_item(TableName=deployment.target_table, Key=key, ConsistentRead=True)
            assert "Item" in item, key
        report_key = f"export-loads/{export_arn.rsplit('/', 1)[-1]}/summary.json"
        stored = json.loads(target.client("s3").get_object(Bucket=bucket, Key=report_key)["Body"].read())
        assert stored["written"] == summary["written"]
    finally:
        lambda_.update_event_source_mapping(UUID=writer_uuid, Enabled=True)


# ------------------------------------------------------------------------------------------- rollback --
# rollback_enabled = true (attribute mode on the items' `updated_at`). Writes are counted per key on both
# tables' streams: a stream holds one record per write that changed an item, so an echo (a replicated
# change written back to where it came from) would show as a second record for the key on its origin table.

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
def both(deployed: Stack) -> Both:
    """The same deployment, seen as two tables each replicated to the other (rollback_enabled)."""
    assert deployed.outputs["rollback"]["target"]["table_name"] == deployed.deployment.source_table
    return Both(deployed.emulator, deployed.deployment)


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
