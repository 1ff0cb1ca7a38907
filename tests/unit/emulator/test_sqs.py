"""SQS event source mappings: deletes on success, partial batch responses, redrive to the DLQ, concurrency."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.unit.emulator._testkit import ACCOUNT_A, poll, read_records

if TYPE_CHECKING:
    from pathlib import Path

    from dynamigrate.emulator import Emulator
    from tests.unit.emulator._testkit import Account

RECORDING_HANDLER = """
from recorder import record

def handler(event, context):
    record(event)
    return None
"""


def bodies(record_file: Path) -> list[list[str]]:
    return [[r["body"] for r in line["event"]["Records"]] for line in read_records(record_file)]


def queue_counts(account: Account, queue_url: str) -> tuple[int, int]:
    attributes = account.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_given_messages_when_the_function_succeeds_then_they_are_delivered_in_lambdas_shape_and_deleted(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    queue_url, queue_arn = account_a.create_queue()
    sqs = account_a.client("sqs")
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})

    account_a.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, BatchSize=10)

    assert emu.wait_idle(timeout=10)
    [[record]] = [line["event"]["Records"] for line in read_records(record_file)]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert record["messageId"]
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= record["attributes"].keys()
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "greeting", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert "md5OfMessageAttributes" in record
    assert queue_counts(account_a, queue_url) == (0, 0)
    assert emu.stats()[f"arn:aws:lambda:us-east-1:{ACCOUNT_A}:function:{name}"]["records_delivered"] == 1


def test_given_batch_size_above_ten_then_several_receives_fill_one_batch_within_the_window(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    queue_url, queue_arn = account_a.create_queue()
    sqs = account_a.client("sqs")
    for start in range(0, 25, 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(start + 10, 25))],
        )
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=queue_arn,
        BatchSize=25,
        MaximumBatchingWindowInSeconds=1,
        ScalingConfig={"MaximumConcurrency": 2},
    )

    assert emu.wait_idle(timeout=15)
    batches = bodies(record_file)
    assert sorted(body for batch in batches for body in batch) == sorted(f"m{i}" for i in range(25))
    assert max(len(batch) for batch in batches) > 10
    assert queue_counts(account_a, queue_url) == (0, 0)


PARTIAL_HANDLER = """
import os
from recorder import record

def handler(event, context):
    record(event)
    failures = []
    for r in event["Records"]:
        marker = os.path.join(os.environ["STATE_DIR"], r["body"])
        if r["body"].startswith("bad") and not os.path.exists(marker):
            open(marker, "w").close()  # fail only the first time
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
"""


def test_given_batch_item_failures_then_only_the_failed_messages_come_back(
    emu: Emulator, account_a: Account, record_file: Path, tmp_path: Path
) -> None:
    queue_url, queue_arn = account_a.create_queue(VisibilityTimeout="2")
    name = account_a.create_function(PARTIAL_HANDLER, env={"RECORD_FILE": str(record_file), "STATE_DIR": str(tmp_path)})
    account_a.invoke(name, {"Records": []})  # warm: a cold start must not outlast the visibility timeout
    account_a.client("sqs").send_message_batch(
        QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(["a", "bad", "c"])]
    )

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=queue_arn,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    assert emu.wait_idle(timeout=15)
    lines = [line for line in read_records(record_file) if line["event"]["Records"]]
    batches = [[r["body"] for r in line["event"]["Records"]] for line in lines]
    assert sorted(batches[0]) == ["a", "bad", "c"]
    assert batches[1:] == [["bad"]]  # redelivered after its visibility timeout; a and c were deleted
    assert lines[1]["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert queue_counts(account_a, queue_url) == (0, 0)


FAILING_HANDLER = """
from recorder import record

def handler(event, context):
    record(event)
    raise RuntimeError("always fails")
"""


def test_given_a_message_that_always_fails_then_it_reaches_the_dlq_after_max_receive_count(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    dlq_url, dlq_arn = account_a.create_queue()
    queue_url, queue_arn = account_a.create_queue(
        VisibilityTimeout="1", RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    )
    account_a.client("sqs").send_message(QueueUrl=queue_url, MessageBody="poison")
    name = account_a.create_function(FAILING_HANDLER, env={"RECORD_FILE": str(record_file)})

    account_a.client("lambda").create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn)

    assert emu.wait_idle(timeout=15)
    assert bodies(record_file) == [["poison"], ["poison"]]
    messages = account_a.client("sqs").receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert [m["Body"] for m in messages] == ["poison"]
    assert queue_counts(account_a, queue_url) == (0, 0)
    stats = emu.stats()[f"arn:aws:lambda:us-east-1:{ACCOUNT_A}:function:{name}"]
    assert (stats["invocations"], stats["errors"], stats["records_delivered"]) == (2, 2, 0)


def test_given_a_disabled_sqs_mapping_then_messages_wait_until_it_is_enabled(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    queue_url, queue_arn = account_a.create_queue()
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})
    lam = account_a.client("lambda")
    esm = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=queue_arn, Enabled=False)

    account_a.client("sqs").send_message(QueueUrl=queue_url, MessageBody="later")

    assert emu.wait_idle(timeout=5)
    assert read_records(record_file) == []
    assert queue_counts(account_a, queue_url) == (1, 0)

    lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)

    assert poll(lambda: bodies(record_file)) == [["later"]]
    assert emu.wait_idle(timeout=10)
    assert queue_counts(account_a, queue_url) == (0, 0)
