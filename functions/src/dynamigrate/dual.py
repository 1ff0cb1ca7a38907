"""The application's side of a move to a new key schema: read new first, write new, copy on update.

During a rekey (the seed's ``Summaries(pub, external_id)`` to
``Articles(guid)``) the application swaps its boto3 ``Table`` calls for a
``DualTable``'s, with the same keyword arguments plus ``OldKey``, the item's
key in the old table::

    articles = DualTable.connect(boto3.client("dynamodb"), table="Articles", old_table="Summaries",
                                 ledger_table="articles-ledger", transform="@mapping.json")
    articles.get_item(Key={"guid": guid}, OldKey={"pub": pub, "external_id": external_id})
    articles.update_item(Key={"guid": guid}, OldKey={...}, UpdateExpression="SET title = :t",
                         ExpressionAttributeValues={":t": "New title"})

Items and values are plain Python values, as with ``boto3.resource`` (numbers
as ``Decimal``). What each call does (docs/dual-access.md has the reasons):

* ``get_item`` reads the new table; on a miss it reads the old one (with the
  transform) unless the new table owns the key (a ledger row: it was written
  or deleted there), and counts ``DualFallbackReads``. In ``strict`` mode (after
  cutover) a miss reads nothing else: it logs the key and counts
  ``DualStrictMisses``, the alert of the seed's cleanup step.
* ``put_item``, ``update_item`` and ``delete_item`` write the new table only, in
  one transaction with the key's ledger row set to ``APPLICATION_SEQ`` (deleted
  or not): no replicated change still in flight and no bulk copy can overwrite
  or resurrect what the application wrote.
* A write that depends on the item (an update, or any write with a
  ``ConditionExpression``) is first sent on the condition that the item exists
  in the new table. If it does not, the item is copied from the old table through
  the version rule (``VersionRule.plan_copy``, so two processes copying at once
  do not fight) and the write is sent again, evaluated against the copy, or
  against nothing when the old table has no item either (``UpdateItem`` then
  creates it, as DynamoDB does). A caller's condition that fails raises
  ``ConditionalCheckFailedException`` as boto3 would.

Thread-safe: share one ``DualTable`` between threads (boto3 clients are).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from dynamigrate.apply import execute
from dynamigrate.changes import validate_key_types
from dynamigrate.ddbjson import canonical_key, describe_key, key_of, ledger_id
from dynamigrate.rule import APPLICATION_SEQ, APPLIED, FAILED, PARKED, VersionRule

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_dynamodb import DynamoDBClient

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform

FALLBACK_READS = "DualFallbackReads"
STRICT_MISSES = "DualStrictMisses"
COPIES = "DualCopies"
CONFLICT_RETRIES = 8
# Application pins outlive the replicator's tombstones: they must last until the old table is retired.
DEFAULT_PIN_SECONDS = 90 * 86400
_EXISTS_NAME = "#dynamigrate_key"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attribute_values(values: Mapping[str, Any]) -> Item:
    """Plain Python values (``boto3.resource`` form) to DynamoDB attribute values (client form)."""
    return {name: dict(_serializer.serialize(value)) for name, value in values.items()}


def from_attribute_values(item: Item) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}  # type: ignore[arg-type]


class _Absent(Exception):
    """The write depends on the item, and the new table does not hold it (yet)."""


class DualTable:
    """One table being moved to a new key schema, as the application sees it (see the module docstring)."""

    def __init__(
        self,
        client: DynamoDBClient,
        rule: VersionRule,
        *,
        old_table: str,
        transform: Transform | None = None,
        old_client: DynamoDBClient | None = None,
        strict: bool = False,
        pin_seconds: int = DEFAULT_PIN_SECONDS,
        metrics: Any | None = None,
        logger: logging.Logger | Any | None = None,
    ) -> None:
        self.client = client
        self.rule = rule
        self.table = rule.target.name
        self.old_table = old_table
        self.old_client = old_client or client
        self.transform = transform
        self.strict = strict
        self.pin_seconds = pin_seconds
        self.metrics = metrics  # anything with Powertools' add_metric(name=, unit=, value=)
        self.log = logger or logging.getLogger(__name__)
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        client: DynamoDBClient,
        *,
        table: str,
        old_table: str,
        ledger_table: str,
        transform: Transform | str | None = None,
        version_attribute: str | None = None,
        **kwargs: Any,
    ) -> DualTable:
        """Build from the new table's key schema (``DescribeTable``); ``transform`` may be a spec to load."""
        rule = VersionRule.for_table(
            client,
            table,
            ledger_table=ledger_table,
            version_attribute=version_attribute,
            retention_seconds=int(kwargs.get("pin_seconds", DEFAULT_PIN_SECONDS)),
            setting="table",
        )
        if isinstance(transform, str):
            from dynamigrate.transforms import load  # noqa: PLC0415 - only when given as a spec

            transform = load(transform)
        return cls(client, rule, old_table=old_table, transform=transform, **kwargs)

    # ---------------------------------------------------------------- reads --

    def get_item(
        self, *, Key: Mapping[str, Any], OldKey: Mapping[str, Any] | None = None, ConsistentRead: bool = False
    ) -> dict[str, Any]:
        """``{"Item": item, "Table": the table that answered}``, or ``{}`` when neither table holds the item."""
        key = self._key(Key)
        item = self._get(self.client, self.table, key, consistent=ConsistentRead)
        if item is not None:
            return {"Item": from_attribute_values(item), "Table": self.table}
        if self.strict:
            self._count(STRICT_MISSES)
            self.log.warning("dual-access miss after cutover", extra={"table": self.table, "key": describe_key(key)})
            return {}
        old_key = self._old_key(OldKey)
        row = self._get(self.client, self.rule.ledger_table, {"pk": {"S": ledger_id(key)}}, consistent=True)
        if row is not None:  # written or deleted in the new table (by the application or replication): it is the truth
            if ConsistentRead or row.get("deleted") == {"BOOL": True}:
                return {}
            item = self._get(self.client, self.table, key, consistent=True)  # the first read may have been stale
            return {"Item": from_attribute_values(item), "Table": self.table} if item is not None else {}
        old = self._get(self.old_client, self.old_table, old_key, consistent=ConsistentRead)
        if old is None:
            return {}
        self._count(FALLBACK_READS)
        return {"Item": from_attribute_values(self._transformed(old, key, old_key)), "Table": self.old_table}

    # --------------------------------------------------------------- writes --

    def put_item(
        self,
        *,
        Item: Mapping[str, Any],
        OldKey: Mapping[str, Any] | None = None,
        ConditionExpression: str | None = None,
        ExpressionAttributeNames: Mapping[str, str] | None = None,
        ExpressionAttributeValues: Mapping[str, Any] | None = None,
    ) -> None:
        item = to_attribute_values(Item)
        key = key_of(item, self.rule.target.key_names)
        self._key_types(key)
        version = self.rule.version_attribute
        if version and version not in item:
            raise ValueError(
                f"attribute mode: every write must set the version attribute {version!r} "
                f"(the item {describe_key(key)} does not), or a lagging replicated change could overwrite it"
            )
        action = {"Put": {"TableName": self.table, "Item": item}}
        self._write(
            "PutItem",
            key,
            action,
            old_key=OldKey,
            condition=ConditionExpression,
            names=ExpressionAttributeNames,
            values=ExpressionAttributeValues,
            deleted=False,
        )

    def update_item(
        self,
        *,
        Key: Mapping[str, Any],
        UpdateExpression: str,
        OldKey: Mapping[str, Any] | None = None,
        ConditionExpression: str | None = None,
        ExpressionAttributeNames: Mapping[str, str] | None = None,
        ExpressionAttributeValues: Mapping[str, Any] | None = None,
    ) -> None:
        key = self._key(Key)
        version = self.rule.version_attribute
        if version and version not in UpdateExpression and version not in (ExpressionAttributeNames or {}).values():
            raise ValueError(
                f"attribute mode: every update must set the version attribute {version!r}, "
                "or a lagging replicated change could overwrite it"
            )
        action = {"Update": {"TableName": self.table, "Key": key, "UpdateExpression": UpdateExpression}}
        self._write(
            "UpdateItem",
            key,
            action,
            old_key=OldKey,
            condition=ConditionExpression,
            names=ExpressionAttributeNames,
            values=ExpressionAttributeValues,
            deleted=False,
            depends_on_item=True,
        )

    def delete_item(
        self,
        *,
        Key: Mapping[str, Any],
        OldKey: Mapping[str, Any] | None = None,
        ConditionExpression: str | None = None,
        ExpressionAttributeNames: Mapping[str, str] | None = None,
        ExpressionAttributeValues: Mapping[str, Any] | None = None,
    ) -> None:
        """Delete from the new table; the ledger row keeps replication and the bulk copy from bringing it back."""
        key = self._key(Key)
        action = {"Delete": {"TableName": self.table, "Key": key}}
        self._write(
            "DeleteItem",
            key,
            action,
            old_key=OldKey,
            condition=ConditionExpression,
            names=ExpressionAttributeNames,
            values=ExpressionAttributeValues,
            deleted=True,
        )

    def _write(
        self,
        operation: str,
        key: Item,
        action: dict[str, dict[str, Any]],
        *,
        old_key: Mapping[str, Any] | None,
        condition: str | None,
        names: Mapping[str, str] | None,
        values: Mapping[str, Any] | None,
        deleted: bool,
        depends_on_item: bool = False,
    ) -> None:
        """At most two transactions: guarded by "the item exists", then (after copying it) not."""
        guarded = depends_on_item or condition is not None
        if guarded and not self.strict:
            self._old_key(old_key)  # fail before writing anything when it cannot be copied
        body = next(iter(action.values()))
        if values:
            body["ExpressionAttributeValues"] = to_attribute_values(values)
        if names:
            body["ExpressionAttributeNames"] = dict(names)
        for _attempt in range(2):  # the second is never guarded, so it cannot end "absent"
            request = {kind: dict(part) for kind, part in action.items()}
            part = next(iter(request.values()))
            if guarded:
                exists = f"attribute_exists({_EXISTS_NAME})"
                part["ConditionExpression"] = f"{exists} AND ({condition})" if condition else exists
                part["ExpressionAttributeNames"] = {**(names or {}), _EXISTS_NAME: self.rule.target.key_names[0]}
                part["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            elif condition:
                part["ConditionExpression"] = condition
                part["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
            try:
                self._transact(operation, key, request, deleted=deleted, guarded=guarded)
                return
            except _Absent:
                guarded = False
                if self.strict:
                    self._count(STRICT_MISSES)
                    self.log.warning(
                        "dual-access write to an item missing after cutover",
                        extra={"table": self.table, "key": describe_key(key), "operation": operation},
                    )
                else:
                    self._copy(key, self._old_key(old_key))
        raise AssertionError("unreachable")  # pragma: no cover

    def _transact(self, operation: str, key: Item, action: dict[str, Any], *, deleted: bool, guarded: bool) -> None:
        """One transaction: pin the key's ledger row, and the write; conditions failing as the plain call would."""
        pin = {
            "Put": {
                "TableName": self.rule.ledger_table,
                "Item": {
                    "pk": {"S": ledger_id(key)},
                    "seq": {"S": APPLICATION_SEQ},
                    "deleted": {"BOOL": deleted},
                    "expires_at": {"N": str(int(time.time()) + self.pin_seconds)},
                    "key": {"M": key},
                },
            }
        }
        for attempt in range(CONFLICT_RETRIES):
            try:
                # The token makes botocore's own retries of this call idempotent (an ADD is not applied twice).
                self.client.transact_write_items(
                    TransactItems=[pin, action],  # type: ignore[list-item]
                    ClientRequestToken=str(uuid.uuid4()),
                )
                return
            except ClientError as exc:
                reasons = exc.response.get("CancellationReasons") or []
                codes = [reason.get("Code", "None") for reason in reasons]
                if "TransactionConflict" in codes and attempt + 1 < CONFLICT_RETRIES:
                    time.sleep(min(1.0, 0.02 * 2**attempt) * random.random())
                    continue
                if len(reasons) == 2 and codes[1] == "ConditionalCheckFailed":
                    held: Item | None = reasons[1].get("Item")  # type: ignore[assignment]
                    if guarded and held is None:
                        raise _Absent from exc
                    message = "The conditional request failed"
                    raise self._plain_error(operation, "ConditionalCheckFailedException", message, held) from exc
                for code, reason in zip(codes, reasons, strict=False):
                    if code not in ("None", "ConditionalCheckFailed", ""):
                        plain = "ValidationException" if code == "ValidationError" else code
                        raise self._plain_error(operation, plain, str(reason.get("Message", "")), None) from exc
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _copy(self, key: Item, old_key: Item) -> None:
        """Copy the item from the old table unless the new table already has it (or a write to its key)."""
        old = self._get(self.old_client, self.old_table, old_key, consistent=True)
        if old is None:
            return  # nothing to copy: the write applies to no item, as it would in one table
        result = execute(self.client, self.rule.plan_copy(self._transformed(old, key, old_key)))
        if result.outcome == APPLIED:
            self._count(COPIES)
        elif result.outcome in (FAILED, PARKED):
            raise RuntimeError(
                f"copying {describe_key(old_key)} from {self.old_table} to {self.table} failed: {result.reason}"
            )
        # exists or tombstoned: another process copied it or wrote the key first; the retry sees that

    # -------------------------------------------------------------- helpers --

    def _get(self, client: DynamoDBClient, table: str, key: Item, *, consistent: bool) -> Item | None:
        response: dict[str, Any] = dict(client.get_item(TableName=table, Key=key, ConsistentRead=consistent))
        return response.get("Item")

    def _key(self, key: Mapping[str, Any]) -> Item:
        values = to_attribute_values(key)
        self._key_types(values)
        return values

    def _key_types(self, key: Item) -> None:
        validate_key_types(key, self.rule.target.key_types)

    def _old_key(self, old_key: Mapping[str, Any] | None) -> Item:
        if old_key is None:
            raise ValueError(
                f"OldKey is required until cutover: the item may still be only in {self.old_table} "
                "(pass its key there, or set strict=True once the old table is no longer read)"
            )
        return to_attribute_values(old_key)

    def _transformed(self, old: Item, key: Item, old_key: Item) -> Item:
        item = self.transform(old) if self.transform is not None else old
        mapped = key_of(item, self.rule.target.key_names)
        if canonical_key(mapped) != canonical_key(key):
            raise ValueError(
                f"OldKey {describe_key(old_key)} is the item {describe_key(mapped)} in {self.table}, "
                f"not {describe_key(key)}: the call passes the keys of two different items"
            )
        return item

    def _plain_error(self, operation: str, code: str, message: str, item: Item | None) -> ClientError:
        """The error the single-table call would have raised, so ``client.exceptions.<code>`` catches it."""
        response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
        if item is not None:
            response["Item"] = item
        error_class: Any = self.client.exceptions.from_code(code)  # a ClientError subclass (ClientError if unknown)
        error: ClientError = error_class(response, operation)
        return error

    def _count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1
        if self.metrics is not None:
            self.metrics.add_metric(name=name, unit="Count", value=1)


__all__ = ["COPIES", "FALLBACK_READS", "STRICT_MISSES", "DualTable", "from_attribute_values", "to_attribute_values"]
