"""The version rule: which of two writes to one item wins, whatever the arrival order.

Used identically by the replication writer, the bulk copy and (later) the
reverse path, so a change, a copied item and a replayed change are all judged
the same way. Pure: this module builds DynamoDB request parameters and never
calls AWS. ``docs/version-rule.md`` explains the design; in short:

* **stream mode** (no ``version_attribute``): changes are ordered by their
  stream sequence number. The ledger table (owned by the replicator, never the
  application's table) holds, per item key, the last applied sequence number
  and whether it was a delete. Each change is ONE ``TransactWriteItems``:
  advance the ledger row if our sequence number is higher, and write or delete
  the item. Application items never carry helper attributes.
* **attribute mode** (``version_attribute`` names the application's own
  last-modified timestamp or counter): the item's version decides. A change
  to an item that exists is ONE conditional ``PutItem``; only an item absent
  from the target (a first insert, or an update arriving before its insert)
  needs a transaction that also checks the ledger's tombstone for that key.
* **deletes** leave a tombstone in the ledger (the delete's sequence number or
  the deleted item's version) that expires after ``retention_seconds``, so a
  late, older write cannot resurrect the item, while a newer re-insert wins.
  A change older than the retention window can no longer be ordered safely and
  is parked instead of applied.
* **bulk copy** writes an item only when the target has neither the item nor
  a ledger entry for it (stream mode), or when it is newer than both (attribute
  mode): it never overwrites a replicated change and never resurrects a delete.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from dynamigrate.changes import SEQ_WIDTH, Change, validate_key_types
from dynamigrate.ddbjson import AttributeValue, InvalidItemError, Item, key_of, ledger_id, to_client

# Outcomes of one planned write.
APPLIED = "applied"  # the write happened
STALE = "stale"  # the target (or ledger) already holds this change or a newer one
TOMBSTONED = "tombstoned"  # a newer delete blocks it: resurrection prevented
EXISTS = "exists"  # bulk copy skipped: the item (or a change to it) is already there
PARKED = "parked"  # can never apply: written to the dead-letter place with a reason
FAILED = "failed"  # transient failure after retries: the batch is retried

SKIPPED_OUTCOMES = frozenset({STALE, TOMBSTONED, EXISTS})

# The ledger sequence number of a key the application itself wrote in the target (``dynamigrate.dual``):
# above every stream sequence number, so no replicated change and no bulk copy passes it in either mode
# (attribute mode compares ``v``, which such a row does not have). docs/dual-access.md explains why.
APPLICATION_SEQ = "9" * SEQ_WIDTH

Transform = Callable[[Item], Item]


def _unchanged(item: Item) -> Item:
    return item


class UnorderableChangeError(InvalidItemError):
    """A change the rule cannot order (no version, or older than the retention window)."""


@dataclass(frozen=True)
class TableSchema:
    """Name and key attributes (name -> S/N/B, hash key first) of a table."""

    name: str
    key_types: dict[str, str]

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(self.key_types)

    @classmethod
    def from_description(cls, table: dict[str, Any]) -> TableSchema:
        """Build from ``DescribeTable``'s ``Table`` member."""
        types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
        ordered = sorted(table["KeySchema"], key=lambda k: 0 if k["KeyType"] == "HASH" else 1)
        return cls(name=table["TableName"], key_types={k["AttributeName"]: types[k["AttributeName"]] for k in ordered})


@dataclass(slots=True)  # not frozen: frozen dataclasses build slowly, and this is the hot path
class TargetChange:
    """A change expressed in the target table's terms (after any transform).

    ``key``, ``item`` and ``version`` are in boto3 client form (binaries as
    bytes), converted once; ``ident`` is the key's ledger id.
    """

    key: Item
    item: Item | None  # None for a delete
    seq: str
    ts: float
    version: AttributeValue | None
    op: str
    ident: str
    ttl: bool = False

    @property
    def is_delete(self) -> bool:
        return self.item is None


