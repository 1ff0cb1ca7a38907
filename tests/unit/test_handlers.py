"""The two Lambda handlers, run in-process against moto: stream -> S3 object -> SQS -> table."""

from __future__ import annotations

import copy
import gzip
import json
import random
import time
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from dynamigrate.changes import decode_object
from dynamigrate.cli.sample import item_key, make_item
from dynamigrate.config import ConfigError, StreamToS3Config, WriterConfig
from dynamigrate.verify import verify
from tests.unit.conftest import (
    BUCKET,
    SOURCE_TABLE,
    STREAM_ENV,
    TARGET_TABLE,
    WRITER_ENV,
    FakeContext,
    load_event,
    load_handler,
)

STREAM_HANDLER = "dynamigrate.handlers.stream_to_s3"
WRITER_HANDLER = "dynamigrate.handlers.s3_to_table"


@pytest.fixture
def stream_handler(tables, monkeypatch):  # type: ignore[no-untyped-def]
    return load_handler(STREAM_HANDLER, STREAM_ENV, monkeypatch)


@pytest.fixture
def writer_handler(tables, monkeypatch):  # type: ignore[no-untyped-def]
    return load_handler(WRITER_HANDLER, WRITER_ENV, monkeypatch)


def sqs_event(*keys: str, bucket: str = BUCKET) -> dict[str, Any]:
    template = load_event("sqs_s3_notification.json")["Records"][0]
    records = []
    for index, key in enumerate(keys):
        record = copy.deepcopy(template)
        body = json.loads(record["body"])
        body["Records"][0]["s3"]["bucket"]["name"] = bucket
        body["Records"][0]["s3"]["object"]["key"] = quote_plus(key)  # S3 URL-encodes keys in notifications
        record["body"] = json.dumps(body)
        record["messageId"] = f"message-{index}"
        records.append(record)
    return {"Records": records}


def list_keys(prefix: str = "") -> list[str]:
    return [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


# ------------------------------------------------------------ stream -> S3 --


def test_given_stream_batch_when_captured_then_one_object_holds_every_record(stream_handler) -> None:
    event = load_event("dynamodb_stream_batch.json")
    response = stream_handler.lambda_handler(event, FakeContext())
    assert response == {"batchItemFailures": []}
    keys = list_keys("changes/")
    assert len(keys) == 1
    obj = boto3.client("s3").get_object(Bucket=BUCKET, Key=keys[0])
    changes = decode_object(obj["Body"].read()).changes
    assert [c.op for c in changes] == ["INSERT", "MODIFY", "REMOVE"]
    assert changes[0].new == event["Records"][0]["dynamodb"]["NewImage"]
    assert changes[2].ttl is True
    assert obj["Metadata"]["record-count"] == "3"


def test_given_retried_batch_when_captured_again_then_same_object_is_overwritten(stream_handler) -> None:
    event = load_event("dynamodb_stream_batch.json")
    stream_handler.lambda_handler(event, FakeContext())
    stream_handler.lambda_handler(event, FakeContext())
    assert len(list_keys("changes/")) == 1


def test_given_one_unencodable_record_when_captured_then_it_alone_is_reported_for_retry(stream_handler) -> None:
    event = load_event("dynamodb_stream_batch.json")
    del event["Records"][1]["dynamodb"]["NewImage"]
    response = stream_handler.lambda_handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "111100000000000000000002"}]}
    changes = decode_object(boto3.client("s3").get_object(Bucket=BUCKET, Key=list_keys()[0])["Body"].read()).changes
    assert [c.op for c in changes] == ["INSERT", "REMOVE"]


def test_given_missing_bucket_when_captured_then_invocation_fails_naming_the_fix(tables, monkeypatch) -> None:
    handler = load_handler(STREAM_HANDLER, {**STREAM_ENV, "CHANGE_BUCKET_NAME": "no-such-bucket"}, monkeypatch)
    with pytest.raises(RuntimeError, match="apply modules/target"):
        handler.lambda_handler(load_event("dynamodb_stream_batch.json"), FakeContext())


