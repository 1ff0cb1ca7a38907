"""DynamoDB stream event source mappings: batching, order, partial failures, bisection, on-failure destinations."""

from __future__ import annotations

import json
import re
import threading
from typing import TYPE_CHECKING, Any

from tests.unit.emulator._testkit import ACCOUNT_A, ACCOUNT_B, poll, read_records, unique

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


def put_items(account: Account, table: str, keys: list[str]) -> None:
    ddb = account.client("dynamodb")
    for key in keys:
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "value": {"N": str(len(key))}})


def delivered_keys(record_file: Path) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for line in read_records(record_file) for r in line["event"]["Records"]]


def fn_arn(account_id: str, name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{account_id}:function:{name}"


def test_given_stream_writes_then_batches_arrive_in_order_with_lambdas_event_shape(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    keys = [f"k{i:02d}" for i in range(25)]
    put_items(account_a, table, keys)
    account_a.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": "k00"}},
        UpdateExpression="SET #v = :v",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":v": {"N": "42"}},
    )
    account_a.client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": "k01"}})
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=10
    )

    assert emu.wait_idle(timeout=20)
    batches = [line["event"]["Records"] for line in read_records(record_file)]
    assert [len(batch) for batch in batches] == [10, 10, 7]
    records = [record for batch in batches for record in batch]
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence_numbers == sorted(set(sequence_numbers))  # strictly increasing, no repeats
    assert [r["eventName"] for r in records] == ["INSERT"] * 25 + ["MODIFY", "REMOVE"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == [*keys, "k00", "k01"]
    first, modify, remove = records[0], records[25], records[26]
    assert set(first) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventVersion"] == "1.1"
    assert first["awsRegion"] == "us-east-1"
    assert first["eventSourceARN"] == stream_arn
    assert set(first["dynamodb"]) == {
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert first["dynamodb"]["NewImage"] == {"pk": {"S": "k00"}, "value": {"N": "3"}}
    assert modify["dynamodb"]["OldImage"]["value"] == {"N": "3"}
    assert modify["dynamodb"]["NewImage"]["value"] == {"N": "42"}
    assert "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["OldImage"]["pk"] == {"S": "k01"}
    assert emu.stats()[fn_arn(ACCOUNT_A, name)]["records_delivered"] == 27


def test_given_binary_attributes_then_the_event_carries_them_base64_encoded_as_on_aws(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    account_a.client("dynamodb").put_item(
        TableName=table,
        Item={
            "pk": {"S": "bin"},
            "b": {"B": b"\x00\xff"},
            "bs": {"BS": [b"\x01"]},
            "m": {"M": {"inner": {"B": b"\x02"}, "l": {"L": [{"B": b"\x03"}]}}},
        },
    )
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON"
    )

    assert emu.wait_idle(timeout=10)
    [line] = read_records(record_file)
    image = line["event"]["Records"][0]["dynamodb"]["NewImage"]
    assert image["b"] == {"B": "AP8="}
    assert image["bs"] == {"BS": ["AQ=="]}
    assert image["m"] == {"M": {"inner": {"B": "Ag=="}, "l": {"L": [{"B": "Aw=="}]}}}


def test_given_latest_starting_position_then_only_later_writes_are_delivered(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    put_items(account_a, table, ["before"])
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})
    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST"
    )

    put_items(account_a, table, ["after"])

    assert poll(lambda: delivered_keys(record_file)) == ["after"]
    assert emu.wait_idle(timeout=10)
    assert delivered_keys(record_file) == ["after"]


def test_given_an_update_of_a_missing_item_then_one_insert_record_is_emitted(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    ddb = account_a.client("dynamodb")
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "new"}},
        UpdateExpression="SET a = :a",
        ExpressionAttributeValues={":a": {"S": "x"}},
    )
    # A cancelled transaction leaves no stream record behind.
    condition_failed = False
    try:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "t1"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "new"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ddb.exceptions.TransactionCanceledException:
        condition_failed = True
    assert condition_failed
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "t2"}}}}])
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})
    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON"
    )

    assert emu.wait_idle(timeout=10)
    records = [r for line in read_records(record_file) for r in line["event"]["Records"]]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records] == [
        ("INSERT", "new"),
        ("INSERT", "t2"),
    ]
    assert records[0]["dynamodb"]["NewImage"] == {"pk": {"S": "new"}, "a": {"S": "x"}}


