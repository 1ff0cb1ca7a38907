"""Permanent fixes to moto's DynamoDB (moto 5.2.x): isolated transactions, fast responses.

1. TransactWriteItems, atomic, isolated and cheap.

moto 5.2.5 implements ``TransactWriteItems`` by deep-copying every table the
transaction touches, applying the operations one by one, and, when one fails,
assigning the copies back (moto/dynamodb/models/__init__.py,
``DynamoDBBackend.transact_write_items``). Two consequences break a
replicator that runs writes in parallel threads, as every real one does:

* a cancelled transaction restores whole-table snapshots, silently undoing
  writes that other threads made to those tables in the meantime;
* every transaction costs a deep copy of whole tables, so a bulk copy of a few
  thousand items takes minutes.

Real DynamoDB checks every condition first and applies all writes or none,
isolated from concurrent writes. This patch does the same: under one lock
shared by all write operations of the backend, it evaluates each part's
condition (and item size) against the current items, raises
``TransactionCanceledException`` with per-part reasons if any fails, and only
then applies the writes. No snapshot, no rollback. Cancellation reasons use
DynamoDB's codes (``ConditionalCheckFailed``, ``ValidationError``).

2. Item responses serialised directly.

moto 5.2 serialises every response by walking botocore's service model
(moto/core/serialize.py), which costs about 20 ms per item of a realistic
shape: a Scan of 300 items took 6 s. DynamoDB's wire format for items *is*
typed JSON, which moto already holds, so the data-plane operations that
return items (``ITEM_OPERATIONS``) are written with orjson (``json.dumps``
where orjson is missing or refuses a value: big integers, lone surrogates)
instead, binaries base64-encoded as the model serialiser does. Every other
operation keeps moto's serialiser. Measured: the same Scan takes 0.1 s; orjson
writes a 1 MB Scan page in a twentieth of ``json.dumps``'s time, which the
bulk copy's reads pay and the ``BatchWriteItem`` ceiling does not. Two more
conversions of every item are shortened, with the same results: moto's
request parser visits all ten members of the ``AttributeValue`` structure for
each attribute (it holds one), and its ``dynamo_to_dict`` checks five types
before expanding a string or number; both now go straight to the common case
(an item is converted in one step by ``sdkcodec.decoded_map``, the client's
own shortcut: moto's JSON request form is the client's form).
The parser also re-reads every structure's member names and dispatches every
string and map key through a handler that returns it unchanged: each shape's
member table is now computed once and strings are kept as they are (a
transaction's request parse took twice the CPU of a BatchWriteItem of the same
items; same results, key order included, tests/unit/emulator/test_parse.py).
And inside a ``TransactWriteItems`` whose whole body is under the 400 KB item
limit, no item can pass it, so the per-item size measure is skipped. Last,
moto runs every response body, JSON ones included, through a regular
expression that rewrites an XML ``<RequestId>`` (``BaseResponse._enrich_response``):
a look-behind tried at every character of every Scan page. A body without
that tag goes around the expression (moto still sets the status and the
request id header).

3. Items built in linear time.

moto checks the 400 KB item limit in ``LimitedSizeDict.__setitem__`` by
re-measuring every attribute already set, so building an item of n
attributes costs O(n^2) recursive size computations (moto/dynamodb/models/
dynamo_type.py:304). ``Item.__init__`` now measures once and fills the dict
in one step; the limit and the error are moto's own.

4. Condition expressions parsed once.

moto parses a ConditionExpression from scratch every time it meets one, and
twice per TransactWriteItems part (validation, then evaluation): 2.5 ms per
part, 90% of the time of a 100-part transaction. The parse result is a pure
function of the expression, its names and its values, so parsers are cached on
those three (a bounded dict); evaluation against the current item is moto's
own, every time.

5. Exports to S3 in AWS's layout.

moto writes an export as one data file under a random folder, with no
manifests, and reports no export time (dynamodb/models/table_export.py:63).
AWS writes ``<prefix>/AWSDynamoDB/<ExportId>/`` with ``_started``, data files
(at least one per partition) under ``data/``, ``manifest-files.json`` (one JSON
line per data file: ``itemCount``, ``md5Checksum``, ``etag``,
``dataFileS3Key``) and ``manifest-summary.json`` (``exportTime``,
``itemCount``, ``manifestFilesS3Key``...), which is what ``dynamigrate
load-export`` reads. The replacement writes that layout, one data file per
1,000 items standing in for partitions, and reports ``ExportTime``; export
ARNs take AWS's form (``<table ARN>/export/<ExportId>``, moto builds
``table/<table ARN>/import/<id>``) and the format its name (``DYNAMODB_JSON``).
"""

