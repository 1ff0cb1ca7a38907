"""Typed DynamoDB JSON: the one representation used end to end.

Items travel as DynamoDB's own typed JSON (``{"pk": {"S": "a"}, "n": {"N": "1.5"}}``)
from the stream record to the change object to the write request, so nothing is
ever converted to ``float`` and every type (S, N, B, SS, NS, BS, M, L, NULL,
BOOL) survives exactly. Numbers stay strings; binaries are base64 strings on the
wire (stream events, change objects) and ``bytes`` inside boto3 calls.

This module imports no AWS SDK: it is pure and cheap to import.
"""

from __future__ import annotations

import base64
import hashlib
import re
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

# A typed attribute value ({"S": "x"}) and an item (name -> typed value).
AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

MAX_ITEM_BYTES = 400 * 1024
SCALAR_TYPES = frozenset({"S", "N", "B"})
ALL_TYPES = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


class InvalidItemError(ValueError):
    """An item or attribute value that is not valid typed DynamoDB JSON."""


# ------------------------------------------------------------------ numbers --


_PLAIN_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}")


def canonical_number(text: str) -> str:
    """Return DynamoDB's number ``text`` in one canonical spelling.

    ``"1.50"``, ``"1.5"`` and ``"15E-1"`` are the same DynamoDB number; keys
    built from them must hash alike. Up to 38 significant digits are kept
    exactly (DynamoDB's own precision), so the result never rounds.
    """
    if _PLAIN_INTEGER.fullmatch(text):
        return text  # already canonical: the common case of numeric keys
    try:
        with localcontext() as ctx:
            ctx.prec = 40
            value = Decimal(text)
            if not value.is_finite():
                raise InvalidItemError(f"number {text!r} is not finite")
            if value.is_zero():
                return "0"
            normal = value.normalize(ctx)
    except InvalidOperation as exc:
        raise InvalidItemError(f"{text!r} is not a DynamoDB number") from exc
    sign, digits, exponent = normal.as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    prefix = "-" if sign else ""
    if exponent >= 0:
        return prefix + mantissa + "0" * exponent
    point = len(mantissa) + exponent
    if point > 0:
        return f"{prefix}{mantissa[:point]}.{mantissa[point:]}"
    return f"{prefix}0.{'0' * -point}{mantissa}"


def numbers_equal(left: str, right: str) -> bool:
    return canonical_number(left) == canonical_number(right)


# --------------------------------------------------------------------- keys --


def _canonical_value(value: AttributeValue) -> tuple[str, str]:
    """Type and text of a key attribute, spelled so that equal values are equal."""
    if len(value) != 1:
        raise InvalidItemError(f"attribute value {value!r} must have exactly one type")
    ((kind, raw),) = value.items()
    if kind == "S":
        return kind, raw
    if kind == "N":
        return kind, canonical_number(raw)
    if kind == "B":
        return kind, base64.b64encode(binary_bytes(raw)).decode("ascii")
    raise InvalidItemError(f"key attributes must be S, N or B, got {kind}")


def key_of(item: Item, key_names: tuple[str, ...]) -> Item:
    """The key attributes of ``item`` (raises naming the missing attribute)."""
    key: Item = {}
    for name in key_names:
        value = item.get(name)
        if value is None:
            raise InvalidItemError(f"item has no key attribute {name!r} (attributes: {sorted(item)[:10]})")
        key[name] = value
    return key


def canonical_key(key: Item) -> str:
    """A deterministic string for a key: sorted names, canonical numbers.

    Each part is length-prefixed (``<len>:<name><type><len>:<value>``), so the
    form is unambiguous without any escaping and does not depend on a JSON
    library: the Lambda, the CLI and the emulator always derive the same ledger id.
    """
    parts = []
    for name in sorted(key) if len(key) > 1 else key:
        value = key[name]
        text = value.get("S")
        if text is not None and len(value) == 1:
            kind = "S"
        else:
            kind, text = _canonical_value(value)
        parts.append(f"{len(name)}:{name}{kind}{len(text)}:{text}")
    return "".join(parts)


LEDGER_ID_MAX_CHARS = 200


def ledger_id(key: Item) -> str:
    """The ledger's partition key for an item key.

    Short keys are used as they are, in their canonical form (readable when
    inspecting the ledger); longer ones become the url-safe SHA-256 of that
    form (43 characters), since the application's key may be up to 3 KB and a
    ledger partition key at most 2 KB. The two never collide: a canonical form
    always contains ':', base64url never does.
    """
    canonical = canonical_key(key)
    if len(canonical) <= LEDGER_ID_MAX_CHARS:
        return canonical
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def describe_key(key: Item) -> str:
    """Short human-readable form of a key for logs and reports."""
    parts = []
    for name in sorted(key):
        ((kind, raw),) = key[name].items()
        text = raw if kind != "B" else f"b64:{base64.b64encode(binary_bytes(raw)).decode('ascii')}"
        parts.append(f"{name}={str(text)[:80]}")
    return ",".join(parts)


# ----------------------------------------------------------------- binaries --


def binary_bytes(raw: str | bytes | bytearray) -> bytes:
    """Binary value as bytes (wire form is base64 text, boto3 form is bytes)."""
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise InvalidItemError(f"binary value {raw[:40]!r} is not valid base64") from exc


def to_client(item: Item) -> Item:
    """Convert a wire item (base64 text binaries) into the form boto3's client expects (bytes).

    boto3 base64-encodes ``bytes`` itself; handing it base64 text would
    encode the value twice. Items without binaries are returned unchanged.
    """
    if not _has_binary(item):
        return item
    return {name: _value_to_client(value) for name, value in item.items()}


def _has_binary(item: Item) -> bool:
    return any(_value_has_binary(value) for value in item.values())


