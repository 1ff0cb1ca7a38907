"""DynamoDB items through botocore at a fraction of the CPU: same requests, same parsed responses.

botocore turns every request into JSON and every response back by walking the
service model, shape by shape: for an item, each attribute is an
``AttributeValue`` structure of ten members, visited one by one. For the bulk
paths, which move whole items and do little else, that walk is much of the
client's CPU: parsing a Scan page took 70 us per ~1 KB item, against 9 us for
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

Before any of that, botocore resolves the request's endpoint, and for
``TransactWriteItems`` one of the ruleset's parameters is a JMESPath over the
request (``ResourceArnList``: every action's table name), interpreted node by
node: 2.2 ms for a 100-action transaction, more than serialising it. The
shortcut compiles such a path once into plain Python functions, for the
JMESPath nodes these paths use (fields, projections, flattening, multi-select
lists); any other path is left to JMESPath. Property tests compare the results
with ``jmespath.search`` over random requests.

Timed on the benchmark's ~1 KB items (best of 5, one process): a Scan page
parses in 20 instead of 70 us per item; a 50-copy transaction serialises in
52 instead of 73 us per copy (most of the rest is ``json.dumps``) and
resolves its endpoint in 0.3 instead of 2.2 ms (6 instead of 44 us per copy).

``fast(client)`` installs it on one botocore DynamoDB client: its serializer
(replaced on the client object; botocore has no hook for serializers), its
response parser (through the endpoint's parser factory, the component botocore
documents for custom timestamp and blob parsers) and the operation-context
step of its endpoint resolver (replaced on the resolver object).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import jmespath
from botocore import parsers, serialize
from botocore.regions import EndpointRulesetResolver
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
    """One AttributeValue with its binaries (of type ``binary``) passed through ``convert``, the rest as it is.

    A value with nothing to convert is returned itself, not a copy: both
    directions read a tree nobody else holds (the JSON just parsed) or only
    serialise it (the request body about to be dumped).
    """
    if type(value) is not dict or len(value) != 1:
        raise _Unknown
    for kind, raw in value.items():  # the one member
        held = type(raw)
        if held is binary and kind == "B":
            return {"B": convert(raw)}
        if held is str or held is bool:
            if kind in AS_IS:
                return value
        elif held is list:
            if kind in SETS_AS_IS:
                return value
            if kind == "L":
                return {"L": [_convert(member, binary, convert) for member in raw]}
            if kind == "BS" and all(type(member) is binary for member in raw):
                return {"BS": [convert(member) for member in raw]}
        elif held is dict and kind == "M":
            return {"M": {name: _convert(member, binary, convert) for name, member in raw.items()}}
    raise _Unknown


def decoded(value: Any, blob: Any) -> dict[str, Any] | None:
    """One AttributeValue from the wire to the client's form (base64 binaries decoded by ``blob``).

    None for a value the shortcut does not handle: the caller's own parser decides
    (botocore's here; moto's in the emulator, whose JSON request parser gives the same form).
    """
    try:
        return _convert(value, str, blob)
    except (_Unknown, AttributeError, TypeError):
        return None


def decoded_map(value: Any, blob: Any) -> dict[str, Any] | None:
    """An item or a key (a map of AttributeValues) from the wire, as ``decoded``; None if any is not handled."""
    if type(value) is not dict:
        return None
    try:
        return {name: _convert(member, str, blob) for name, member in value.items()}
    except (_Unknown, AttributeError, TypeError):
        return None


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
            parsed = decoded(value, self._blob_parser)
            if parsed is not None:
                return parsed
            # else botocore's own parse, with its own errors and its handling of unknown members
        return cast("Any", super())._handle_structure(shape, value)  # private in botocore, not in its stubs

    def _handle_map(self, shape: Any, value: Any) -> Any:
        if is_attribute_value(shape.value):  # an item, a key: every attribute at once
            parsed = decoded_map(value, self._blob_parser)
            if parsed is not None:
                return parsed
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


Path = Callable[[Any], Any]


def _fields(names: tuple[str, ...]) -> Path:
    """``a.b.c``: each field of the one before; null once any is not an object (JMESPath's rule)."""

    def fields(value: Any) -> Any:
        for name in names:
            if type(value) is dict:  # the common case, without an exception for the absent ones
                value = value.get(name)
            elif value is None:
                return None
            else:
                try:
                    value = value.get(name)
                except AttributeError:
                    return None
        return value

    return fields


def _chain(steps: list[Path]) -> Path:
    def subexpression(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return subexpression


def _identity(value: Any) -> Any:
    return value


def _projection(base: Path, each: Path) -> Path:
    def projection(value: Any) -> Any:
        listed = base(value)
        if not isinstance(listed, list):
            return None
        results = listed if each is _identity else map(each, listed)  # ``a[]``: the flattened list itself
        return [result for result in results if result is not None]

    return projection


def _flatten(base: Path) -> Path:
    def flatten(value: Any) -> Any:
        listed = base(value)
        if not isinstance(listed, list):
            return None
        merged: list[Any] = []
        for element in listed:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    return flatten


def _multi_select(parts: list[Path]) -> Path:
    def multi_select(value: Any) -> Any:
        return None if value is None else [part(value) for part in parts]

    return multi_select


def _compiled_node(node: Mapping[str, Any]) -> Path | None:
    """One JMESPath AST node as a function with the semantics of jmespath's TreeInterpreter; None if not handled."""
    children = [_compiled_node(child) for child in node["children"]]
    if any(child is None for child in children):
        return None
    steps = cast("list[Path]", children)
    kind = node["type"]
    if kind == "field" and not steps:
        return _fields((node["value"],))
    if kind == "subexpression" and steps:
        if all(child["type"] == "field" for child in node["children"]):
            return _fields(tuple(child["value"] for child in node["children"]))
        return _chain(steps)
    if kind == "projection" and len(steps) == 2:
        return _projection(*steps)
    if kind == "flatten" and len(steps) == 1:
        return _flatten(steps[0])
    if kind == "multi_select_list" and steps:
        return _multi_select(steps)
    if kind == "identity" and not steps:
        return _identity
    return None  # functions, filters, comparisons...: JMESPath itself


@functools.lru_cache(maxsize=64)
def compiled_path(path: str) -> Path:
    """A JMESPath expression as one Python function: compiled here when it uses only the nodes above."""
    compiled = _compiled_node(jmespath.compile(path).parsed)
    return compiled if compiled is not None else functools.partial(jmespath.search, path)


def _operation_context_param(param_name: str, operation_model: Any, call_args: Any) -> Any:
    """botocore's ``EndpointRulesetResolver._resolve_param_as_operation_context_param``, paths compiled."""
    parameters = operation_model.operation_context_parameters  # a list when the operation has none
    if param_name not in parameters:
        return None
    return compiled_path(parameters[param_name]["path"])(call_args)


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
    resolver = getattr(client, "_ruleset_resolver", None)
    if isinstance(resolver, EndpointRulesetResolver):
        cast("Any", resolver)._resolve_param_as_operation_context_param = _operation_context_param  # private method
    return client