def test_given_concurrent_writers_then_sequence_numbers_are_unique_and_increasing(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})
    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON", BatchSize=100
    )
    credentials = emu.credentials(ACCOUNT_A)

    def writer(prefix: str) -> None:
        import boto3

        ddb = boto3.session.Session(region_name="us-east-1").client(
            "dynamodb", endpoint_url=emu.endpoint_url, **credentials
        )
        for i in range(15):
            ddb.put_item(TableName=table, Item={"pk": {"S": f"{prefix}{i}"}})

    threads = [threading.Thread(target=writer, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert emu.wait_idle(timeout=20)
    records = [r for line in read_records(record_file) for r in line["event"]["Records"]]
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert len(records) == 60
    assert sequence_numbers == sorted(set(sequence_numbers))
    for prefix in "abcd":  # each writer's own order is kept
        mine = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records if r["dynamodb"]["Keys"]["pk"]["S"][0] == prefix]
        assert mine == [f"{prefix}{i}" for i in range(15)]


PARTIAL_FAILURE_HANDLER = """
import os
from recorder import record

def handler(event, context):
    record(event)
    failures = []
    for r in event["Records"]:
        key = r["dynamodb"]["Keys"]["pk"]["S"]
        marker = os.path.join(os.environ["STATE_DIR"], key)
        if key.startswith("bad") and not os.path.exists(marker):
            open(marker, "w").close()  # fail only the first time
            failures.append({"itemIdentifier": r["dynamodb"]["SequenceNumber"]})
    return {"batchItemFailures": failures}
"""


def test_given_a_partial_batch_failure_then_delivery_resumes_from_the_lowest_failed_record(
    emu: Emulator, account_a: Account, record_file: Path, tmp_path: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    put_items(account_a, table, ["a", "b", "bad-c", "d", "bad-e", "f"])
    name = account_a.create_function(
        PARTIAL_FAILURE_HANDLER, env={"RECORD_FILE": str(record_file), "STATE_DIR": str(tmp_path)}
    )

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )

    assert emu.wait_idle(timeout=20)
    batches = [
        [r["dynamodb"]["Keys"]["pk"]["S"] for r in line["event"]["Records"]] for line in read_records(record_file)
    ]
    assert batches == [
        ["a", "b", "bad-c", "d", "bad-e", "f"],  # bad-c and bad-e fail: checkpoint after b
        ["bad-c", "d", "bad-e", "f"],  # retried from the lowest failed record; each bad fails once only
    ]
    assert emu.stats()[fn_arn(ACCOUNT_A, name)]["records_delivered"] == 6


def test_given_item_failures_without_report_batch_item_failures_then_the_response_is_ignored(
    emu: Emulator, account_a: Account, record_file: Path, tmp_path: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    put_items(account_a, table, ["a", "bad-b"])
    name = account_a.create_function(
        PARTIAL_FAILURE_HANDLER, env={"RECORD_FILE": str(record_file), "STATE_DIR": str(tmp_path)}
    )

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream_arn, StartingPosition="TRIM_HORIZON"
    )

    assert emu.wait_idle(timeout=10)
    assert delivered_keys(record_file) == ["a", "bad-b"]


POISON_HANDLER = """
from recorder import record

def handler(event, context):
    record(event)
    for r in event["Records"]:
        if r["dynamodb"]["Keys"]["pk"]["S"].startswith("poison"):
            raise RuntimeError("cannot process " + r["dynamodb"]["Keys"]["pk"]["S"])
    return None
"""


def destination_objects(account: Account, bucket: str) -> list[tuple[str, dict[str, Any]]]:
    s3 = account.client("s3")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return [(key, json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) for key in keys]


def test_given_a_poison_record_when_retries_are_exhausted_then_it_lands_in_the_s3_destination_and_the_stream_moves_on(
    emu: Emulator, account_a: Account, account_b: Account, record_file: Path
) -> None:
    bucket = unique("failures")
    account_b.client("s3").create_bucket(Bucket=bucket)  # another account's bucket: written with the function's role
    table, stream_arn = account_a.create_stream_table()
    put_items(account_a, table, ["poison-1"])
    name = account_a.create_function(POISON_HANDLER, env={"RECORD_FILE": str(record_file)})
    esm = account_a.client("lambda").create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )

    objects = poll(lambda: destination_objects(account_b, bucket))
    put_items(account_a, table, ["after"])

    assert emu.wait_idle(timeout=15)
    assert delivered_keys(record_file) == ["poison-1"] * 3 + ["after"]  # first try + 2 retries, then moves on
    [(key, document)] = objects
    shard_id = document["DDBStreamBatchInfo"]["shardId"]
    assert re.fullmatch(
        rf"aws/lambda/{esm['UUID']}/{shard_id}/\d{{4}}/\d{{2}}/\d{{2}}/\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}\.\d{{2}}\.\d{{2}}-[0-9a-f-]{{36}}",
        key,
    )
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == 3
    assert document["requestContext"]["functionArn"] == fn_arn(ACCOUNT_A, name)
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert document["version"] == "1.0"
    assert document["timestamp"].endswith("Z")
    info = document["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream_arn
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    [payload_record] = document["payload"]["Records"]
    assert payload_record["dynamodb"]["Keys"] == {"pk": {"S": "poison-1"}}
    assert payload_record["dynamodb"]["SequenceNumber"] == info["startSequenceNumber"]
    stats = emu.stats()[fn_arn(ACCOUNT_A, name)]
    assert (stats["on_failure_batches"], stats["on_failure_records"], stats["records_delivered"]) == (1, 1, 1)


def test_given_bisect_on_error_then_the_poison_record_is_isolated_and_the_rest_delivered(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    bucket = unique("failures")
    account_a.client("s3").create_bucket(Bucket=bucket)
    table, stream_arn = account_a.create_stream_table()
    put_items(account_a, table, ["a", "b", "c", "poison-d", "e", "f", "g", "h"])
    name = account_a.create_function(POISON_HANDLER, env={"RECORD_FILE": str(record_file)})

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=8,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )

    assert emu.wait_idle(timeout=15)
    batches = [
        [r["dynamodb"]["Keys"]["pk"]["S"] for r in line["event"]["Records"]] for line in read_records(record_file)
    ]
    assert batches == [
        ["a", "b", "c", "poison-d", "e", "f", "g", "h"],
        ["a", "b", "c", "poison-d"],
        ["a", "b"],
        ["c", "poison-d"],
        ["c"],
        ["poison-d"],  # alone, retries exhausted (0): discarded
        ["e", "f", "g", "h"],
    ]
    [(_key, document)] = destination_objects(account_a, bucket)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in document["payload"]["Records"]] == ["poison-d"]
    assert document["DDBStreamBatchInfo"]["batchSize"] == 1