from __future__ import annotations

import base64
import bisect
import functools
import gzip
import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import moto
from moto.core.parse import BaseJSONParser
from moto.core.responses import BaseResponse
from moto.dynamodb import comparisons
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression
from moto.dynamodb.exceptions import (
    ItemSizeTooLarge,
    MockValidationException,
    MultipleTransactionsException,
    PolicyNotFoundException,
    ResourceNotFoundException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import utilities as dynamodb_utilities
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, ResourcePolicy, Table
from moto.dynamodb.models.table_export import TableExport
from moto.dynamodb.models.utilities import bytesize, dynamo_json_dump
from moto.dynamodb.responses import DynamoResult
from moto.utilities.utils import md5_hash

from dynamigrate.sdkcodec import decoded, decoded_map, is_attribute_value

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in the development requirements; the stdlib takes over
    orjson = None  # type: ignore[assignment]

WRITE_LOCK = threading.RLock()
_REQUEST = threading.local()  # body_bytes: the size of the TransactWriteItems request being handled
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
    }
)
_WRITE_METHODS = ("put_item", "delete_item", "update_item", "batch_write_item")
_PATCHED = "_dynamigrate_transactions_patched"


class _ConditionFailed(Exception):
    def __init__(self, old: dict[str, Any] | None) -> None:
        super().__init__("The conditional request failed")
        self.old = old


def install() -> None:
    """Patch ``DynamoDBBackend`` once (idempotent)."""
    if not moto.__version__.startswith("5.2."):
        raise RuntimeError(
            f"dynamigrate's emulator patches target moto 5.2.x, found {moto.__version__}: "
            "install the pinned version (make venv)"
        )
    if getattr(DynamoDBBackend, _PATCHED, False):
        return
    DynamoDBBackend.update_item = _updated(DynamoDBBackend.update_item)  # type: ignore[method-assign]
    for name in _WRITE_METHODS:
        setattr(DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name)))
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    handler = dynamodb_responses.DynamoHandler
    setattr(handler, "transact_write_items", _body_sized(handler.transact_write_items))  # noqa: B010
    Item.__init__ = _item_init  # type: ignore[method-assign]
    TableExport._backup_to_s3_file = _export_in_aws_layout  # type: ignore[method-assign]
    TableExport.__init__ = _export_init(TableExport.__init__)  # type: ignore[method-assign]
    original_response = TableExport.response
    setattr(TableExport, "response", lambda self: {**original_response(self), **_export_times(self)})  # noqa: B010
    comparisons.create_condition_expression_parser = _CachedParser  # type: ignore[assignment]
    setattr(dynamodb_responses, "create_condition_expression_parser", _CachedParser)  # noqa: B010
    original_execute = DynamoResult.execute_result
    setattr(DynamoResult, "execute_result", _fast_execute_result(original_execute))  # noqa: B010
    _stream_policies()
    Table.put_item = _counted(Table.put_item)  # type: ignore[method-assign]
    Table.delete_item = _counted(Table.delete_item)  # type: ignore[method-assign]
    Table.scan = _paged_scan(Table.scan)  # type: ignore[method-assign]
    setattr(dynamodb_responses.DynamoHandler, "scan", _locked(dynamodb_responses.DynamoHandler.scan))  # noqa: B010
    setattr(BaseJSONParser, "_parse_structure", _fast_parse_structure(BaseJSONParser._parse_structure))  # noqa: B010
    setattr(BaseJSONParser, "_parse_map", _fast_parse_map(BaseJSONParser._parse_map))  # noqa: B010
    BaseResponse._enrich_response = _enrich_xml_only(BaseResponse._enrich_response)  # type: ignore[method-assign]
    fast_to_dict = _fast_dynamo_to_dict(dynamodb_utilities.dynamo_to_dict)
    setattr(dynamodb_utilities, "dynamo_to_dict", fast_to_dict)  # noqa: B010  # moto's recursion finds it here
    setattr(dynamodb_responses, "dynamo_to_dict", fast_to_dict)  # noqa: B010  # and DynamoResult here
    setattr(DynamoDBBackend, _PATCHED, True)


