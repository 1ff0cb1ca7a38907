"""DynamoDB items through botocore at a fraction of the CPU: same requests, same parsed responses.

botocore turns every request into JSON and every response back by walking the
service model, shape by shape: for an item, each attribute is an
``AttributeValue`` structure of ten members, visited one by one. For the bulk
paths, which move whole items and do little else, that walk is much of the
client's CPU: parsing a Scan page took 72 us per ~1 KB item, against 9 us for
the JSON itself. On one core that decides whether a client keeps DynamoDB (or
the emulator) busy.

DynamoDB's wire format for an item *is* typed JSON, the same dict the client
hands out (``{"S": ...}``, ``{"M": {...}}``...), except that binaries travel in
base64. So the shortcut here handles an item (any map of attribute values)
and any ``AttributeValue`` in one step: strings, numbers, booleans and sets of
strings or numbers are copied as they are, binaries are encoded or decoded,
maps and lists recurse. Anything an ``AttributeValue`` holds that this module
does not know (a type AWS adds later, a ``str`` given for a binary) goes
through botocore's own code, as do the response structures around the items;
the request structures are walked as botocore walks them, their strings,
integers and booleans copied without its per-member dispatch (members it
renames or documents: botocore's own code).
Property tests (tests/unit/test_sdkcodec.py) compare the request bytes and the
parsed results, key order included, with botocore's for every type, nested.

Timed on the benchmark's ~1 KB items: a Scan page parses in 27 instead of 72
us per item; a 50-copy transaction serialises in 65 instead of 80 us per copy
(most of the rest is ``json.dumps``).

``fast(client)`` installs it on one botocore DynamoDB client: its serializer
(replaced on the client object; botocore has no hook for serializers) and its
response parser (through the endpoint's parser factory, the component botocore
documents for custom timestamp and blob parsers).
"""

from __future__ import annotations

import base64
import functools
from typing import Any, TypeVar, cast

from botocore import parsers, serialize
from botocore.validate import ParamValidationDecorator

C = TypeVar("C")
AS_IS = frozenset({"S", "N", "BOOL", "NULL"})
SETS_AS_IS = frozenset({"SS", "NS"})
ATTRIBUTE_VALUE_MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


class _Unknown(Exception):
    """A value the shortcut does not handle: botocore's own code takes the whole item."""


@functools.lru_cache(maxsize=256)  # botocore builds each shape once per operation model; identity-hashed
def is_attribute_value(shape: Any) -> bool:
    """DynamoDB's AttributeValue: a structure of exactly its ten members, none renamed on the wire.

    Also what the emulator's request parser checks (moto parses with botocore's shapes).
    """
    return bool(
        shape.name == "AttributeValue"
        and shape.type_name == "structure"
        and not shape.is_document_type
        and shape.members.keys() == ATTRIBUTE_VALUE_MEMBERS
        and all("name" not in member.serialization for member in shape.members.values())
    )


PLAIN_TYPES = frozenset({"string", "integer", "long", "boolean"})  # botocore's JSON serializer copies these as they are


@functools.lru_cache(maxsize=512)
def _plain_members(shape: Any) -> dict[str, tuple[bool, Any]] | None:
    """Each member: (copied as it is, its shape); None when botocore's own walk must run (renames, documents)."""
    if shape.is_document_type or any("name" in member.serialization for member in shape.members.values()):
        return None
    return {name: (member.type_name in PLAIN_TYPES, member) for name, member in shape.members.items()}


def _convert(value: Any, binary: type, convert: Any) -> dict[str, Any]:
    """One AttributeValue with its binaries (of type ``binary``) passed through ``convert``, the rest as it is."""
    if type(value) is not dict or len(value) != 1:
        raise _Unknown
    ((kind, raw),) = value.items()
    if kind in AS_IS and type(raw) in {str, bool}:
        return {kind: raw}
    if kind in SETS_AS_IS and type(raw) is list:
        return {kind: list(raw)}
    if kind == "M" and type(raw) is dict:
        return {"M": {name: _convert(member, binary, convert) for name, member in raw.items()}}
    if kind == "L" and type(raw) is list:
        return {"L": [_convert(member, binary, convert) for member in raw]}
    if kind == "B" and type(raw) is binary:
        return {"B": convert(raw)}
    if kind == "BS" and type(raw) is list and all(type(member) is binary for member in raw):
        return {"BS": [convert(member) for member in raw]}
    raise _Unknown