def test_given_an_sqs_on_failure_destination_then_it_gets_the_metadata_record_without_payload(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    queue_url, queue_arn = account_a.create_queue()
    table, stream_arn = account_a.create_stream_table()
    put_items(account_a, table, ["poison-1", "poison-2"])
    name = account_a.create_function(POISON_HANDLER, env={"RECORD_FILE": str(record_file)})

    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream_arn,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    assert emu.wait_idle(timeout=10)
    messages = account_a.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    [document] = [json.loads(m["Body"]) for m in messages]
    assert "payload" not in document
    assert document["DDBStreamBatchInfo"]["batchSize"] == 2
    assert document["requestContext"]["approximateInvokeCount"] == 1


def test_given_a_disabled_mapping_then_nothing_is_delivered_until_it_is_enabled_again(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})
    lam = account_a.client("lambda")
    esm = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST")
    put_items(account_a, table, ["one"])
    assert poll(lambda: delivered_keys(record_file)) == ["one"]

    lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)
    put_items(account_a, table, ["two", "three"])

    assert emu.wait_idle(timeout=10)  # a paused mapping does not count
    assert delivered_keys(record_file) == ["one"]

    lam.update_event_source_mapping(UUID=esm["UUID"], Enabled=True)

    assert emu.wait_idle(timeout=10)
    assert delivered_keys(record_file) == ["one", "two", "three"]


def test_given_a_deleted_mapping_then_delivery_stops(emu: Emulator, account_a: Account, record_file: Path) -> None:
    table, stream_arn = account_a.create_stream_table()
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})
    lam = account_a.client("lambda")
    esm = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST")
    put_items(account_a, table, ["one"])
    assert poll(lambda: delivered_keys(record_file)) == ["one"]

    lam.delete_event_source_mapping(UUID=esm["UUID"])
    put_items(account_a, table, ["two"])

    assert emu.wait_idle(timeout=10)
    assert delivered_keys(record_file) == ["one"]
    poll(lambda: not any(t.name.startswith(f"esm-{esm['UUID'][:8]}") for t in threading.enumerate()))


def test_given_a_batching_window_then_records_written_within_it_arrive_together(
    emu: Emulator, account_a: Account, record_file: Path
) -> None:
    table, stream_arn = account_a.create_stream_table()
    name = account_a.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(record_file)})
    account_a.client("lambda").create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream_arn,
        StartingPosition="LATEST",
        BatchSize=3,
        MaximumBatchingWindowInSeconds=2,
    )

    put_items(account_a, table, ["a"])  # alone, it waits for the window to fill the batch...
    account_a.client("dynamodb").transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": key}}}} for key in "bcd"]
    )

    assert emu.wait_idle(timeout=15)
    batches = [
        [r["dynamodb"]["Keys"]["pk"]["S"] for r in line["event"]["Records"]] for line in read_records(record_file)
    ]
    assert batches == [["a", "b", "c"], ["d"]]  # ...which closes when full; "d" waits out its own window


def test_given_mappings_in_two_accounts_then_each_function_gets_its_own_tables_records(
    emu: Emulator, account_a: Account, account_b: Account, tmp_path: Path
) -> None:
    files = {}
    for account in (account_a, account_b):
        table, stream_arn = account.create_stream_table()
        files[account.account_id] = tmp_path / f"{account.account_id}.jsonl"
        name = account.create_function(RECORDING_HANDLER, env={"RECORD_FILE": str(files[account.account_id])})
        account.client("lambda").create_event_source_mapping(
            FunctionName=name, EventSourceArn=stream_arn, StartingPosition="LATEST"
        )
        put_items(account, table, [f"from-{account.account_id}"])

    assert emu.wait_idle(timeout=15)
    assert delivered_keys(files[ACCOUNT_A]) == [f"from-{ACCOUNT_A}"]
    assert delivered_keys(files[ACCOUNT_B]) == [f"from-{ACCOUNT_B}"]
