"""The change log: one S3 object per stream batch, in typed DynamoDB JSON.

Object layout (gzip-compressed JSON Lines)::

    {"format": "dynamigrate.changes", "version": 1, "count": 2, "source": "arn:...:table/orders/stream/...",
     "first_seq": "...", "last_seq": "...", "created_at": 1700000000.5}
    {"op": "MODIFY", "seq": "000...123", "ts": 1700000000.0, "keys": {...}, "new": {...}}
    {"op": "REMOVE", "seq": "000...124", "ts": 1700000001.0, "keys": {...}, "old": {...}, "ttl": true}

* ``op`` is the stream's event name (INSERT, MODIFY, REMOVE);
* ``seq`` is the stream sequence number, left-padded to 40 digits so that
  string order is numeric order (DynamoDB stream sequence numbers have at most
  40 digits and grow with time for a given item);
* ``ts`` is the stream's ApproximateCreationDateTime in epoch seconds (used
  for lag and time-window replay, never for ordering: it is rounded);
* ``new`` is the item after an INSERT/MODIFY, ``old`` the item a REMOVE
  deleted (its version and, with a transform, its new-schema key);
* ``ttl`` marks deletes made by DynamoDB's Time to Live.

The object key is derived from the batch alone (table, first record's hour,
first and last sequence number), so a retried batch overwrites its own object
instead of adding a duplicate.
"""

from __future__ import annotations

import gzip
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dynamigrate.ddbjson import InvalidItemError, Item
from dynamigrate.jsonl import dumps, loads

FORMAT = "dynamigrate.changes"
FORMAT_VERSION = 1
SEQ_WIDTH = 40
OBJECT_SUFFIX = ".jsonl.gz"
OPS = frozenset({"INSERT", "MODIFY", "REMOVE"})
# DynamoDB marks deletes made by Time to Live with this service identity.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024


class MalformedChangeObjectError(ValueError):
    """A change object that cannot be read; it is never partially applied."""


class MalformedStreamRecordError(ValueError):
    """A stream record without the fields a change needs."""


@dataclass(slots=True)  # not frozen: frozen dataclasses build slowly, and this is the hot path
class Change:
    """One captured write to the source table."""

    op: str
    keys: Item
    seq: str
    ts: float
    new: Item | None = None
    old: Item | None = None
    ttl: bool = False
    # False only when the change is known to hold no B/BS value, so the writer
    # can skip converting base64 text to bytes for boto3.
    binary: bool = field(default=True, compare=False)

    @property
    def is_delete(self) -> bool:
        return self.op == "REMOVE"

    def to_line(self) -> dict[str, Any]:
        line: dict[str, Any] = {"op": self.op, "seq": self.seq, "ts": self.ts, "keys": self.keys}
        if self.new is not None:
            line["new"] = self.new
        if self.old is not None:
            line["old"] = self.old
        if self.ttl:
            line["ttl"] = True
        return line


@dataclass(frozen=True, slots=True)
class ChangeObject:
    header: dict[str, Any]
    changes: list[Change]


# --------------------------------------------------------- stream -> line ---


def pad_seq(seq: str) -> str:
    if not seq.isdigit() or len(seq) > SEQ_WIDTH:
        raise MalformedStreamRecordError(f"sequence number {seq[:60]!r} is not a number of at most {SEQ_WIDTH} digits")
    return seq.zfill(SEQ_WIDTH)


def line_from_stream_record(record: dict[str, Any]) -> dict[str, Any]:
    """Turn one raw DynamoDB stream record (as Lambda delivers it) into a change line.

    Works on the raw typed JSON on purpose: Powertools' ``new_image``
    deserialises numbers to ``Decimal`` and sets to Python sets, and the
    change log must keep DynamoDB's exact wire form.
    """
    try:
        op = record["eventName"]
        ddb = record["dynamodb"]
        keys = ddb["Keys"]
        seq = pad_seq(str(ddb["SequenceNumber"]))
    except (KeyError, TypeError) as exc:
        raise MalformedStreamRecordError(f"stream record is missing {exc}; is this a DynamoDB stream event?") from exc
    if op not in OPS:
        raise MalformedStreamRecordError(f"unknown stream eventName {op!r}")
    line: dict[str, Any] = {"op": op, "seq": seq, "ts": _epoch(ddb.get("ApproximateCreationDateTime")), "keys": keys}
    if op == "REMOVE":
        if "OldImage" in ddb:
            line["old"] = ddb["OldImage"]
        identity = record.get("userIdentity")
        if isinstance(identity, dict) and identity.get("principalId") == TTL_PRINCIPAL:
            line["ttl"] = True
    else:
        new = ddb.get("NewImage")
        if new is None:
            raise MalformedStreamRecordError(
                f"{op} record {seq} has no NewImage: the stream view type must be NEW_AND_OLD_IMAGES "
                "(update the table's StreamSpecification)"
            )
        line["new"] = new
    return line


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return time.time()


def object_key(prefix: str, table: str, first: dict[str, Any], last: dict[str, Any]) -> str:
    """Deterministic key for the batch whose first and last lines are given."""
    stamp = datetime.fromtimestamp(first["ts"], tz=UTC)
    return (
        f"{prefix}{table}/{stamp:%Y/%m/%d/%H}/"
        f"{first['seq'].lstrip('0') or '0'}-{last['seq'].lstrip('0') or '0'}{OBJECT_SUFFIX}"
    )


