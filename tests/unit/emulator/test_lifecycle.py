"""Emulator lifecycle: the whole pipeline, wait_idle, shutdown without orphans, reversible moto patches."""

from __future__ import annotations

import json
import os
import threading
from importlib import metadata
from typing import TYPE_CHECKING

import pytest

from dynamigrate.emulator import Emulator, MotoVersionError
from dynamigrate.emulator import _moto_patches as patches
from tests.unit.emulator._testkit import ACCOUNT_A, ACCOUNT_B, Account, poll, unique

if TYPE_CHECKING:
    from pathlib import Path

STREAM_TO_S3 = """
import json, os
import boto3

s3 = boto3.client("s3")

def handler(event, context):
    for r in event["Records"]:
        key = r["dynamodb"]["Keys"]["pk"]["S"] + "/" + r["dynamodb"]["SequenceNumber"] + ".json"
        s3.put_object(Bucket=os.environ["BUCKET"], Key=key, Body=json.dumps(r).encode())
"""

# SQS batches run concurrently, so changes can arrive out of order (as on AWS): apply a change only if it is
# newer than what the table holds, and keep deletes as tombstones so an older insert cannot resurrect the item.
S3_TO_TABLE = """
import base64, json, os
from urllib.parse import unquote_plus
import boto3

s3 = boto3.client("s3")
ddb = boto3.client("dynamodb")

def apply(change):
    seq = change["dynamodb"]["SequenceNumber"]
    if change["eventName"] == "REMOVE":
        item = {**change["dynamodb"]["Keys"], "_deleted": {"BOOL": True}}
    else:  # stream events carry binary as base64 text; the low-level client wants bytes
        image = change["dynamodb"]["NewImage"]
        item = {k: {"B": base64.b64decode(v["B"])} if "B" in v else v for k, v in image.items()}
    item["_seq"] = {"N": seq}
    try:
        ddb.put_item(
            TableName=os.environ["TABLE"],
            Item=item,
            ConditionExpression="attribute_not_exists(#s) OR #s < :s",
            ExpressionAttributeNames={"#s": "_seq"},
            ExpressionAttributeValues={":s": {"N": seq}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        pass  # a newer change of this item is already applied

def handler(event, context):
    for message in event["Records"]:
        for notification in json.loads(message["body"]).get("Records", []):
            bucket = notification["s3"]["bucket"]["name"]
            key = unquote_plus(notification["s3"]["object"]["key"])
            apply(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
"""


def test_given_the_migration_pipeline_then_source_writes_reach_the_target_table_in_another_account(
    emu: Emulator, account_a: Account, account_b: Account
) -> None:
    # Target account: bucket -> notification -> queue -> writer function -> table.
    bucket = unique("changes")
    s3_b = account_b.client("s3")
    s3_b.create_bucket(Bucket=bucket)
    _queue_url, queue_arn = account_b.create_queue(VisibilityTimeout="30")
    s3_b.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    target_table, _ = account_b.create_stream_table()
    writer = account_b.create_function(S3_TO_TABLE, timeout=20, env={"TABLE": target_table})
    account_b.client("lambda").create_event_source_mapping(FunctionName=writer, EventSourceArn=queue_arn, BatchSize=10)
    # Source account: table -> stream -> function writing into the target account's bucket.
    source_table, stream_arn = account_a.create_stream_table()
    exporter = account_a.create_function(STREAM_TO_S3, timeout=20, env={"BUCKET": bucket})
    account_a.client("lambda").create_event_source_mapping(
        FunctionName=exporter, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=5
    )

    ddb_a = account_a.client("dynamodb")
    for i in range(12):
        ddb_a.put_item(TableName=source_table, Item={"pk": {"S": f"item {i}"}, "n": {"N": str(i)}, "b": {"B": b"\x00"}})
    ddb_a.delete_item(TableName=source_table, Key={"pk": {"S": "item 0"}})

    assert emu.wait_idle(timeout=30)
    items = account_b.client("dynamodb").scan(TableName=target_table)["Items"]
    live = {item["pk"]["S"]: item for item in items if "_deleted" not in item}
    assert sorted(live) == sorted(f"item {i}" for i in range(1, 12))
    assert {k: v for k, v in live["item 7"].items() if k != "_seq"} == {
        "pk": {"S": "item 7"},
        "n": {"N": "7"},
        "b": {"B": b"\x00"},
    }
    stats = emu.stats()
    assert stats[f"arn:aws:lambda:us-east-1:{ACCOUNT_A}:function:{exporter}"]["records_delivered"] == 13
    # 13 object notifications plus the s3:TestEvent S3 sends when the notification is configured.
    assert stats[f"arn:aws:lambda:us-east-1:{ACCOUNT_B}:function:{writer}"]["records_delivered"] == 14


