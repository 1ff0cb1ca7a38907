"""Every DynamoDB type survives the whole path exactly: stream -> change object -> writer -> table.

Items are written to a moto source table, captured by the real stream-to-S3
handler and applied by the real writer handler; the target item must be
identical to the source item, byte for byte, numbers in the very spelling they
were written in (no float conversion anywhere).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest

from dynamigrate.changes import decode_object
from tests.unit.pipeline import Pipeline

EVERY_BYTE = bytes(range(256))


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "bottom"}
    for level in range(depth):
        value = {"M": {f"level{level}": value}} if level % 2 else {"L": [value, {"N": str(level)}]}
    return value


CASES: dict[str, dict[str, Any]] = {
    "strings": {
        "unicode": {"S": "naïve café 日本語 עברית 🚀 e\u0301 \u0000nul \ttab\nnewline"},
        "empty": {"S": ""},
        "long": {"S": "ü" * 10_000},
    },
    "numbers": {
        "max_precision": {"N": "12345678901234567890123456789012345678"},
        "negative_precise": {"N": "-0.12345678901234567890123456789012345678"},
        "huge": {"N": "9.9999999999999999999999999999999999999E+125"},
        "tiny": {"N": "1E-130"},
        "negative_tiny": {"N": "-1E-130"},
        "trailing_zeros": {"N": "1.50"},
        "zero": {"N": "0"},
        "integer_2_63": {"N": "9223372036854775808"},
    },
    "binaries": {"empty": {"B": b""}, "every_byte": {"B": EVERY_BYTE}, "nul": {"B": b"\x00"}},
    "sets": {
        "ss": {"SS": ["", "a", "日本", "🚀"]},
        "ns": {"NS": ["1E-130", "9.9999999999999999999999999999999999999E+125", "-1", "0.5"]},
        "bs": {"BS": [b"\x00", b"\xff" * 32, EVERY_BYTE]},
    },
    "documents": {
        "map": {"M": {"": {"S": "empty name"}, "n": {"N": "1.0"}, "l": {"L": []}, "m": {"M": {}}}},
        "list": {"L": [{"NULL": True}, {"BOOL": False}, {"B": b"\x01"}, {"SS": ["x"]}, {"L": [{"N": "-0.0"}]}]},
        "deep": nested(31),
    },
    "scalars": {"null": {"NULL": True}, "true": {"BOOL": True}, "false": {"BOOL": False}},
    # DynamoDB allows 409,600 bytes; moto stops at 405,000: stay just under both.
    "near_400_kb": {"payload": {"S": "x" * 404_000}, "tail": {"B": os.urandom(500)}},
}


def replicate(pipeline: Pipeline, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb")
    for item in items:
        ddb.put_item(TableName=pipeline.source, Item=item)
    objects = pipeline.capture([100], set())
    assert pipeline.deliver(objects, set()) == []
    return objects


@pytest.mark.parametrize("case", sorted(CASES))
def test_given_item_of_each_type_when_replicated_then_target_item_is_identical(moto_aws: None, case: str) -> None:
    pipeline = Pipeline(None)
    item = {"pk": {"S": f"case-{case}"}, "sk": {"N": "1"}, **CASES[case]}
    objects = replicate(pipeline, [item])
    ddb = boto3.client("dynamodb")
    source = ddb.get_item(TableName=pipeline.source, Key={"pk": item["pk"], "sk": item["sk"]})["Item"]
    target = ddb.get_item(TableName=pipeline.target, Key={"pk": item["pk"], "sk": item["sk"]})["Item"]
    assert target == source  # exact: same types, same number spellings, same bytes
    change = decode_object(boto3.client("s3").get_object(Bucket=pipeline.bucket, Key=objects[0])["Body"].read())
    numbers = {name: value["N"] for name, value in CASES[case].items() if "N" in value}
    assert {name: change.changes[0].new[name]["N"] for name in numbers} == numbers  # type: ignore[index]
    assert pipeline.parked() == []


@pytest.mark.parametrize(
    ("key_types", "key"),
    [
        ({"pk": "S", "sk": "N"}, {"pk": {"S": "🚀 ключ 鍵"}, "sk": {"N": "-12345678901234567890.123456789"}}),
        ({"pk": "S", "sk": "N"}, {"pk": {"S": "x" * 2048}, "sk": {"N": "1E+125"}}),
        ({"bk": "B"}, {"bk": {"B": EVERY_BYTE}}),
        ({"pk": "N", "sk": "B"}, {"pk": {"N": "0.000001"}, "sk": {"B": b"\x00\x01"}}),
    ],
    ids=["unicode-and-precise-number", "longest-key", "binary-hash-key", "number-and-binary-key"],
)
def test_given_unusual_keys_when_replicated_and_deleted_then_both_apply(
    moto_aws: None, key_types: dict[str, str], key: dict[str, Any]
) -> None:
    pipeline = Pipeline(None, key=key_types)
    replicate(pipeline, [{**key, "value": {"S": "v1"}}])
    ddb = boto3.client("dynamodb")
    assert ddb.get_item(TableName=pipeline.target, Key=key)["Item"]["value"] == {"S": "v1"}
    ddb.delete_item(TableName=pipeline.source, Key=key)
    objects = pipeline.capture([100], set())
    assert pipeline.deliver(objects, set()) == []
    assert "Item" not in ddb.get_item(TableName=pipeline.target, Key=key)
    assert pipeline.differences() == [] and pipeline.parked() == []