def encode_object(lines: list[dict[str, Any]], *, source: str, compresslevel: int = 1) -> bytes:
    """Serialise change lines (in stream order) into one compressed object."""
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "count": len(lines),
        "source": source,
        "first_seq": lines[0]["seq"] if lines else None,
        "last_seq": lines[-1]["seq"] if lines else None,
        "created_at": time.time(),
    }
    body = b"\n".join([dumps(header), *map(dumps, lines)]) + b"\n"
    return gzip.compress(body, compresslevel=compresslevel, mtime=0)


# --------------------------------------------------------- object -> changes --


def decompress(data: bytes, *, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> bytes:
    """gunzip with a ceiling, so a small hostile object cannot exhaust memory."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise MalformedChangeObjectError(f"object is not gzip data: {exc}") from exc
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise MalformedChangeObjectError(f"object decompresses to more than {max_bytes} bytes")
    if not inflater.eof:
        raise MalformedChangeObjectError("object is a truncated gzip stream")
    return out


def decode_object(data: bytes, *, max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> ChangeObject:
    """Parse and validate a whole change object; any defect rejects all of it."""
    text = decompress(data, max_bytes=max_decompressed_bytes)
    raw_lines = text.splitlines()
    if not raw_lines:
        raise MalformedChangeObjectError("object is empty")
    header = _json_line(raw_lines[0], 1)
    if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
        raise MalformedChangeObjectError(
            f"first line is not a {FORMAT} v{FORMAT_VERSION} header (got format={header.get('format')!r}, "
            f"version={header.get('version')!r})"
        )
    body = raw_lines[1:]
    if header.get("count") != len(body):
        raise MalformedChangeObjectError(
            f"header says {header.get('count')!r} changes but the object holds {len(body)}"
        )
    # One parse for the whole body is much faster than one per line; when it
    # fails (or a line held more than one value) the per-line parse names the line.
    try:
        parsed = loads(b"[" + b",".join(body) + b"]") if body else []
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or len(parsed) != len(body):
        parsed = [_json_line(raw, number) for number, raw in enumerate(body, start=2)]
    binary = _BINARY.search(text) is not None
    changes = [_change(line, number, binary=binary) for number, line in enumerate(parsed, start=2)]
    return ChangeObject(header=header, changes=changes)


def _json_line(raw: bytes, number: int) -> dict[str, Any]:
    try:
        value = loads(raw)
    except ValueError as exc:
        raise MalformedChangeObjectError(f"line {number} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedChangeObjectError(f"line {number} is not a JSON object")
    return value


# How a binary value appears in an object (compact separators): one cheap scan, before parsing.
_BINARY = re.compile(rb'"BS?":')
_NUMBER_TYPES = (int, float)


def change_from_line(line: dict[str, Any]) -> Change:
    """One change line (as ``line_from_stream_record`` builds it) as a validated Change."""
    return _change(line, 1)


def _change(line: Any, number: int, *, binary: bool = True) -> Change:
    """Validate what planning a change needs (op, sequence, time, key types) and build it.

    Images are checked only for being non-empty maps here: their attribute
    values are validated by botocore and DynamoDB when written, and a bad one
    parks that one change with the reason instead of rejecting its whole object.
    """
    if not isinstance(line, dict):
        raise MalformedChangeObjectError(f"line {number} is not a JSON object")
    op = line.get("op")
    seq = line.get("seq")
    ts = line.get("ts")
    keys = line.get("keys")
    new = line.get("new")
    old = line.get("old")
    problem = None
    if not isinstance(op, str) or op not in OPS:  # a list or object here is not hashable
        problem = f"op {str(op)[:50]!r} is not one of {sorted(OPS)}"
    elif not isinstance(seq, str) or len(seq) != SEQ_WIDTH or not seq.isdigit():
        problem = f"seq {str(seq)[:50]!r} is not a {SEQ_WIDTH}-digit sequence number"
    elif not isinstance(ts, _NUMBER_TYPES) or isinstance(ts, bool):
        problem = "ts is not a number"
    elif not _is_item(keys, scalar_only=True):
        problem = "keys is not a map of S/N/B key attributes"
    elif op != "REMOVE" and not (isinstance(new, dict) and new):
        problem = f"{op} has no new image"
    elif new is not None and op == "REMOVE":
        problem = "REMOVE carries a new image"
    elif old is not None and not (isinstance(old, dict) and old):
        problem = "old is not an item"
    elif "ttl" in line and not isinstance(line["ttl"], bool):
        problem = "ttl is not a boolean"
    if problem:
        raise MalformedChangeObjectError(f"line {number}: {problem}")
    ttl = bool(line.get("ttl", False))
    return Change(op=op, keys=keys, seq=seq, ts=float(ts), new=new, old=old, ttl=ttl, binary=binary)  # type: ignore[arg-type]


def _is_item(value: Any, *, scalar_only: bool = False) -> bool:
    if not isinstance(value, dict) or not value:
        return False
    for attribute in value.values():
        if not isinstance(attribute, dict) or len(attribute) != 1:
            return False
        if scalar_only and next(iter(attribute)) not in ("S", "N", "B"):
            return False
    return True


def validate_key_types(keys: Item, expected: dict[str, str]) -> None:
    """Check a key has exactly the target table's key attributes and types."""
    for name, kind in expected.items():
        value = keys.get(name)
        if value is None:
            raise InvalidItemError(
                f"key attribute {name!r} ({kind}) is missing; the item has {sorted(keys)}. "
                "Source and target key schemas differ: configure a transform or fix the target table"
            )
        actual = next(iter(value))
        if actual != kind:
            raise InvalidItemError(f"key attribute {name!r} is {actual}, but the target table declares it {kind}")
