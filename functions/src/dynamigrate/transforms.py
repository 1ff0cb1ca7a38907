"""Item transforms for a new key schema: a declarative mapping, or the user's ``package.module:function``.

A transform is a pure function from a source item (boto3 client form) to the
target item; the bulk copy, the export loader and verify apply it the same way.
``load`` takes either form:

* ``package.module:function``, importable where the tool runs (the Lambda zip
  packs ``functions/src``);
* a JSON mapping (inline, starting with ``{``, or ``@path/to/mapping.json`` on
  the CLI) for the common cases::

    {"set":  {"guid":  {"uuid5": ["pub", "external_id"], "namespace": "url"},
              "title": {"from": "headline"},
              "pk":    {"join": ["pub", "external_id"], "separator": "#"},
              "kind":  {"value": {"S": "article"}}},
     "drop": ["headline"]}

  Every ``set`` is computed from the *source* item (so the mapping is a pure
  function of it, whatever the order), then ``drop`` removes attributes, then
  the ``set`` attributes are written (a set attribute is never dropped).
  ``from`` copies an attribute as it is (with ``drop``, a rename); ``join``
  builds a string from string or number attributes; ``uuid5`` derives a
  deterministic UUID (RFC 9562 version 5) from the same joined string, in the
  namespace ``dns``, ``url``, ``oid``, ``x500`` or a UUID; ``value`` is a
  constant attribute value in typed JSON.

An item a mapping cannot transform (a missing or non-scalar attribute) raises
``TransformError`` naming the attribute, which every path reports with the
item's key (parked by the bulk copy, dead-lettered by the Lambdas).
"""

from __future__ import annotations

import copy
import importlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform


class TransformLoadError(ValueError):
    """The spec names no importable callable, or the mapping is not valid."""


class TransformError(ValueError):
    """A source item the mapping cannot transform (the message names the attribute and why)."""


# What a transform (a mapping or the user's function) raises for an item it cannot map: every path
# reports the item with this reason instead of stopping.
REFUSALS = (ValueError, KeyError, TypeError)


NAMESPACES = {
    "dns": uuid.NAMESPACE_DNS,
    "url": uuid.NAMESPACE_URL,
    "oid": uuid.NAMESPACE_OID,
    "x500": uuid.NAMESPACE_X500,
}
CONSTANT_TYPES = frozenset({"S", "N", "BOOL", "NULL", "SS", "NS", "L", "M"})
DERIVATIONS = ("from", "join", "uuid5", "value")


def load(spec: str) -> Transform:
    """The transform a spec names: a JSON mapping (``{...}`` or ``@file.json``) or ``package.module:function``."""
    text = spec.strip()
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TransformLoadError(f"transform mapping file {str(path)!r} cannot be read ({exc})") from exc
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TransformLoadError(f"transform mapping is not valid JSON: {exc}") from exc
        return KeyMapping.parse(document)
    return _load_function(spec)


def _load_function(spec: str) -> Transform:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise TransformLoadError(
            f"transform {spec!r} must look like package.module:function, or be a JSON mapping ({{...}} or @file.json)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TransformLoadError(
            f"transform module {module_name!r} cannot be imported ({exc}); is it on PYTHONPATH?"
        ) from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise TransformLoadError(f"{module_name} has no function {attribute!r}")
    return function  # type: ignore[no-any-return]


# ------------------------------------------------------------------ mapping --


def _scalar_text(item: Item, name: str) -> str:
    value = item.get(name)
    if value is None:
        raise TransformError(f"attribute {name!r} is missing")
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return str(value["N"])
    kind = next(iter(value), "?")
    raise TransformError(f"attribute {name!r} is of type {kind}; only S and N can be joined")


def _parts(spec: dict[str, Any], op: str, target: str) -> tuple[str, ...]:
    parts = spec[op]
    if isinstance(parts, str):
        parts = [parts]
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) and p for p in parts):
        raise TransformLoadError(f"set.{target}.{op} must be an attribute name or a non-empty list of them")
    return tuple(parts)