def test_given_incomplete_environment_when_loaded_then_config_error_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="CHANGE_BUCKET_NAME"):
        StreamToS3Config.from_env({"SOURCE_TABLE_NAME": "t"})
    with pytest.raises(ConfigError, match="LEDGER_TABLE_NAME"):
        WriterConfig.from_env({"TARGET_TABLE_NAME": "t", "CHANGE_BUCKET_NAME": "b"})
    with pytest.raises(ConfigError, match="WRITER_THREADS"):
        WriterConfig.from_env({**WRITER_ENV, "WRITER_THREADS": "many"})
    with pytest.raises(ConfigError, match="overlap"):
        WriterConfig.from_env({**WRITER_ENV, "DEAD_LETTER_PREFIX": "changes/dead/"})
    with pytest.raises(ConfigError, match="12-digit"):
        StreamToS3Config.from_env({**STREAM_ENV, "CHANGE_BUCKET_OWNER": "1234"})


# ------------------------------------------------------------ SQS -> table --


def test_given_captured_object_when_writer_runs_then_changes_reach_the_target(stream_handler, writer_handler) -> None:
    event = load_event("dynamodb_stream_batch.json")
    for record in event["Records"]:
        record["dynamodb"]["ApproximateCreationDateTime"] = time.time()
    stream_handler.lambda_handler(event, FakeContext())
    response = writer_handler.lambda_handler(sqs_event(*list_keys("changes/")), FakeContext())
    assert response == {"batchItemFailures": []}
    items = boto3.client("dynamodb").scan(TableName=TARGET_TABLE)["Items"]
    assert len(items) == 1  # the INSERT+MODIFY key; the TTL-deleted key never existed
    assert items[0]["amount"] == {"N": "0.5"}


def test_given_s3_test_event_when_writer_runs_then_it_is_acknowledged(writer_handler) -> None:
    event = sqs_event("ignored")
    event["Records"][0]["body"] = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    assert writer_handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}


def test_given_malformed_object_among_good_ones_when_writer_runs_then_only_its_message_fails(
    stream_handler, writer_handler
) -> None:
    stream_handler.lambda_handler(load_event("dynamodb_stream_batch.json"), FakeContext())
    good = list_keys("changes/")[0]
    boto3.client("s3").put_object(Bucket=BUCKET, Key="changes/orders/bad.jsonl.gz", Body=b"not gzip at all")
    response = writer_handler.lambda_handler(sqs_event(good, "changes/orders/bad.jsonl.gz"), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "message-1"}]}


@pytest.mark.parametrize(
    ("bucket", "key"),
    [("someone-elses-bucket", "changes/x.jsonl.gz"), (BUCKET, "dead-letter/x.jsonl.gz"), (BUCKET, "../x")],
)
def test_given_notification_outside_bucket_or_prefix_when_writer_runs_then_message_fails(
    writer_handler, bucket: str, key: str
) -> None:
    event = sqs_event(key, "ignored")
    event["Records"][1]["body"] = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    if bucket != BUCKET:
        body = json.loads(event["Records"][0]["body"])
        body["Records"][0]["s3"]["bucket"]["name"] = bucket
        event["Records"][0]["body"] = json.dumps(body)
    response = writer_handler.lambda_handler(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}


def test_given_batch_where_every_message_fails_when_writer_runs_then_invocation_errors(writer_handler) -> None:
    event = sqs_event("x")
    event["Records"][0]["body"] = "[1, 2, 3]"
    with pytest.raises(BatchProcessingError, match="All records failed"):
        writer_handler.lambda_handler(event, FakeContext())


# ------------------------------------------------------------- end to end --