def _stream_table(backend: DynamoDBBackend, resource_arn: str) -> None:
    """Raise as DynamoDB does unless ``resource_arn`` is the current stream of an existing table."""
    table_name, _, label = resource_arn.split(":table/", 1)[-1].partition("/stream/")
    table = backend.tables.get(table_name)
    if table is None or table.latest_stream_label != label:
        raise ResourceNotFoundException(table_name=table_name)


def _stream_policies() -> None:
    """Resource policies on stream ARNs (cross-account stream reads).

    moto takes the last path part of the ARN for a table name, so every
    Put/Get/DeleteResourcePolicy on a stream fails. A stream's policy is kept like
    a table's, keyed by the stream ARN, once the table and its current stream are found.
    """
    put, get, delete = (
        DynamoDBBackend.put_resource_policy,
        DynamoDBBackend.get_resource_policy,
        DynamoDBBackend.delete_resource_policy,
    )

    @functools.wraps(put)
    def put_resource_policy(
        self: DynamoDBBackend, resource_arn: str, policy_doc: str, expected_revision_id: str | None
    ) -> Any:
        if "/stream/" not in resource_arn:
            return put(self, resource_arn, policy_doc, expected_revision_id)
        _stream_table(self, resource_arn)
        policy = ResourcePolicy(resource_arn=resource_arn, policy_doc=policy_doc)
        self.resource_policies[resource_arn] = policy
        return policy

    @functools.wraps(get)
    def get_resource_policy(self: DynamoDBBackend, resource_arn: str) -> Any:
        if "/stream/" not in resource_arn:
            return get(self, resource_arn)
        _stream_table(self, resource_arn)
        if resource_arn not in self.resource_policies:
            raise PolicyNotFoundException(
                f"Resource-based policy not found for the provided ResourceArn: {resource_arn}"
            )
        return self.resource_policies[resource_arn]

    @functools.wraps(delete)
    def delete_resource_policy(self: DynamoDBBackend, resource_arn: str, expected_revision_id: str | None) -> None:
        if "/stream/" not in resource_arn:
            return delete(self, resource_arn, expected_revision_id)
        _stream_table(self, resource_arn)
        if self.resource_policies.pop(resource_arn, None) is None:
            raise PolicyNotFoundException(
                f"Resource-based policy not found for the provided ResourceArn: {resource_arn}"
            )
        return None

    for method in (put_resource_policy, get_resource_policy, delete_resource_policy):
        setattr(DynamoDBBackend, method.__name__, method)


_GENERATION = "_dynamigrate_generation"
_VIEWS = "_dynamigrate_scan_views"