def _separator(spec: dict[str, Any], target: str) -> str:
    separator = spec.get("separator", "#")
    if not isinstance(separator, str):
        raise TransformLoadError(f"set.{target}.separator must be a string")
    return separator


def _namespace(spec: dict[str, Any], target: str) -> uuid.UUID:
    name = spec.get("namespace")
    if not isinstance(name, str):
        raise TransformLoadError(f"set.{target}.namespace is required: dns, url, oid, x500 or a UUID")
    if name in NAMESPACES:
        return NAMESPACES[name]
    try:
        return uuid.UUID(name)
    except ValueError as exc:
        raise TransformLoadError(f"set.{target}.namespace {name!r} is not dns, url, oid, x500 or a UUID") from exc


def _derivation(target: str, spec: Any) -> Callable[[Item], dict[str, Any]]:
    """One ``set`` entry as a function of the source item."""
    if not isinstance(spec, dict):
        raise TransformLoadError(f"set.{target} must be an object with one of {', '.join(DERIVATIONS)}")
    ops = [op for op in DERIVATIONS if op in spec]
    allowed = {"from": set(), "join": {"separator"}, "uuid5": {"separator", "namespace"}, "value": set()}
    if len(ops) != 1:
        raise TransformLoadError(f"set.{target} must have exactly one of {', '.join(DERIVATIONS)}")
    op = ops[0]
    unknown = set(spec) - {op} - allowed[op]
    if unknown:
        raise TransformLoadError(f"set.{target}: unknown option(s) {', '.join(sorted(unknown))} for {op}")
    if op == "from":
        source = spec["from"]
        if not isinstance(source, str) or not source:
            raise TransformLoadError(f"set.{target}.from must be an attribute name")

        def copied(item: Item) -> dict[str, Any]:
            if source not in item:
                raise TransformError(f"attribute {source!r} is missing")
            return item[source]

        return copied
    if op == "value":
        value = spec["value"]
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in CONSTANT_TYPES:
            raise TransformLoadError(
                f'set.{target}.value must be one typed value such as {{"S": "text"}} '
                f"(types {', '.join(sorted(CONSTANT_TYPES))})"
            )
        return lambda _item: copy.deepcopy(value)
    parts, separator = _parts(spec, op, target), _separator(spec, target)
    if op == "join":
        return lambda item: {"S": separator.join(_scalar_text(item, name) for name in parts)}
    namespace = _namespace(spec, target)
    return lambda item: {"S": str(uuid.uuid5(namespace, separator.join(_scalar_text(item, name) for name in parts)))}


@dataclass(frozen=True)
class KeyMapping:
    """A declarative transform: attributes derived from the source item, and attributes dropped."""

    derived: tuple[tuple[str, Callable[[Item], dict[str, Any]]], ...]
    drop: frozenset[str]

    @classmethod
    def parse(cls, document: Any) -> KeyMapping:
        if not isinstance(document, dict):
            raise TransformLoadError("a transform mapping is a JSON object with 'set' and/or 'drop'")
        unknown = set(document) - {"set", "drop"}
        if unknown:
            raise TransformLoadError(f"transform mapping: unknown key(s) {', '.join(sorted(unknown))}; use set, drop")
        sets = document.get("set", {})
        drop = document.get("drop", [])
        if not isinstance(sets, dict):
            raise TransformLoadError("transform mapping: 'set' must be an object of attribute name to derivation")
        if not isinstance(drop, list) or not all(isinstance(name, str) and name for name in drop):
            raise TransformLoadError("transform mapping: 'drop' must be a list of attribute names")
        if not sets and not drop:
            raise TransformLoadError("transform mapping: nothing to do (no 'set', no 'drop')")
        derived = tuple((str(target), _derivation(str(target), spec)) for target, spec in sets.items())
        return cls(derived, frozenset(drop))

    def __call__(self, item: Item) -> Item:
        values = {target: derive(item) for target, derive in self.derived}  # all from the source item
        new = {name: value for name, value in item.items() if name not in self.drop}
        new.update(values)
        return new
