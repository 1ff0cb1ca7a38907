"""The change log format: stream records in, change objects out, and back."""

from __future__ import annotations

import gzip
import json

import pytest

from dynamigrate.changes import (
    FORMAT,
    SEQ_WIDTH,
    MalformedChangeObjectError,
    MalformedStreamRecordError,
    decode_object,
    decompress,
    encode_object,
    line_from_stream_record,
    object_key,
)
from tests.unit.conftest import load_event


def _lines() -> list[dict]:
    return [line_from_stream_record(r) for r in load_event("dynamodb_stream_batch.json")["Records"]]


def test_given_stream_batch_when_converted_then_lines_keep_exact_typed_json() -> None:
    event = load_event("dynamodb_stream_batch.json")
    insert, modify, remove = _lines()
    assert insert["op"] == "INSERT"
    assert insert["new"] == event["Records"][0]["dynamodb"]["NewImage"]  # byte-for-byte typed JSON
    assert insert["seq"] == "111100000000000000000001".zfill(SEQ_WIDTH)
    assert insert["ts"] == 1763900000.0
    assert "old" not in modify  # MODIFY drops the old image: the writer does not need it
    assert remove["op"] == "REMOVE"
    assert remove["old"]["updated_at"] == {"N": "1763800000000000"}
    assert remove["ttl"] is True
    assert "ttl" not in insert


def test_given_user_delete_when_converted_then_not_marked_ttl() -> None:
    record = load_event("dynamodb_stream_batch.json")["Records"][2]
    record["userIdentity"] = None
    assert "ttl" not in line_from_stream_record(record)


def test_given_keys_only_stream_when_converted_then_error_names_the_view_type_fix() -> None:
    record = load_event("dynamodb_stream_batch.json")["Records"][0]
    del record["dynamodb"]["NewImage"]
    with pytest.raises(MalformedStreamRecordError, match="NEW_AND_OLD_IMAGES"):
        line_from_stream_record(record)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("dynamodb"),
        lambda r: r["dynamodb"].pop("Keys"),
        lambda r: r.__setitem__("eventName", "UPSERT"),
        lambda r: r["dynamodb"].__setitem__("SequenceNumber", "12ab"),
        lambda r: r["dynamodb"].__setitem__("SequenceNumber", "9" * 41),
    ],
    ids=["no-dynamodb", "no-keys", "unknown-event", "non-numeric-seq", "seq-too-long"],
)
def test_given_broken_stream_record_when_converted_then_rejected(mutate) -> None:  # type: ignore[no-untyped-def]
    record = load_event("dynamodb_stream_batch.json")["Records"][0]
    mutate(record)
    with pytest.raises(MalformedStreamRecordError):
        line_from_stream_record(record)


def test_given_lines_when_encoded_and_decoded_then_changes_round_trip() -> None:
    lines = _lines()
    data = encode_object(lines, source="arn:test")
    decoded = decode_object(data)
    assert decoded.header["format"] == FORMAT
    assert decoded.header["count"] == 3
    assert [c.to_line() for c in decoded.changes] == lines


def test_given_same_batch_when_encoded_twice_then_only_created_at_differs() -> None:
    a = gzip.decompress(encode_object(_lines(), source="s")).splitlines()
    b = gzip.decompress(encode_object(_lines(), source="s")).splitlines()
    assert a[1:] == b[1:]


def test_given_batch_when_keyed_then_key_is_deterministic_and_partitioned_by_hour() -> None:
    lines = _lines()
    key = object_key("changes/", "orders", lines[0], lines[-1])
    assert key == "changes/orders/2025/11/23/12/111100000000000000000001-111100000000000000000003.jsonl.gz"
    assert object_key("changes/", "orders", lines[0], lines[-1]) == key


def _object(header: dict, lines: list) -> bytes:
    text = "\n".join(json.dumps(x) for x in [header, *lines]) + "\n"
    return gzip.compress(text.encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"plain text", "not gzip"),
        (gzip.compress(b""), "empty"),
        (_object({"format": "other", "version": 1, "count": 0}, []), "header"),
        (_object({"format": FORMAT, "version": 2, "count": 0}, []), "header"),
        (_object({"format": FORMAT, "version": 1, "count": 2}, [{}]), "holds 1"),
        (gzip.compress(b'{"format": "dynamigrate.changes", "version": 1, "count": 1}\n[1]\n'), "not a JSON object"),
        (gzip.compress(b'{"format": "dynamigrate.changes", "version": 1, "count": 1}\n{oops\n'), "not JSON"),
        (gzip.compress(b"x" * 100)[:-8], "truncated"),
    ],
    ids=["not-gzip", "empty", "foreign-format", "future-version", "short", "array-line", "bad-json", "truncated"],
)
def test_given_malformed_object_when_decoded_then_rejected_whole(data: bytes, message: str) -> None:
    with pytest.raises(MalformedChangeObjectError, match=message):
        decode_object(data)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"op": "DROP"}, "op"),
        ({"seq": "1"}, "seq"),
        ({"ts": "yesterday"}, "ts"),
        ({"keys": {"pk": {"M": {}}}}, "keys"),
        ({"new": None}, "new image"),
        ({"ttl": "yes"}, "ttl"),
    ],
    ids=["op", "seq", "ts", "keys", "new", "ttl"],
)
def test_given_object_with_one_bad_line_when_decoded_then_line_number_is_named(patch: dict, message: str) -> None:
    good = _lines()[0]
    bad = {**good, **patch}
    data = _object({"format": FORMAT, "version": 1, "count": 2}, [good, bad])
    with pytest.raises(MalformedChangeObjectError, match=f"line 3: .*{message}"):
        decode_object(data)


def test_given_small_object_that_inflates_hugely_when_decoded_then_ceiling_stops_it() -> None:
    bomb = gzip.compress(b"0" * (8 * 1024 * 1024))
    assert len(bomb) < 20_000
    with pytest.raises(MalformedChangeObjectError, match="more than"):
        decompress(bomb, max_bytes=1024 * 1024)
