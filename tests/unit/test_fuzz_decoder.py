"""Fuzzing the writer's decoder: whatever lands in the bucket, the writer rejects it cleanly or applies it safely.

Anyone who can put an object under ``changes/`` (a mistaken tool, a
compromised role) reaches the writer. These properties hold for every input
Hypothesis generates (run with ``--hypothesis-show-statistics`` to see how many):

* arbitrary bytes, arbitrary gzip content, valid objects with any line mangled
  (it found one: an ``op`` that is a list raised ``TypeError``, now fixed):
  ``decode_object`` either returns validated changes or raises
  ``MalformedChangeObjectError`` (the message fails and lands in the DLQ), never
  anything else, and never a change without a 40-digit sequence and key;
* a decompression bomb is refused before it is inflated past the limit;
* decoded objects that name other tables in any field touch only the table the
  writer is configured with: the table is configuration, never data; and an
  oversize item is parked with its reason, not raised.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamigrate.changes import SEQ_WIDTH, MalformedChangeObjectError, decode_object, encode_object
from dynamigrate.config import WriterConfig
from dynamigrate.writer import ChangeWriter
from tests.unit.conftest import TARGET_TABLE, WRITER_ENV, create_table

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
attribute_values = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=30)),
    st.builds(lambda n: {"N": str(n)}, st.integers(-(10**12), 10**12)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
)


def valid_line(pk: str, seq: int, extra: dict[str, Any]) -> dict[str, Any]:
    keys = {"pk": {"S": pk}, "sk": {"N": "1"}}
    line = {"op": "MODIFY", "seq": str(seq).zfill(SEQ_WIDTH), "ts": time.time(), "keys": keys, "new": {**keys}}
    return {**line, **extra}


def assert_clean(data: bytes) -> None:
    try:
        decoded = decode_object(data, max_decompressed_bytes=1 << 20)
    except MalformedChangeObjectError:
        return
    for change in decoded.changes:
        assert len(change.seq) == SEQ_WIDTH and change.seq.isdigit()
        assert change.keys and change.op in ("INSERT", "MODIFY", "REMOVE")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_given_arbitrary_bytes_then_the_decoder_rejects_or_validates(data: bytes) -> None:
    assert_clean(data)


@settings(max_examples=400, deadline=None)
@given(st.lists(json_values, max_size=6), st.booleans())
def test_given_arbitrary_json_lines_in_gzip_then_the_decoder_rejects_or_validates(
    values: list[Any], with_header: bool
) -> None:
    lines = [json.dumps(v).encode() for v in values]
    if with_header:
        lines.insert(0, json.dumps({"format": "dynamigrate.changes", "version": 1, "count": len(values)}).encode())
    assert_clean(gzip.compress(b"\n".join(lines)))


mangles = st.sampled_from(["drop", "retype", "garble"])
line_fields = st.sampled_from(["op", "seq", "ts", "keys", "new", "old", "ttl"])


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 5), st.integers(0, 4), line_fields, mangles, json_values)
def test_given_a_valid_object_with_one_field_mangled_then_the_whole_object_is_rejected_or_still_valid(
    count: int, index: int, field: str, mangle: str, value: Any
) -> None:
    lines = [valid_line(f"k{i}", i + 1, {}) for i in range(count)]
    target = lines[index % count]
    if mangle == "drop":
        target.pop(field, None)
    elif mangle == "retype":
        target[field] = value
    else:
        target[field] = json.dumps(value)  # a string where a structure was expected (or vice versa)
    header = {"format": "dynamigrate.changes", "version": 1, "count": len(lines), "source": "fuzz"}
    assert_clean(gzip.compress(b"\n".join(json.dumps(x).encode() for x in [header, *lines])))


def test_given_a_decompression_bomb_then_it_is_refused_at_the_limit() -> None:
    bomb = gzip.compress(b"\n" * (8 << 20))  # 8 MiB of newlines in ~8 KB
    assert len(bomb) < 64 << 10
    with pytest.raises(MalformedChangeObjectError, match="more than 1048576 bytes"):
        decode_object(bomb, max_decompressed_bytes=1 << 20)


@pytest.fixture
def victim(tables: dict[str, str]) -> str:
    """A table the writer must never touch, with the same key schema as its target."""
    create_table("victim", {"pk": "S", "sk": "N"})
    return "victim"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.text(alphabet="abcdef", min_size=1, max_size=6), min_size=1, max_size=5, unique=True),
    st.dictionaries(st.sampled_from(["table", "TableName", "target", "bucket"]), st.just("victim"), min_size=1),
    st.dictionaries(st.sampled_from(["a", "b", "TableName"]), attribute_values, max_size=3),
)
def test_given_objects_naming_another_table_then_only_the_configured_table_is_written(
    victim: str, pks: list[str], extra_fields: dict[str, str], attributes: dict[str, Any]
) -> None:
    lines = [valid_line(pk, i + 1, extra_fields) for i, pk in enumerate(pks)]
    for line in lines:
        line["new"].update(attributes)
    changes = decode_object(encode_object(lines, source="arn:aws:dynamodb:::table/victim")).changes
    summary = ChangeWriter(WriterConfig.from_env(WRITER_ENV)).apply_changes(changes, "changes/victim/fuzz.jsonl.gz")
    client = boto3.client("dynamodb")
    assert client.scan(TableName=victim)["Count"] == 0
    assert summary.tally.counts["applied"] + summary.tally.counts["stale"] == len(pks)
    assert {item["pk"]["S"] for item in client.scan(TableName=TARGET_TABLE)["Items"]} >= set(pks)


def test_given_an_oversize_item_then_it_is_parked_with_its_reason_not_raised(tables: dict[str, str]) -> None:
    line = valid_line("big", 1, {})
    line["new"]["blob"] = {"S": "x" * 420_000}
    changes = decode_object(encode_object([line], source="fuzz")).changes
    summary = ChangeWriter(WriterConfig.from_env(WRITER_ENV)).apply_changes(changes, "changes/orders/big.jsonl.gz")
    assert summary.tally.counts["parked"] == 1 and summary.dead_letter_key
    parked = decode_object(
        boto3.client("s3").get_object(Bucket=tables["bucket"], Key=summary.dead_letter_key)["Body"].read()
    )
    assert len(parked.changes) == 1