def _value_has_binary(value: AttributeValue) -> bool:
    if "B" in value or "BS" in value:
        return True
    if "M" in value:
        return any(_value_has_binary(v) for v in value["M"].values())
    if "L" in value:
        return any(_value_has_binary(v) for v in value["L"])
    return False


def _value_to_client(value: AttributeValue) -> AttributeValue:
    if "B" in value:
        return {"B": binary_bytes(value["B"])}
    if "BS" in value:
        return {"BS": [binary_bytes(v) for v in value["BS"]]}
    if "M" in value:
        return {"M": {k: _value_to_client(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [_value_to_client(v) for v in value["L"]]}
    return value


def to_wire(item: Item) -> Item:
    """Convert a boto3 client item (bytes binaries) into wire form (base64 text)."""
    return {name: _value_to_wire(value) for name, value in item.items()}


def _value_to_wire(value: AttributeValue) -> AttributeValue:
    if "B" in value:
        return {"B": _b64(value["B"])}
    if "BS" in value:
        return {"BS": [_b64(v) for v in value["BS"]]}
    if "M" in value:
        return {"M": {k: _value_to_wire(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [_value_to_wire(v) for v in value["L"]]}
    return value


def _b64(raw: str | bytes | bytearray) -> str:
    if isinstance(raw, str):
        return raw
    return base64.b64encode(bytes(raw)).decode("ascii")


# --------------------------------------------------------------- validation --


def validate_item(item: Any, *, where: str = "item") -> Item:
    """Check that ``item`` is well-formed typed DynamoDB JSON; return it unchanged."""
    if not isinstance(item, dict) or not item:
        raise InvalidItemError(f"{where} must be a non-empty map of attribute name to typed value")
    for name, value in item.items():
        if not isinstance(name, str) or not name:
            raise InvalidItemError(f"{where} has an invalid attribute name {name!r}")
        _validate_value(value, f"{where}.{name}", depth=0)
    return item


def _validate_value(value: Any, where: str, depth: int) -> None:
    if depth > 32:
        raise InvalidItemError(f"{where} is nested deeper than DynamoDB's 32 levels")
    if not isinstance(value, dict) or len(value) != 1:
        raise InvalidItemError(f"{where} must be a typed value such as {{'S': 'text'}}, got {str(value)[:60]!r}")
    ((kind, raw),) = value.items()
    if kind not in ALL_TYPES:
        raise InvalidItemError(f"{where} has unknown DynamoDB type {kind!r}")
    if kind == "S":
        _expect(isinstance(raw, str), where, "S must be a string")
    elif kind == "N":
        _expect(isinstance(raw, str), where, "N must be a number string")
        canonical_number(raw)
    elif kind == "B":
        _expect(isinstance(raw, str | bytes | bytearray), where, "B must be base64 text or bytes")
        binary_bytes(raw)
    elif kind in ("SS", "NS", "BS"):
        _expect(isinstance(raw, list) and len(raw) > 0, where, f"{kind} must be a non-empty list")
        for element in raw:
            _validate_value({kind[0]: element}, where, depth + 1)
    elif kind == "M":
        _expect(isinstance(raw, dict), where, "M must be a map")
        for name, inner in raw.items():
            _validate_value(inner, f"{where}.{name}", depth + 1)
    elif kind == "L":
        _expect(isinstance(raw, list), where, "L must be a list")
        for index, inner in enumerate(raw):
            _validate_value(inner, f"{where}[{index}]", depth + 1)
    elif kind == "NULL":
        _expect(raw is True, where, "NULL must be true")
    else:  # BOOL
        _expect(isinstance(raw, bool), where, "BOOL must be true or false")


def _expect(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise InvalidItemError(f"{where}: {message}")


# --------------------------------------------------------------------- size --


def item_size(item: Item) -> int:
    """DynamoDB's size of an item in bytes (the figure the 400 KB limit applies to)."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in item.items())


def _value_size(value: AttributeValue) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode("utf-8"))
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(binary_bytes(raw))
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in raw)
    if kind == "NS":
        return sum(_number_size(v) for v in raw)
    if kind == "BS":
        return sum(len(binary_bytes(v)) for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _value_size(v) + 1 for k, v in raw.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in raw)
    return 1  # NULL, BOOL


def _number_size(raw: str) -> int:
    digits = canonical_number(raw).lstrip("-").replace(".", "").strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


# ---------------------------------------------------------------- equality --


def items_equal(left: Item | None, right: Item | None) -> bool:
    """Whether two items hold the same data, by DynamoDB's notion of equality.

    Numbers compare by value (``"1.50" == "1.5"``), sets ignore order,
    binaries compare as bytes whether given as base64 text or bytes.
    """
    if left is None or right is None:
        return left is right
    if left.keys() != right.keys():
        return False
    return all(values_equal(left[name], right[name]) for name in left)


def values_equal(left: AttributeValue, right: AttributeValue) -> bool:
    if left.keys() != right.keys():
        return False
    ((kind, a),) = left.items()
    b = right[kind]
    if kind == "N":
        return bool(canonical_number(a) == canonical_number(b))
    if kind == "B":
        return binary_bytes(a) == binary_bytes(b)
    if kind == "SS":
        return set(a) == set(b)
    if kind == "NS":
        return {canonical_number(v) for v in a} == {canonical_number(v) for v in b}
    if kind == "BS":
        return {binary_bytes(v) for v in a} == {binary_bytes(v) for v in b}
    if kind == "M":
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if kind == "L":
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def differing_attributes(left: Item, right: Item) -> list[str]:
    """Names of attributes that differ (missing on one side, or different value)."""
    names = sorted(set(left) | set(right))
    return [n for n in names if n not in left or n not in right or not values_equal(left[n], right[n])]
