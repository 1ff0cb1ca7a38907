"""One migration as the CLI sees it: the Terraform manifest, and the state record the tool owns.

The manifest is the root module's ``migration`` output (``terraform output
-json migration > migration.json``): names and ARNs of everything deployed in
both accounts. The CLI reads it instead of asking for a dozen flags.

The state record says where the migration stands in the runbook. It is one
item in the migration's ledger table (target account), ``pk =
"migration-state"`` — a ledger id never collides with it: a key's canonical
form always holds ``:`` and a hashed id is 43 characters. Every change is a
conditional write on the record's ``revision``, so two operators cannot both
advance the migration, and the record keeps a history of what was done, when,
by whom.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_dynamodb import DynamoDBClient

STATE_KEY = "migration-state"
HISTORY_LIMIT = 100

# The runbook, in order (docs/cutover.md). Each step is done once; `rollback`
# is recorded beside them, not as a step.
STEPS = (
    "preflight",
    "capture",
    "bulk-copy",
    "replay",
    "verify",
    "reverse",
    "switch",
    "watch",
    "decommission",
)


class ManifestError(ValueError):
    """The migration file is missing or is not the Terraform ``migration`` output."""


class StateConflictError(RuntimeError):
    """Someone else changed the state record since it was read."""


@dataclass(frozen=True)
class Side:
    account_id: str
    region: str
    table_name: str
    function_name: str
    raw: dict[str, Any]

    def get(self, name: str) -> str | None:
        value = self.raw.get(name)
        return None if value is None else str(value)

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise ManifestError(f"the migration file has no {name} for this side: re-export `terraform output`")
        return value


@dataclass(frozen=True)
class Manifest:
    name: str
    version_attribute: str | None
    source: Side
    target: Side
    transform: str | None = None
    transport: str = "s3"  # or "direct": the writer reads the source stream, no change log or queue

    @property
    def direct(self) -> bool:
        return self.transport == "direct"

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ManifestError(
                f"{path} does not exist: write it with `terraform output -json migration > {path}` "
                "in the folder where you applied the module"
            ) from exc
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"{path} is not JSON ({exc}): write it with `terraform output -json migration`"
            ) from exc
        return cls.from_output(data, str(path))

    @classmethod
    def from_output(cls, data: Any, where: str = "the migration output") -> Manifest:
        if isinstance(data, dict) and "migration" in data and isinstance(data["migration"], dict):
            data = data["migration"].get("value", data["migration"])  # the whole `terraform output -json`
        if isinstance(data, dict) and "value" in data and "sensitive" in data:
            data = data["value"]
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("source"), dict)
            or not isinstance(data.get("target"), dict)
        ):
            raise ManifestError(f"{where} is not the module's `migration` output (no source and target objects)")
        transport = str(data.get("transport") or "s3")
        sides = []
        for role in ("source", "target"):
            raw = data[role]
            needed = ["account_id", "region", "table_name"]
            if role == "target" or transport == "s3":  # the direct transport has no source function
                needed.append("function_name")
            missing = [k for k in needed if not raw.get(k)]
            if missing:
                raise ManifestError(f"{where}: {role} lacks {', '.join(missing)}; re-export `terraform output`")
            function = str(raw.get("function_name") or "")
            sides.append(Side(str(raw["account_id"]), str(raw["region"]), raw["table_name"], function, raw))
        return cls(
            name=str(data.get("name") or "default"),
            version_attribute=data.get("version_attribute") or None,
            source=sides[0],
            target=sides[1],
            transform=data.get("transform") or None,
            transport=transport,
        )

    @property
    def ledger_table(self) -> str:
        return self.target.require("ledger_table_name")


@dataclass
class State:
    """Where the migration stands: the steps done (with when and what), the last verify, a history."""

    migration: str
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_verify: dict[str, Any] | None = None
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    revision: int = 0

    @property
    def current(self) -> str | None:
        """The next step to do (None when every step is done)."""
        return next((step for step in STEPS if step not in self.done), None)

    @property
    def last_done(self) -> str | None:
        return next((step for step in reversed(STEPS) if step in self.done), None)

    def record(self, step: str, detail: dict[str, Any], *, by: str, at: float | None = None) -> None:
        at = time.time() if at is None else at
        entry = {"step": step, "at": at, "by": by, **detail}
        if step in STEPS:
            self.done[step] = entry
        self.history = [*self.history, entry][-HISTORY_LIMIT:]

    def as_dict(self) -> dict[str, Any]:
        return {
            "migration": self.migration,
            "done": self.done,
            "last_verify": self.last_verify,
            "rollbacks": self.rollbacks,
            "history": self.history,
        }


class StateStore:
    """The state record in the ledger table, read and written with optimistic locking."""

    def __init__(self, dynamodb: DynamoDBClient, ledger_table: str, migration: str) -> None:
        self.dynamodb = dynamodb
        self.table = ledger_table
        self.migration = migration

    def load(self) -> State:
        item = self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": STATE_KEY}}, ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return State(self.migration)
        body = json.loads(item["state"]["S"])
        if body.get("migration") != self.migration:
            raise StateConflictError(
                f"ledger table {self.table} holds the state of migration {body.get('migration')!r}, "
                f"not {self.migration!r}: is the migration file from another deployment?"
            )
        return State(
            migration=self.migration,
            done=body.get("done") or {},
            last_verify=body.get("last_verify"),
            rollbacks=body.get("rollbacks") or [],
            history=body.get("history") or [],
            revision=int(item["revision"]["N"]),
        )

    def save(self, state: State) -> None:
        """Write ``state`` if nobody wrote since it was loaded; bump its revision."""
        condition = "attribute_not_exists(pk)" if state.revision == 0 else "revision = :seen"
        values = {} if state.revision == 0 else {":seen": {"N": str(state.revision)}}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": STATE_KEY},
                    "state": {"S": json.dumps(state.as_dict(), default=str)},
                    "revision": {"N": str(state.revision + 1)},
                    "updated_at": {"N": str(int(time.time()))},
                },
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StateConflictError(
                    "the migration's state changed while this command ran (another operator?): run it again"
                ) from exc
            raise
        state.revision += 1


__all__ = ["STEPS", "Manifest", "ManifestError", "Side", "State", "StateConflictError", "StateStore"]