def stream_events(table: str) -> list[dict[str, Any]]:
    """moto's real stream records for ``table``, as Lambda would deliver them (batches of 25).

    moto 5.2.5's in-process mock answers the DynamoDB Streams API with "Not yet
    implemented" (the server mode works), so the records are read from its backend.
    """
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.utilities import dynamo_json_dump

    shard = dynamodb_backends["123456789012"]["us-east-1"].get_table(table).stream_shard
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    out = []
    for stream_record in shard.items:
        record = json.loads(dynamo_json_dump(stream_record.to_json()))  # as moto's server serialises it
        record["dynamodb"]["ApproximateCreationDateTime"] = time.time()
        record["eventSourceARN"] = arn
        out.append(record)
    return [{"Records": out[i : i + 25]} for i in range(0, len(out), 25)]


def test_given_real_stream_of_mixed_writes_when_piped_through_both_handlers_then_tables_are_equal(
    stream_handler, writer_handler
) -> None:
    rng = random.Random(3)
    ddb = boto3.client("dynamodb")
    for index in range(40):
        ddb.put_item(TableName=SOURCE_TABLE, Item=make_item(index, rng, version=index))
    for index in range(0, 40, 3):
        ddb.delete_item(TableName=SOURCE_TABLE, Key=item_key(index))
    for index in range(1, 40, 4):
        ddb.update_item(
            TableName=SOURCE_TABLE,
            Key=item_key(index),
            UpdateExpression="SET note = :n",
            ExpressionAttributeValues={":n": {"S": "updated"}},
        )
    events = stream_events(SOURCE_TABLE)
    for event in events:
        assert stream_handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    keys = list_keys("changes/")
    assert len(keys) == len(events) == 3  # 67 stream records in batches of 25: one object per batch
    for key in reversed(keys):  # deliver newest first: order must not matter
        assert writer_handler.lambda_handler(sqs_event(key), FakeContext()) == {"batchItemFailures": []}
    report = verify(ddb, ddb, SOURCE_TABLE, TARGET_TABLE, source_key=("pk", "sk"), target_key=("pk", "sk"))
    assert report.equal, report.as_dict()
    assert report.source_items == ddb.scan(TableName=SOURCE_TABLE, Select="COUNT")["Count"] == 29
    raw = gzip.decompress(boto3.client("s3").get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())
    assert b'"N":"' in raw and b"float" not in raw


# ---------------------------------------------------- stream -> table (direct) --


@pytest.fixture
def direct_handler(tables, monkeypatch):  # type: ignore[no-untyped-def]
    return load_handler("dynamigrate.handlers.stream_to_table", WRITER_ENV, monkeypatch)


def test_given_a_stream_batch_when_the_direct_writer_runs_then_the_target_gets_it_without_a_change_log(
    direct_handler,  # type: ignore[no-untyped-def]
) -> None:
    event = load_event("dynamodb_stream_batch.json")
    for record in event["Records"]:
        record["dynamodb"]["ApproximateCreationDateTime"] = time.time()
    assert direct_handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": []}
    items = boto3.client("dynamodb").scan(TableName=TARGET_TABLE)["Items"]
    assert len(items) == 1 and items[0]["amount"] == {"N": "0.5"}  # as through the change log
    assert list_keys() == []  # no object written: nothing parked


def test_given_an_undecodable_record_when_the_direct_writer_runs_then_it_alone_is_retried(
    direct_handler,  # type: ignore[no-untyped-def]
) -> None:
    event = load_event("dynamodb_stream_batch.json")
    for record in event["Records"]:
        record["dynamodb"]["ApproximateCreationDateTime"] = time.time()
    broken = copy.deepcopy(event["Records"][-1])
    broken["eventName"] = "RENAME"
    broken["dynamodb"]["SequenceNumber"] = "9" * 30
    event["Records"].append(broken)
    assert direct_handler.lambda_handler(event, FakeContext()) == {"batchItemFailures": [{"itemIdentifier": "9" * 30}]}
    assert len(boto3.client("dynamodb").scan(TableName=TARGET_TABLE)["Items"]) == 1