def _decode(value: Any, blob: Any) -> dict[str, Any]:
    """One AttributeValue from the wire to the client's form (base64 binaries decoded by ``blob``)."""
    return _convert(value, str, blob)


def _base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _encode(value: Any) -> dict[str, Any]:
    """One AttributeValue from the client's form to the wire (binaries in base64, as botocore sends them)."""
    return _convert(value, bytes, _base64)


class FastParser(parsers.JSONParser):
    """botocore's JSON response parser; an AttributeValue in one step (see the module docstring)."""

    _blob_parser: Any  # set by botocore's ResponseParser.__init__ (not in the type stubs)

    def _handle_structure(self, shape: Any, value: Any) -> Any:
        if is_attribute_value(shape):
            try:
                return _decode(value, self._blob_parser)
            except (_Unknown, AttributeError, TypeError):
                pass  # botocore's own parse, with its own errors and its handling of unknown members
        return cast("Any", super())._handle_structure(shape, value)  # private in botocore, not in its stubs

    def _handle_map(self, shape: Any, value: Any) -> Any:
        if is_attribute_value(shape.value) and type(value) is dict:  # an item, a key: every attribute at once
            try:
                return {name: _decode(member, self._blob_parser) for name, member in value.items()}
            except (_Unknown, AttributeError, TypeError):
                pass
        return cast("Any", super())._handle_map(shape, value)


class FastSerializer(serialize.JSONSerializer):
    """botocore's JSON request serializer; an AttributeValue in one step (see the module docstring)."""

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        if key is not None and is_attribute_value(shape):
            try:
                serialized[key] = _encode(value)
                return
            except (_Unknown, AttributeError, TypeError):
                pass  # botocore's own serialisation (str for B, bytearray...)
        members = _plain_members(shape)
        if members is None or type(value) is not dict:
            cast("Any", super())._serialize_type_structure(serialized, value, shape, key)  # private, as above
            return
        # botocore's walk, with the members it would copy unchanged (strings, integers, booleans) copied here.
        if key is not None:
            serialized[key] = serialized = self.MAP_TYPE()
        walk = cast("Any", self)._serialize  # botocore's dispatch by shape type (private, not in its stubs)
        for name, member_value in value.items():
            plain, member_shape = members[name]  # an unknown member: KeyError, as botocore raises
            if plain:
                serialized[name] = member_value
            else:
                walk(serialized, member_value, member_shape, name)

    def _serialize_type_map(self, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        if is_attribute_value(shape.value) and type(value) is dict:  # an item, a key: every attribute at once
            try:
                serialized[key] = {name: _encode(member) for name, member in value.items()}
                return
            except (_Unknown, AttributeError, TypeError):
                pass
        cast("Any", super())._serialize_type_map(serialized, value, shape, key)


class FastParserFactory(parsers.ResponseParserFactory):
    """botocore's parser factory, handing out ``FastParser`` for the JSON protocol."""

    _defaults: dict[str, Any]  # set by ResponseParserFactory.__init__ (not in the type stubs)

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name == "json":
            return FastParser(**self._defaults)
        return super().create_parser(protocol_name)


def fast(client: C) -> C:
    """Install the shortcut on a botocore DynamoDB client (idempotent); returns the client.

    A client this botocore did not build as expected (no JSON serializer where
    botocore keeps it) is returned as it is: slower, never different.
    """
    endpoint = getattr(client, "_endpoint", None)
    # botocore wraps the serializer in a validating one unless parameter_validation is off.
    outer: Any = getattr(client, "_serializer", None)
    owner: Any = outer if isinstance(outer, ParamValidationDecorator) else client
    if endpoint is None or type(getattr(owner, "_serializer", None)) not in {serialize.JSONSerializer, FastSerializer}:
        return client
    owner._serializer = FastSerializer()
    factory = endpoint._response_parser_factory
    if not isinstance(factory, FastParserFactory):
        fast_factory = FastParserFactory()
        fast_factory._defaults = dict(factory._defaults)  # keep any timestamp or blob parser set on the session
        endpoint._response_parser_factory = fast_factory
    return client