@dataclass(slots=True)  # not frozen: frozen dataclasses build slowly, and this is the hot path
class Write:
    """One planned request: boto3 client method name and keyword arguments.

    ``labels`` names the outcome when the condition of each part fails (one
    label per TransactItem, or one for a single-item call). ``fallback``
    builds the request to send when a conditional put finds the item absent
    (built only then: most updates find their item).
    """

    method: str
    params: dict[str, Any]
    labels: tuple[str, ...]
    key: Item
    fallback: Callable[[], Write] | None = None
    note: str = field(default="")


@dataclass(frozen=True)
class VersionRule:
    target: TableSchema
    ledger_table: str
    version_attribute: str | None = None
    retention_seconds: int = 14 * 86400
    _clock: dict[int, tuple[dict[str, str], dict[str, str]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def for_table(
        cls,
        client: Any,
        table: str,
        *,
        ledger_table: str,
        version_attribute: str | None,
        retention_seconds: int,
        setting: str = "TARGET_TABLE_NAME",
    ) -> VersionRule:
        """The rule for ``table``, from its key schema (``DescribeTable``); a clear error if it cannot be read."""
        try:
            description = client.describe_table(TableName=table)["Table"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise RuntimeError(
                f"cannot describe target table {table} ({code}): create it in this account and "
                f"region, or fix {setting} / the role's dynamodb:DescribeTable permission"
            ) from exc
        return cls(
            target=TableSchema.from_description(dict(description)),
            ledger_table=ledger_table,
            version_attribute=version_attribute,
            retention_seconds=retention_seconds,
        )

    def _times(self, now: float) -> tuple[dict[str, str], dict[str, str]]:
        """(now, expiry) as DynamoDB numbers; computed once per second, not once per change."""
        second = int(now)
        cached = self._clock.get(second)
        if cached is None:
            self._clock.clear()
            cached = self._clock[second] = ({"N": str(second)}, {"N": str(second + self.retention_seconds)})
        return cached

    @property
    def mode(self) -> str:
        return "attribute" if self.version_attribute else "stream"

    @property
    def max_change_age_seconds(self) -> float:
        """Changes older than this are parked: their tombstones may have expired."""
        return self.retention_seconds - min(86400.0, self.retention_seconds / 10)

    # ------------------------------------------------------------ changes --

    def target_change(self, change: Change, transform: Transform | None = None) -> TargetChange:
        """Map a captured change onto the target table, checking keys and version."""
        if change.is_delete:
            image = change.old
            if transform is not None:
                if image is None:
                    raise InvalidItemError("a REMOVE without its old image cannot be transformed to the new key")
                key = key_of(transform(image), self.target.key_names)
            else:
                key = change.keys
            item = None
        else:
            assert change.new is not None
            item = transform(change.new) if transform is not None else change.new
            image = item
            key = key_of(item, self.target.key_names) if transform is not None else change.keys
        validate_key_types(key, self.target.key_types)
        if len(key) != len(self.target.key_types):
            extra = sorted(set(key) - set(self.target.key_types))
            raise InvalidItemError(
                f"key has attributes {extra} that are not in the target table's key schema "
                f"{list(self.target.key_types)}: configure a transform or fix the target table"
            )
        version = None
        if self.version_attribute:
            version = (image or {}).get(self.version_attribute)
            if version is None:
                raise UnorderableChangeError(
                    f"{change.op} of this item has no version attribute {self.version_attribute!r}: attribute "
                    "mode needs every write to set it. Fix the application, or use stream ordering "
                    "(version_attribute = null); then replay the parked change"
                )
        convert = to_client if change.binary or transform is not None else _unchanged
        return TargetChange(
            key=convert(key),
            item=convert(item) if item is not None else None,
            seq=change.seq,
            ts=change.ts,
            version=convert({"v": version})["v"] if version is not None else None,
            op=change.op,
            ident=ledger_id(key),
            ttl=change.ttl,
        )

    def plan_change(self, change: TargetChange, now: float | None = None) -> Write:
        now = time.time() if now is None else now
        if now - change.ts > self.max_change_age_seconds:
            raise UnorderableChangeError(
                f"change is {int((now - change.ts) / 3600)} h old, beyond the ledger retention "
                f"({self.retention_seconds // 3600} h): tombstones that would order it may have expired. "
                "Check the item by hand and replay with a longer retention if it must apply"
            )
        if self.version_attribute:
            return self._plan_attribute_change(change, now)
        return self._plan_stream_change(change, now)

    def _plan_stream_change(self, change: TargetChange, now: float) -> Write:
        ledger_row = {
            "pk": {"S": change.ident},
            "seq": {"S": change.seq},
            "deleted": {"BOOL": change.is_delete},
            "expires_at": self._times(now)[1],
            "key": {"M": change.key},
        }
        ledger_put = {
            "Put": {
                "TableName": self.ledger_table,
                "Item": ledger_row,
                "ConditionExpression": "attribute_not_exists(pk) OR seq < :seq OR expires_at < :now",
                "ExpressionAttributeValues": {":seq": {"S": change.seq}, ":now": self._times(now)[0]},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        if change.item is None:
            apply: dict[str, Any] = {"Delete": {"TableName": self.target.name, "Key": change.key}}
        else:
            apply = {"Put": {"TableName": self.target.name, "Item": change.item}}
        return Write(
            method="transact_write_items",
            params={"TransactItems": [ledger_put, apply]},
            labels=(STALE, STALE),
            key=change.key,
        )

    def _plan_attribute_change(self, change: TargetChange, now: float) -> Write:
        assert self.version_attribute is not None and change.version is not None
        names = {"#k": self.target.key_names[0], "#v": self.version_attribute}
        version = change.version
        if change.item is None:
            tombstone = {
                "pk": {"S": change.ident},
                "v": version,
                "deleted": {"BOOL": True},
                "expires_at": self._times(now)[1],
                "key": {"M": change.key},
            }
            return Write(
                method="transact_write_items",
                params={
                    "TransactItems": [
                        {
                            "Put": {
                                "TableName": self.ledger_table,
                                "Item": tombstone,
                                "ConditionExpression": "attribute_not_exists(pk) OR v < :v OR expires_at < :now",
                                "ExpressionAttributeValues": {":v": version, ":now": self._times(now)[0]},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        },
                        {
                            "Delete": {
                                "TableName": self.target.name,
                                "Key": change.key,
                                "ConditionExpression": (
                                    "attribute_not_exists(#k) OR attribute_not_exists(#v) OR #v <= :v"
                                ),
                                "ExpressionAttributeNames": names,
                                "ExpressionAttributeValues": {":v": version},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            }
                        },
                    ]
                },
                labels=(STALE, STALE),
                key=change.key,
            )
        item = change.item

        def insert() -> Write:
            return self._attribute_insert(change.key, item, version=version, now=now, names=names, ident=change.ident)

        if change.op == "INSERT":
            return insert()
        # The common case: the item is already in the target. One conditional put.
        return Write(
            method="put_item",
            params={
                "TableName": self.target.name,
                "Item": item,
                "ConditionExpression": "attribute_exists(#k) AND (attribute_not_exists(#v) OR #v < :v)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {":v": version},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            labels=(STALE,),
            key=change.key,
            fallback=insert,
        )

    def _attribute_insert(
        self, key: Item, item: Item, *, version: AttributeValue, now: float, names: dict[str, str], ident: str
    ) -> Write:
        """Put an item that may be absent: newer than any tombstone and any present version."""
        return self._guarded(
            key,
            ident,
            {
                "ConditionExpression": "attribute_not_exists(pk) OR v < :v OR expires_at < :now",
                "ExpressionAttributeValues": {":v": version, ":now": self._times(now)[0]},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            {
                "Put": {
                    "TableName": self.target.name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(#k) OR attribute_not_exists(#v) OR #v < :v",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {":v": version},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            labels=(TOMBSTONED, STALE),
        )

    def _guarded(
        self, key: Item, ident: str, ledger_check: dict[str, Any], action: dict[str, Any], *, labels: tuple[str, str]
    ) -> Write:
        """One transaction, the shape of every guarded write: a check of the key's ledger row, then the action."""
        check = {"TableName": self.ledger_table, "Key": {"pk": {"S": ident}}, **ledger_check}
        return Write(
            method="transact_write_items",
            params={"TransactItems": [{"ConditionCheck": check}, action]},
            labels=labels,
            key=key,
        )

    # -------------------------------------------------------------- copies --

    def plan_copy(self, item: Item, now: float | None = None) -> Write:
        """Plan the bulk copy of one item read from the source (already transformed).

        ``item`` is in boto3 client form (binaries as bytes), as a Scan returns it.
        """
        now = time.time() if now is None else now
        key = key_of(item, self.target.key_names)
        validate_key_types(key, self.target.key_types)
        names = {"#k": self.target.key_names[0]}
        version = item.get(self.version_attribute) if self.version_attribute else None
        if version is not None:
            assert self.version_attribute is not None
            names = {**names, "#v": self.version_attribute}
            write = self._attribute_insert(key, item, version=version, now=now, names=names, ident=ledger_id(key))
            return Write(write.method, write.params, labels=(TOMBSTONED, EXISTS), key=key)
        return self._guarded(
            key,
            ledger_id(key),
            {
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                "ExpressionAttributeValues": {":now": self._times(now)[0]},
            },
            {
                "Put": {
                    "TableName": self.target.name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(#k)",
                    "ExpressionAttributeNames": names,
                }
            },
            labels=(EXISTS, EXISTS),
        )

    # ------------------------------------------------------------- repairs --

    def plan_repair(self, key: Item, want: Item | None, held: Item | None, ledger: Item | None) -> Write:
        """Make the target hold ``want`` for ``key`` (None: no item), if nothing moved since it was read.

        ``held`` and ``ledger`` are the target item and ledger row as read
        (strongly consistent) when the difference was confirmed; the write is
        conditional on both being unchanged, so a repair never overwrites a
        change replication applied meanwhile (it is then ``stale`` and the
        next verify looks again). In stream mode every replicated write moves
        the ledger row; in attribute mode updates of present items move only
        the item's version, so that is checked too. All values in boto3
        client form.
        """
        names: dict[str, str] = {"#k": self.target.key_names[0]}
        values: dict[str, Any] = {}
        field_name = next((f for f in ("seq", "v") if ledger and f in ledger), None)
        if ledger is None or field_name is None:
            ledger_condition = "attribute_not_exists(pk)"
            check: dict[str, Any] = {}
        else:
            ledger_condition = "#f = :f"
            check = {
                "ExpressionAttributeNames": {"#f": field_name},
                "ExpressionAttributeValues": {":f": ledger[field_name]},
            }
        if held is None:
            target_condition = "attribute_not_exists(#k)"
        elif self.version_attribute and self.version_attribute in held:
            names = {"#v": self.version_attribute}  # DynamoDB rejects unused names
            values[":held"] = held[self.version_attribute]
            target_condition = "#v = :held"
        elif self.version_attribute:
            names["#v"] = self.version_attribute
            target_condition = "attribute_exists(#k) AND attribute_not_exists(#v)"
        else:
            target_condition = "attribute_exists(#k)"
        body: dict[str, Any] = {
            "TableName": self.target.name,
            "ConditionExpression": target_condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            body["ExpressionAttributeValues"] = values
        action = {"Put": {**body, "Item": want}} if want is not None else {"Delete": {**body, "Key": key}}
        return self._guarded(
            key, ledger_id(key), {"ConditionExpression": ledger_condition, **check}, action, labels=(STALE, STALE)
        )


def application_owned(ledger_row: Item | None) -> bool:
    """Whether a ledger row says the application wrote (or deleted) the key in the target: the target is its truth."""
    return ledger_row is not None and ledger_row.get("seq") == {"S": APPLICATION_SEQ}


def seq_from_int(value: int) -> str:
    return str(value).zfill(SEQ_WIDTH)