def test_given_a_running_invocation_then_wait_idle_returns_false_until_it_ends(
    emu: Emulator, account_a: Account
) -> None:
    name = account_a.create_function(
        "import time\ndef handler(event, context):\n    time.sleep(event['s'])\n", timeout=10
    )
    worker = threading.Thread(target=account_a.invoke, args=(name, {"s": 1.5}))
    worker.start()
    poll(emu.worker_pids)

    assert emu.wait_idle(timeout=0.3) is False

    worker.join()
    assert emu.wait_idle(timeout=5) is True


def test_given_shutdown_then_no_worker_process_or_poller_thread_survives(tmp_path: Path) -> None:
    emu = Emulator(work_dir=tmp_path / "emu", lambda_workers=2).start()
    account = Account(emu, ACCOUNT_A)
    sleeper = account.create_function("import time\ndef handler(event, context):\n    time.sleep(60)\n", timeout=120)
    quick = account.create_function("import os\ndef handler(event, context):\n    return os.getpid()\n")
    _queue_url, queue_arn = account.create_queue()
    account.client("lambda").create_event_source_mapping(FunctionName=quick, EventSourceArn=queue_arn)
    quick_pids = {account.invoke(quick)[0] for _ in range(2)}
    in_flight = threading.Thread(target=lambda: account.invoke(sleeper), daemon=True)
    in_flight.start()
    poll(lambda: len(emu.worker_pids()) >= 2)
    pids = set(emu.worker_pids()) | quick_pids

    emu.stop()

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("esm-", "lambda-log-"))]
    assert not patches.installed()
    in_flight.join(timeout=5)
    assert not in_flight.is_alive()
    emu.stop()  # idempotent


def test_given_a_stopped_emulator_then_moto_is_restored_and_another_one_can_start(tmp_path: Path) -> None:
    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    originals = (LambdaFunction._invoke_lambda, StreamShard.add, Queue.add_message)
    with Emulator(work_dir=tmp_path / "one") as first:
        assert LambdaFunction._invoke_lambda is not originals[0]
        with pytest.raises(RuntimeError, match="already running"):
            Emulator(work_dir=tmp_path / "two").start()
        first_url = first.endpoint_url
    assert (LambdaFunction._invoke_lambda, StreamShard.add, Queue.add_message) == originals

    with Emulator(work_dir=tmp_path / "three") as second:
        assert second.endpoint_url != first_url or second.endpoint_url  # a fresh server
        assert Account(second, ACCOUNT_A).client("lambda").list_functions()["Functions"] == []


def test_given_a_port_in_use_then_start_fails_fast_and_cleans_up(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            Emulator(port=port, work_dir=tmp_path).start()

    assert not patches.installed()


def test_given_an_unsupported_moto_version_then_the_emulator_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_version = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "5.3.0" if name == "moto" else real_version(name))

    with pytest.raises(MotoVersionError, match=r"5\.2\.x.*found moto 5\.3\.0"):
        Emulator(work_dir=tmp_path).start()
    assert not patches.installed()


def test_given_moto_account_id_in_the_environment_then_the_emulator_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT_B)

    with pytest.raises(RuntimeError, match="MOTO_ACCOUNT_ID"):
        Emulator(work_dir=tmp_path).start()


def test_given_credentials_for_an_account_then_calls_land_there(emu: Emulator) -> None:
    credentials = emu.credentials(ACCOUNT_B)
    session = emu.session(ACCOUNT_B)

    assert set(credentials) == {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"}
    assert session.client("sts").get_caller_identity()["Account"] == ACCOUNT_B  # no endpoint_url needed
    assert session.client("s3").meta.endpoint_url == emu.endpoint_url
    assert session.resource("dynamodb").meta.client.meta.endpoint_url == emu.endpoint_url
    assert emu.session(ACCOUNT_B) is session
    with pytest.raises(ValueError, match="12 digits"):
        emu.credentials("not-an-account")


def test_given_the_serve_entry_point_then_it_prints_the_endpoint_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from dynamigrate.emulator import serve; "
            "serve('127.0.0.1', 0, 'us-east-1', Path(sys.argv[1]))",
            str(tmp_path / "served"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        endpoint = first_line.split("listening on ")[1].strip()
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
            assert json.loads(response.read())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "shutting down" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
