"""Event payloads and failure records exactly as AWS Lambda builds them (pure functions, no AWS calls)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

# Lambda's synchronous invocation payload limit (request and response).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_ENVELOPE_BYTES = len('{"Records": []}')


def _epoch_seconds(value: Any) -> int:
    """DynamoDB Streams' ApproximateCreationDateTime: epoch seconds, rounded down."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp())
    return int(value)


def _wire(value: Any) -> Any:
    """A DynamoDB JSON value as it travels in JSON: binary values as base64 text (moto keeps bytes)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    return value


def dynamodb_event_record(record: Mapping[str, Any], region: str, event_source_arn: str) -> dict[str, Any]:
    """One ``Records[]`` entry of a DynamoDB stream event from a moto stream record."""
    src = record["dynamodb"]
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": _epoch_seconds(src["ApproximateCreationDateTime"]),
        "Keys": _wire(src["Keys"]),
    }
    for image in ("NewImage", "OldImage"):
        if image in src:
            dynamodb[image] = _wire(src[image])
    dynamodb["SequenceNumber"] = src["SequenceNumber"]
    dynamodb["SizeBytes"] = src["SizeBytes"]
    dynamodb["StreamViewType"] = src["StreamViewType"]
    event: dict[str, Any] = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,  # moto's stream records always say us-east-1
        "dynamodb": dynamodb,
    }
    if "userIdentity" in record:  # set by DynamoDB for TTL deletions
        event["userIdentity"] = record["userIdentity"]
    event["eventSourceARN"] = event_source_arn
    return event


def record_size(record: Mapping[str, Any]) -> int:
    """Bytes a record adds to an event payload (its JSON plus a separator)."""
    return len(json.dumps(record, separators=(",", ":")).encode()) + 2


def fit_payload(sizes: Sequence[int], limit: int = MAX_PAYLOAD_BYTES) -> int:
    """How many of the leading records fit in one invocation payload (always at least one)."""
    total = _ENVELOPE_BYTES
    for count, size in enumerate(sizes):
        total += size
        if total > limit and count > 0:
            return count
    return len(sizes)


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        raw = value["BinaryValue"]
        out["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes | bytearray) else raw
    out["stringListValues"] = list(value.get("StringListValues", []))
    out["binaryListValues"] = [
        base64.b64encode(v).decode() if isinstance(v, bytes | bytearray) else v
        for v in value.get("BinaryListValues", [])
    ]
    out["dataType"] = value["DataType"]
    return out


def sqs_event_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One ``Records[]`` entry of an SQS event from a ReceiveMessage result message."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["md5OfBody"] = message.get("MD5OfBody", "")
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def parse_batch_item_failures(payload: str, batch_ids: Collection[str]) -> set[str] | None:
    """Item identifiers a ``ReportBatchItemFailures`` response names as failed.

    Returns an empty set for a complete success (null/empty response or
    ``batchItemFailures``) and ``None`` when Lambda treats the whole batch as failed:
    invalid JSON, a malformed entry, an empty or null ``itemIdentifier``, or one that is
    not in the batch.
    """
    try:
        response = json.loads(payload) if payload.strip() else None
    except ValueError:
        return None
    if not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for entry in failures:
        if not isinstance(entry, dict):
            return None
        identifier = entry.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier or identifier not in batch_ids:
            return None
        failed.add(identifier)
    return failed


def _iso_millis(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _iso_seconds_epoch(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stream_failure_record(
    *,
    records: Sequence[Mapping[str, Any]],
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_id: str | None,
    executed_version: str,
    function_error: str | None,
    now: datetime,
    include_payload: bool,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination for a DynamoDB stream batch.

    ``condition`` is ``RetryAttemptsExhausted`` or ``RecordAgeExceeded``. Amazon S3
    destinations also get ``payload``: the event of the discarded records.
    """
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    document: dict[str, Any] = {
        "requestContext": {
            "requestId": request_id or "",
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
    }
    if invoke_count:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
        if function_error:
            response["functionError"] = function_error
        document["responseContext"] = response
    document["version"] = "1.0"
    document["timestamp"] = _iso_millis(now)
    document["DDBStreamBatchInfo"] = {
        "shardId": shard_id,
        "startSequenceNumber": first["SequenceNumber"],
        "endSequenceNumber": last["SequenceNumber"],
        "approximateArrivalOfFirstRecord": _iso_seconds_epoch(first["ApproximateCreationDateTime"]),
        "approximateArrivalOfLastRecord": _iso_seconds_epoch(last["ApproximateCreationDateTime"]),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    if include_payload:
        document["payload"] = {"Records": list(records)}
    return document


def failure_object_key(esm_uuid: str, shard_id: str, when: datetime, unique: str) -> str:
    """``aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>``."""
    when = when.astimezone(UTC)
    return f"aws/lambda/{esm_uuid}/{shard_id}/{when:%Y/%m/%d}/{when:%Y-%m-%dT%H.%M.%S}-{unique}"
