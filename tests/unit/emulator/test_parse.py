"""The emulator's request and response shortcuts give exactly moto's results (same values, same key order)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.session import get_session
from moto.core.parse import BaseJSONParser, JSONParser

from dynamigrate.emulator import _dynamodb_fixes

_dynamodb_fixes.install()

BLOB = base64.b64encode(b"\x00\x01binary\xff").decode()
ITEM = {
    "pk": {"S": "customer#1"},
    "sk": {"N": "42"},
    "raw": {"B": BLOB},
    "blobs": {"BS": [BLOB, base64.b64encode(b"2").decode()]},
    "names": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "empty": {"S": ""},
    "nested": {"M": {"list": {"L": [{"S": "x"}, {"M": {"deep": {"B": BLOB}}}, {"L": []}]}, "zero": {"N": "0"}}},
}
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "ConditionCheck": {
                        "TableName": "ledger",
                        "Key": {"pk": {"S": "k"}},
                        "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                        "ExpressionAttributeValues": {":now": {"N": "1700000000"}},
                    }
                },
                {
                    "Put": {
                        "ConditionExpression": "attribute_not_exists(#k)",
                        "Item": ITEM,
                        "TableName": "target",
                        "ExpressionAttributeNames": {"#k": "pk"},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {"Delete": {"TableName": "target", "Key": {"pk": {"S": "gone"}, "sk": {"N": "1"}}}},
            ],
            "ClientRequestToken": "token",
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    ("dynamodb", "BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": ITEM}}]}}),
    (
        "dynamodb",
        "Scan",
        {"TableName": "t", "Segment": 1, "TotalSegments": 4, "Limit": 10, "ExclusiveStartKey": ITEM},
    ),
    (
        "sqs",
        "SendMessageBatch",
        {
            "QueueUrl": "https://sqs/q",
            "Entries": [
                {
                    "Id": "1",
                    "MessageBody": "body",
                    "DelaySeconds": 3,
                    "MessageAttributes": {"bin": {"DataType": "Binary", "BinaryValue": BLOB}},
                }
            ],
        },
    ),
    (  # values the one-step conversion does not take: moto's own walk gives its own result for each
        "dynamodb",
        "PutItem",
        {
            "TableName": "t",
            "Item": {
                "pk": {"S": "k"},
                "two": {"N": "1", "S": "a"},  # moto keeps both, in the shape's order
                "chars": {"SS": "abc"},  # a string where a list belongs: moto lists its characters
                "unknown": {"X": "a type added later"},
                "null": {"S": None},
                "deep": {"M": {"odd": {"BOOL": 1}, "fine": {"S": "x"}}},
            },
            "ExpressionAttributeValues": {":b": {"B": BLOB}, ":l": {"L": [{"NS": ["1"]}, {"BS": [BLOB]}]}},
        },
    ),
    ("kms", "Encrypt", {"KeyId": "alias/k", "Plaintext": BLOB, "EncryptionContext": {"a": "b"}}),
]


class _Stock(JSONParser):
    """moto's own parser, without the emulator's shortcuts."""

    _parse_structure = BaseJSONParser._parse_structure.__wrapped__  # type: ignore[attr-defined]
    _parse_map = BaseJSONParser._parse_map.__wrapped__  # type: ignore[attr-defined]


def _ordered(value: Any) -> Any:
    """The value with every dict as a list of pairs, so key order counts in comparisons."""
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


@pytest.mark.parametrize(("service", "operation", "body"), REQUESTS, ids=[r[1] for r in REQUESTS])
def test_given_a_json_request_then_the_fast_parser_gives_moto_s_result_in_moto_s_order(
    service: str, operation: str, body: dict[str, Any]
) -> None:
    model = get_session().get_service_model(service).operation_model(operation)
    request = {"body": json.dumps(body).encode(), "headers": {}, "method": "POST", "url_path": "/", "url_params": {}}

    fast = JSONParser(model).parse(request)  # type: ignore[arg-type]
    stock = _Stock(model).parse(request)  # type: ignore[arg-type]

    assert _ordered(fast) == _ordered(stock)
    assert fast  # the request was parsed into something, not an empty result on both sides


@pytest.mark.parametrize(
    "body",
    [
        '{"Items": [{"note": {"S": "RequestId is not a tag here"}}]}',  # JSON: returned as it is
        "<Result><RequestId>moto's</RequestId></Result>",  # XML: the id rewritten, as moto does
        b"<RequestId>bytes</RequestId>",  # not a str: moto's expression fails on it and keeps it
    ],
)
def test_given_a_response_then_the_request_id_step_gives_moto_s_result(body: Any) -> None:
    from moto.core.responses import BaseResponse

    stock = BaseResponse._enrich_response.__wrapped__  # type: ignore[attr-defined]
    mine_headers, mine = BaseResponse._enrich_response({"status": 200}, body)
    stock_headers, expected = stock({"status": 200}, body)
    assert mine_headers.keys() == stock_headers.keys() == {"status", "x-amzn-requestid"}
    assert mine_headers["status"] == "200"
    request_id = mine_headers["x-amzn-requestid"]  # random per call: compare with this call's own
    assert mine == expected.replace(stock_headers["x-amzn-requestid"], request_id) if isinstance(body, str) else body
    if isinstance(body, str) and "<RequestId>" in body:
        assert f"<RequestId>{request_id}</RequestId>" in mine


@pytest.mark.parametrize(
    "result",
    [
        {"Items": [{"b": b"\x00\xff", "s": "caf\u00e9 \u2603", "n": "1.50"}], "Count": 1, "ScannedCount": 1.5},
        {"When": datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)},  # a timestamp number, as moto writes it
        {"Big": 2**70},  # past orjson's integers: json.dumps writes it
        {"Odd": "\ud800"},  # a lone surrogate: orjson refuses, json.dumps escapes it
        {1: "a key that is not a string"},
    ],
)
def test_given_an_item_response_then_it_is_the_json_value_json_dumps_gives(result: dict[Any, Any]) -> None:
    expected = json.dumps(result, default=_dynamodb_fixes._json_default, separators=(",", ":"))
    assert json.loads(_dynamodb_fixes._dumped(result)) == json.loads(expected)


def test_given_a_value_no_encoder_takes_then_json_dumps_s_error_names_it() -> None:
    with pytest.raises(TypeError, match="cannot serialise object"):
        _dynamodb_fixes._dumped({"x": object()})