def _counted(method: Any) -> Any:
    """Wrap a write that adds or removes an item: the table's sorted views are stale afterwards."""

    @functools.wraps(method)
    def wrapper(self: Table, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            setattr(self, _GENERATION, getattr(self, _GENERATION, 0) + 1)

    return wrapper


def _updated(method: Any) -> Any:
    """Wrap ``DynamoDBBackend.update_item``, the only write that changes an item in place: forget its size."""

    @functools.wraps(method)
    def wrapper(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, table_name, key, *args, **kwargs)
        finally:
            _forget_size(self, table_name, key)

    return wrapper


def _forget_size(backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
    table = backend.tables.get(table_name)
    if table is None:
        return
    try:
        item = table.get_item(*backend.get_keys_value(table, key))
    except MockValidationException:  # the key itself was refused: no item was changed
        return
    if item is not None:
        item.__dict__.pop(_SIZE, None)


def _size(item: Item) -> int:
    """``item.size()``, remembered on the item (set when it was built, forgotten when it is updated)."""
    size = item.__dict__.get(_SIZE)
    if size is None:
        size = item.__dict__[_SIZE] = item.size()
    return cast("int", size)


def _sort_key(table: Table, item: Item) -> tuple[Any, ...]:
    """moto's scan order (``Table.all_items``), on values computed once."""
    if table.range_key_attr is None or item.range_key is None:
        return (item.hash_key.cast_value,)
    return (item.hash_key.cast_value, item.range_key.cast_value)


def _segment_of(item: Item, total: int) -> int:
    """The segment of ``item`` among ``total``: moto's formula (``Item.is_within_segment``), computed once."""
    return int(md5_hash(item.hash_key.value.encode("utf8")).digest()[0]) % total


def _scan_view(table: Table, segments: tuple[Any, Any]) -> tuple[list[Item], list[tuple[Any, ...]]]:
    """The items of ``segments`` in moto's order and their keys; call under WRITE_LOCK.

    Built for every segment of the same total in one pass (a parallel scan asks for all of them).
    """
    segment, total = segments if segments != (None, None) else (0, 1)
    stamp = (id(table.items), getattr(table, _GENERATION, 0))
    views: dict[int, tuple[Any, list[tuple[list[Item], list[tuple[Any, ...]]]]]] = table.__dict__.setdefault(_VIEWS, {})
    cached = views.get(total)
    if cached is not None and cached[0] == stamp:
        return cached[1][segment]
    if any(view[0] != stamp for view in views.values()):
        views.clear()
    members: list[list[Item]] = [[] for _ in range(total)]
    for bucket in table.items.values():
        group = list(bucket.values()) if isinstance(bucket, dict) else [bucket]  # hash-only tables hold items
        if group:  # items of one hash key share a segment
            members[_segment_of(group[0], total) if total > 1 else 0].extend(group)
    built = []
    for found in members:
        ordered = sorted(((_sort_key(table, item), item) for item in found), key=lambda pair: pair[0])
        built.append(([item for _, item in ordered], [key for key, _ in ordered]))
    views[total] = (stamp, built)
    return built[segment]


def _paged_scan(original: Any) -> Any:
    @functools.wraps(original)
    def scan(  # noqa: PLR0917 - Table.scan's own signature: DynamoDBBackend.scan passes these positionally
        self: Table,
        filters: dict[str, Any],
        limit: int,
        exclusive_start_key: dict[str, Any] | None,
        filter_expression: Any = None,
        index_name: str | None = None,
        consistent_read: bool = False,
        projection_expression: list[list[str]] | None = None,
        segments: tuple[Any, Any] = (None, None),
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        if index_name or filters:
            return cast(
                "tuple[list[Item], int, dict[str, Any] | None]",
                original(
                    self,
                    filters,
                    limit,
                    exclusive_start_key,
                    filter_expression=filter_expression,
                    index_name=index_name,
                    consistent_read=consistent_read,
                    projection_expression=projection_expression,
                    segments=segments,
                ),
            )
        with WRITE_LOCK:
            items, keys = _scan_view(self, segments)
            start = 0
            if exclusive_start_key:
                start_item = Item(
                    DynamoType(exclusive_start_key[self.hash_key_attr]),
                    DynamoType(exclusive_start_key[self.range_key_attr]) if self.range_key_attr else None,
                    {},
                )
                start = bisect.bisect_right(keys, _sort_key(self, start_item))  # the first item after the key
            results: list[Item] = []
            result_size = 0
            last_evaluated_key = None
            for position in range(start, len(items)):
                item = items[position]
                size = _size(item)
                if len(results) == limit or result_size + size > RESULT_SIZE_LIMIT:
                    last_evaluated_key = self._get_last_evaluated_key(results[-1], None)
                    break
                results.append(item)  # no copy: the Scan handler holds WRITE_LOCK until the response is built
                result_size += size
        scanned_count = len(results)
        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]
        if projection_expression:
            results = [item.project(projection_expression) for item in results]
        return results, scanned_count, last_evaluated_key

    return scan


EXPORT_FILE_ITEMS = 1000


def _export_init(original: Any) -> Any:
    @functools.wraps(original)
    def init(self: TableExport, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # moto builds "table/<table ARN>/import/<id>"; AWS's form is "<table ARN>/export/<ExportId>".
        self.arn = f"{self.table.table_arn}/export/{int(time.time() * 1000):014d}-{uuid.uuid4().hex[:8]}"
        self.export_format = "DYNAMODB_JSON"  # moto reports "DYNAMO_JSON"

    return init


def _export_times(export: TableExport) -> dict[str, Any]:
    started = getattr(export, "_dynamigrate_export_time", None)
    return {"ExportTime": started, "StartTime": started} if started is not None else {}


def _export_in_aws_layout(self: TableExport, s3_backend: Any) -> None:
    exported_at = datetime.now(tz=UTC)
    self._dynamigrate_export_time = exported_at.timestamp()  # type: ignore[attr-defined]
    export_id = self.arn.rsplit("/", 1)[-1]
    base = f"{self.s3_prefix.rstrip('/')}/AWSDynamoDB/{export_id}" if self.s3_prefix else f"AWSDynamoDB/{export_id}"

    def put(key: str, body: bytes) -> None:
        s3_backend.put_object(bucket_name=self.s3_bucket, key_name=key, value=body)

    put(f"{base}/_started", b"")
    files: list[dict[str, Any]] = []
    lines: list[str] = []

    def flush() -> None:
        key = f"{base}/data/{uuid.uuid4().hex}.json.gz"
        body = gzip.compress("".join(line + "\n" for line in lines).encode("utf-8"))
        put(key, body)
        digest = hashlib.md5(body, usedforsecurity=False)
        files.append(
            {
                "itemCount": len(lines),
                "md5Checksum": base64.b64encode(digest.digest()).decode("ascii"),
                "etag": digest.hexdigest(),
                "dataFileS3Key": key,
            }
        )
        lines.clear()

    with WRITE_LOCK:  # a consistent point in time
        items = list(self.table.all_items())
    for item in items:
        document = item.to_json(root_attr_name="Item")
        lines.append(dynamo_json_dump(document))  # moto's encoder: binaries as base64, as AWS writes them
        self.processed_bytes += len(lines[-1])
        self.item_count += 1
        if len(lines) == EXPORT_FILE_ITEMS:
            flush()
    if lines or not files:
        flush()
    manifest_files = f"{base}/manifest-files.json"
    put(manifest_files, "".join(json.dumps(f) + "\n" for f in files).encode("utf-8"))
    summary = {
        "version": "2020-06-30",
        "exportArn": self.arn,
        "startTime": exported_at.isoformat(),
        "endTime": datetime.now(tz=UTC).isoformat(),
        "tableArn": self.table.table_arn,
        "exportTime": exported_at.isoformat(),
        "s3Bucket": self.s3_bucket,
        "s3Prefix": self.s3_prefix or None,
        "manifestFilesS3Key": manifest_files,
        "billedSizeBytes": self.processed_bytes,
        "itemCount": self.item_count,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    put(f"{base}/manifest-summary.json", json.dumps(summary).encode("utf-8"))
    self.status = "COMPLETED"


_PARSED: dict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = {}
_PARSED_MAX = 4096


class _CachedParser(ConditionExpressionParser):
    """moto's parser, remembering each (expression, names, values) it has parsed (errors are not cached)."""

    def parse(self) -> Any:
        if not self.condition_expression:
            return super().parse()
        # repr is exact for parsed JSON (str, bool, bytes, lists, dicts) and costs a fifth of json.dumps;
        # the same names in another order only make a second entry.
        key = (self.condition_expression, repr(self.expression_attribute_names), repr(self.expression_attribute_values))
        hit = _PARSED.get(key)
        if hit is None:
            tree = super().parse()
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            hit = _PARSED[key] = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
        self.expr_attr_names_found = list(hit[1])
        self.expr_attr_values_found = list(hit[2])
        return hit[0]


_MAX_ITEM_BYTES = 405000  # moto's own threshold (dynamo_type.py:316)
_SIZE = "_dynamigrate_size"


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    self.hash_key = hash_key
    self.range_key = range_key
    converted = {key: DynamoType(value) for key, value in attrs.items()}
    size = sum(bytesize(key) + value.size() for key, value in converted.items())  # Item.size()
    if size > _MAX_ITEM_BYTES:
        raise ItemSizeTooLarge
    self.__dict__[_SIZE] = size
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, converted)


_PLAIN_TYPES = frozenset({"S", "N", "BOOL", "NULL"})
_STRING_SETS = frozenset({"SS", "NS"})


def _fast_dynamo_to_dict(original: Any) -> Any:
    """moto's ``dynamo_to_dict`` (DynamoType to ``{type: value}``, recursively), its common cases without its checks.

    Same results: plain values are shared (str, bool: immutable), lists and dicts are new.
    """

    @functools.wraps(original)
    def dynamo_to_dict(obj: Any) -> Any:
        kind = type(obj)
        if kind is DynamoType:
            if obj.type in _PLAIN_TYPES:
                return {obj.type: obj.value}  # str or bool, which moto's recursion returns unchanged
            if obj.type in _STRING_SETS:
                return {obj.type: list(obj.value)}  # a new list of str, as moto's recursion builds
            if obj.type == "M":
                return {"M": {key: dynamo_to_dict(value) for key, value in obj.value.items()}}
            if obj.type == "L":
                return {"L": [dynamo_to_dict(value) for value in obj.value]}
        elif kind is dict or kind is LimitedSizeDict:
            return {key: dynamo_to_dict(value) for key, value in obj.items()}
        elif kind is list:
            return [dynamo_to_dict(value) for value in obj]
        return original(obj)  # binaries, datetimes, objects with to_json

    return dynamo_to_dict


@functools.lru_cache(maxsize=2048)  # shapes are built once per service model and hashable by identity
def _wire_members(shape: Any) -> tuple[tuple[str, str, Any, bool], ...]:
    """(name on the wire, member name, member shape, is a string) for each member, in the shape's order."""
    return tuple(
        (member.serialization.get("name", name), name, member, member.type_name == "string")
        for name, member in shape.members.items()
    )


def _fast_parse_structure(original: Any) -> Any:
    """moto's JSON ``_parse_structure`` with each shape's members looked up once, not per request.

    moto walks every member of a structure and reads its serialisation name
    each time; a 100-action transaction walks some 400 structures. Here the
    member table is computed once per shape, strings are kept as they are (the
    handler moto would dispatch to returns them unchanged), and an
    AttributeValue, or a map of them (an item, a key), is converted in one step
    by ``sdkcodec.decoded`` (moto's JSON parser gives the client's form: strings
    as they are, binaries decoded) unless it holds something unusual. The
    result is the same dict, keys in the same order.
    """

    @functools.wraps(original)
    def parse_structure(self: BaseJSONParser, shape: Any, value: Any) -> Any:
        if not isinstance(value, dict) or shape.is_document_type:
            return original(self, shape, value)
        strings_as_is = not hasattr(self, "_parse_string")  # moto's JSON parser keeps strings as they are
        if strings_as_is and self.MAP_TYPE is dict and is_attribute_value(shape):  # moto's form: the client's
            whole = decoded(value, self._blob_parser)
            if whole is not None:
                return whole
        parse_shape: Any = self._parse_shape  # untyped in moto
        parsed = self.MAP_TYPE()
        for wire_name, name, member, is_string in _wire_members(shape):
            raw = value.get(wire_name)
            if raw is not None:
                parsed[name] = raw if strings_as_is and is_string else parse_shape(member, raw)
        return parsed

    return parse_structure


def _fast_parse_map(original: Any) -> Any:
    """moto's JSON ``_parse_map``, string keys kept as they are instead of dispatched one by one."""

    @functools.wraps(original)
    def parse_map(self: BaseJSONParser, shape: Any, value: Any) -> Any:
        if not isinstance(value, dict) or shape.key.type_name != "string" or hasattr(self, "_parse_string"):
            return original(self, shape, value)
        value_shape = shape.value
        if self.MAP_TYPE is dict and is_attribute_value(value_shape):  # an item, a key: in one step, as above
            whole = decoded_map(value, self._blob_parser)
            if whole is not None:
                return whole
        parse_shape: Any = self._parse_shape
        parsed = self.MAP_TYPE()
        for key, raw in value.items():
            parsed[key] = parse_shape(value_shape, raw)
        return parsed

    return parse_map


def _enrich_xml_only(original: Any) -> Any:
    """moto's ``_enrich_response``, its ``<RequestId>`` rewrite only run on a body that has the tag."""

    @functools.wraps(original)
    def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str) and "<RequestId>" not in body:  # the expression cannot match: same body
            enriched, _ = original(headers, "")
            return enriched, body
        return cast("tuple[dict[str, str], Any]", original(headers, body))

    return staticmethod(enrich_response)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dumped(result: Any) -> str:
    """A response in compact JSON: orjson when it takes the value, ``json.dumps`` otherwise (same JSON value)."""
    if orjson is not None:
        try:  # datetimes passed to _json_default, as json.dumps does, instead of orjson's RFC 3339 strings
            return orjson.dumps(result, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
        except TypeError:  # orjson.JSONEncodeError: json.dumps decides, with its own result or error
            pass
    return json.dumps(result, default=_json_default, separators=(",", ":"))


def _fast_execute_result(original: Any) -> Any:
    @functools.wraps(original)
    def execute_result(self: DynamoResult, context: Any) -> Any:
        if context.operation_model.name not in ITEM_OPERATIONS or isinstance(self.result, Exception):
            return original(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, _dumped(self.result)

    return execute_result


def _locked(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with WRITE_LOCK:
            return method(*args, **kwargs)

    return wrapper


def _body_sized(method: Any) -> Any:
    """Tell ``_check`` how large the request is (moto's handler holds the raw body; the backend does not)."""

    @functools.wraps(method)
    def wrapper(self: Any) -> Any:
        raw = getattr(self, "raw_body", None)
        _REQUEST.body_bytes = len(raw) if isinstance(raw, bytes) else None  # bytes: a str counts characters
        try:
            return method(self)
        finally:
            _REQUEST.body_bytes = None

    return wrapper


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with WRITE_LOCK:
        seen: set[tuple[str, str]] = set()
        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        plan: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for part in transact_items:
            if len(part) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(part.items()))
            try:
                key = _check(self, op_type, op, seen)
            except (MultipleTransactionsException, TransactWriteSingleOpException):
                raise
            except _ConditionFailed as exc:
                errors.append(("ConditionalCheckFailed", str(exc), exc.old))
                continue
            except MockValidationException as exc:
                errors.append(("ValidationError", exc.exception_msg, None))
                continue
            except Exception as exc:  # moto reports any other failure as a reason code
                errors.append((type(exc).__name__, str(exc), None))
                continue
            errors.append((None, None, None))
            plan.append((op_type, op, key))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        for op_type, op, key in plan:
            table_name = op["TableName"]
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    # moto's own transact_write_items passes these as-is (None when absent)
                    expression_attribute_names=cast("dict[str, Any]", op.get("ExpressionAttributeNames")),
                    expression_attribute_values=cast("dict[str, Any]", op.get("ExpressionAttributeValues")),
                )


def _check(self: DynamoDBBackend, op_type: str, op: dict[str, Any], seen: set[tuple[str, str]]) -> dict[str, Any]:
    """Evaluate one part's condition without writing; return its key."""
    if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError("Unsupported transaction operation")
    table_name = op["TableName"]
    table = self.get_table(table_name)
    if op_type == "Put":
        attrs = op["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
        # Its JSON (ASCII-escaped, binaries in base64) is never smaller than DynamoDB's size of the
        # item, so only items whose JSON passes the limit need moto's exact (and costly) measure; and
        # when the whole request body is under the limit, none of the items it holds can pass it.
        body_bytes = getattr(_REQUEST, "body_bytes", None)
        if (body_bytes is None or body_bytes > _MAX_ITEM_BYTES) and len(
            json.dumps(attrs, default=str)
        ) > _MAX_ITEM_BYTES:
            range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            Item(DynamoType(attrs[table.hash_key_attr]), range_value, attrs)  # raises if the item is too large
    else:
        key = op["Key"]
    marker = (str(table_name), str(dict(sorted(key.items()))))
    if marker in seen:
        raise MultipleTransactionsException()
    seen.add(marker)
    condition = op.get("ConditionExpression")
    if condition is not None:
        current = self.get_item(table_name, key)
        expression = get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        )
        if not expression.expr(current):
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            raise _ConditionFailed(old)
    return key
