"""Pure functions: Lambda event records, partial batch responses, failure records, EMF parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from dynamigrate.emulator._emf import parse_emf
from dynamigrate.emulator._events import (
    dynamodb_event_record,
    failure_object_key,
    fit_payload,
    parse_batch_item_failures,
    sqs_event_record,
    stream_failure_record,
)
from dynamigrate.emulator._moto_patches import _stream_policy_allows
from dynamigrate.emulator._policy import condition_holds

STREAM_ARN = "arn:aws:dynamodb:eu-west-1:111111111111:table/t/stream/2026-01-01T00:00:00"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("null", set()),
        ("{}", set()),
        ('"done"', set()),
        ('{"batchItemFailures": null}', set()),
        ('{"batchItemFailures": []}', set()),
        ('{"batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]}', {"2", "3"}),
        ('{"batchItemFailures": [{"itemIdentifier": "9"}]}', None),  # not in the batch
        ('{"batchItemFailures": [{"itemIdentifier": ""}]}', None),
        ('{"batchItemFailures": [{"itemIdentifier": null}]}', None),
        ('{"batchItemFailures": [{"id": "2"}]}', None),  # bad key name
        ('{"batchItemFailures": "2"}', None),
        ("not json", None),
    ],
)
def test_given_a_partial_batch_response_then_failures_are_parsed_as_lambda_does(
    payload: str, expected: set[str] | None
) -> None:
    assert parse_batch_item_failures(payload, {"1", "2", "3"}) == expected


def moto_stream_record(sequence: str, when: datetime) -> dict[str, object]:
    return {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "StreamViewType": "NEW_AND_OLD_IMAGES",
            "ApproximateCreationDateTime": when.replace(tzinfo=None),
            "SequenceNumber": sequence,
            "SizeBytes": 42,
            "Keys": {"pk": {"B": b"\x01"}},
            "NewImage": {"pk": {"B": b"\x01"}, "n": {"N": "2"}},
            "OldImage": {"pk": {"B": b"\x01"}, "n": {"N": "1"}},
        },
    }


def test_given_a_moto_stream_record_then_the_event_record_is_lambdas() -> None:
    when = datetime(2026, 5, 4, 3, 2, 1, 900000, tzinfo=UTC)

    record = dynamodb_event_record(moto_stream_record("100", when), "eu-west-1", STREAM_ARN)

    assert record == {
        "eventID": "e1",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "ApproximateCreationDateTime": int(when.timestamp()),
            "Keys": {"pk": {"B": "AQ=="}},
            "NewImage": {"pk": {"B": "AQ=="}, "n": {"N": "2"}},
            "OldImage": {"pk": {"B": "AQ=="}, "n": {"N": "1"}},
            "SequenceNumber": "100",
            "SizeBytes": 42,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": STREAM_ARN,
    }
    json.dumps(record)  # JSON-safe


def test_given_a_failed_stream_batch_then_the_destination_record_matches_the_documented_format() -> None:
    first = dynamodb_event_record(moto_stream_record("100", datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)), "r", STREAM_ARN)
    last = dynamodb_event_record(moto_stream_record("101", datetime(2026, 5, 4, 3, 2, 9, tzinfo=UTC)), "r", STREAM_ARN)
    now = datetime(2026, 5, 4, 3, 4, 5, 678000, tzinfo=UTC)

    document = stream_failure_record(
        records=[first, last],
        shard_id="shardId-1",
        stream_arn=STREAM_ARN,
        function_arn="arn:aws:lambda:eu-west-1:111111111111:function:f",
        condition="RetryAttemptsExhausted",
        invoke_count=3,
        request_id="req-1",
        executed_version="$LATEST",
        function_error="Unhandled",
        now=now,
        include_payload=True,
    )

    assert document == {
        "requestContext": {
            "requestId": "req-1",
            "functionArn": "arn:aws:lambda:eu-west-1:111111111111:function:f",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-05-04T03:04:05.678Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-1",
            "startSequenceNumber": "100",
            "endSequenceNumber": "101",
            "approximateArrivalOfFirstRecord": "2026-05-04T03:02:01Z",
            "approximateArrivalOfLastRecord": "2026-05-04T03:02:09Z",
            "batchSize": 2,
            "streamArn": STREAM_ARN,
        },
        "payload": {"Records": [first, last]},
    }
    assert (
        failure_object_key("uuid-1", "shardId-1", now, "u")
        == "aws/lambda/uuid-1/shardId-1/2026/05/04/2026-05-04T03.04.05-u"
    )


def test_given_records_never_invoked_then_the_destination_record_has_no_response_context() -> None:
    record = dynamodb_event_record(moto_stream_record("7", datetime(2026, 1, 1, tzinfo=UTC)), "r", STREAM_ARN)

    document = stream_failure_record(
        records=[record],
        shard_id="s",
        stream_arn=STREAM_ARN,
        function_arn="f",
        condition="RecordAgeExceeded",
        invoke_count=0,
        request_id=None,
        executed_version="$LATEST",
        function_error=None,
        now=datetime(2026, 1, 2, tzinfo=UTC),
        include_payload=False,
    )

    assert "responseContext" not in document
    assert "payload" not in document
    assert document["requestContext"]["condition"] == "RecordAgeExceeded"


def test_given_an_sqs_message_then_the_event_record_is_lambdas() -> None:
    message = {
        "MessageId": "m1",
        "ReceiptHandle": "rh",
        "MD5OfBody": "md5",
        "Body": "hi",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "MD5OfMessageAttributes": "md5a",
        "MessageAttributes": {
            "s": {"StringValue": "v", "DataType": "String"},
            "b": {"BinaryValue": b"\x00", "DataType": "Binary"},
        },
    }

    record = sqs_event_record(message, "arn:aws:sqs:eu-west-1:1:q", "eu-west-1")

    assert record == {
        "messageId": "m1",
        "receiptHandle": "rh",
        "body": "hi",
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "messageAttributes": {
            "s": {"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "b": {"binaryValue": "AA==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        },
        "md5OfMessageAttributes": "md5a",
        "md5OfBody": "md5",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q",
        "awsRegion": "eu-west-1",
    }


def test_given_record_sizes_then_a_batch_stops_before_six_megabytes_but_never_empty() -> None:
    mb = 1024 * 1024
    assert fit_payload([mb] * 10) == 5
    assert fit_payload([7 * mb, 1]) == 1
    assert fit_payload([10, 10]) == 2


def test_given_a_powertools_emf_line_then_metric_data_follows_the_spec() -> None:
    line = json.dumps(
        {
            "_aws": {
                "Timestamp": 1_700_000_000_000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "ns",
                        "Dimensions": [["service"], ["service", "table"]],
                        "Metrics": [
                            {"Name": "Copied", "Unit": "Count"},
                            {"Name": "Lag", "Unit": "Milliseconds", "StorageResolution": 1},
                            {"Name": "Missing", "Unit": "Count"},
                        ],
                    }
                ],
            },
            "service": "writer",
            "table": "orders",
            "Copied": [1.0, 2.0],
            "Lag": 250,
        }
    )

    data = parse_emf(line)

    when = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert data == {
        "ns": [
            {
                "MetricName": "Copied",
                "Dimensions": [{"Name": "service", "Value": "writer"}],
                "Timestamp": when,
                "Unit": "Count",
                "Values": [1.0, 2.0],
                "Counts": [1.0, 1.0],
            },
            {
                "MetricName": "Copied",
                "Dimensions": [{"Name": "service", "Value": "writer"}, {"Name": "table", "Value": "orders"}],
                "Timestamp": when,
                "Unit": "Count",
                "Values": [1.0, 2.0],
                "Counts": [1.0, 1.0],
            },
            {
                "MetricName": "Lag",
                "Dimensions": [{"Name": "service", "Value": "writer"}],
                "Timestamp": when,
                "Unit": "Milliseconds",
                "Value": 250.0,
                "StorageResolution": 1,
            },
            {
                "MetricName": "Lag",
                "Dimensions": [{"Name": "service", "Value": "writer"}, {"Name": "table", "Value": "orders"}],
                "Timestamp": when,
                "Unit": "Milliseconds",
                "Value": 250.0,
                "StorageResolution": 1,
            },
        ]
    }


@pytest.mark.parametrize(
    "line",
    [
        "plain text",
        '{"level": "INFO", "message": "not a metric"}',
        '{"_aws": {"Timestamp": 1}}',
        '{"_aws": broken',
        "[1, 2]",
    ],
)
def test_given_a_line_that_is_not_emf_then_no_metrics(line: str) -> None:
    assert parse_emf(line) == {}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, False),
        ({"Bool": {"aws:SecureTransport": ["true"]}}, True),
        ({"StringNotEquals": {"aws:securetransport": "false"}}, True),  # keys are case-insensitive
        ({"StringLike": {"aws:SecureTransport": "t*"}}, True),
        ({"Null": {"aws:SecureTransport": "true"}}, False),
        ({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::1:role/x"}}, None),  # unknown key
        ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, True),
        ({"NumericLessThan": {"aws:SecureTransport": "1"}}, None),  # unsupported operator
        ({"Bool": {"aws:SecureTransport": "true"}, "ArnLike": {"aws:PrincipalArn": "*"}}, None),
    ],
)
def test_given_a_bucket_policy_condition_then_it_is_evaluated_on_known_keys_only(
    condition: dict[str, dict[str, str | list[str]]], expected: bool | None
) -> None:
    assert condition_holds(condition, {"aws:SecureTransport": "true"}) is expected


WRITER = "arn:aws:iam::222222222222:role/orders-direct-writer"


def stream_policy(condition_role: str = WRITER, *, principal: str = "arn:aws:iam::222222222222:root") -> str:
    """The policy modules/stream-access writes."""
    return json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": [principal]},
                    "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                    "Resource": STREAM_ARN,
                    "Condition": {"ArnEquals": {"aws:PrincipalArn": [condition_role]}},
                }
            ]
        }
    )


@pytest.mark.parametrize(
    ("policy", "role", "account", "allowed"),
    [
        (stream_policy(), WRITER, "222222222222", True),
        (stream_policy(), "arn:aws:iam::222222222222:role/other", "222222222222", False),  # condition
        (stream_policy(principal="arn:aws:iam::333333333333:root"), WRITER, "222222222222", False),  # account
        (None, WRITER, "222222222222", False),  # no policy: no cross-account access
        (
            json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "dynamodb:*", "Resource": "*"}]}),
            WRITER,
            "222222222222",
            False,
        ),
    ],
)
def test_given_a_stream_policy_then_only_the_roles_it_names_may_map_a_function_onto_the_stream(
    policy: str | None, role: str, account: str, allowed: bool
) -> None:
    assert _stream_policy_allows(policy, role, account, STREAM_ARN) is allowed
