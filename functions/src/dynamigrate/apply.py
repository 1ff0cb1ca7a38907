"""Send planned writes to DynamoDB and classify what happened.

Each write ends as exactly one outcome (see ``rule``): applied, stale,
tombstoned, exists, parked (can never apply, with the reason) or failed
(transient, after retries). Throttling and server errors are retried by
botocore's adaptive retry mode; transaction conflicts, which botocore does not
retry, are retried here with jittered backoff. Errors that mean the
deployment itself is wrong (missing table, missing permission) are raised as
``DeploymentError`` so the whole batch fails loudly instead of parking every
record.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from dynamigrate.rule import APPLIED, FAILED, PARKED, STALE, TOMBSTONED, Write

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb import DynamoDBClient

    from dynamigrate.ddbjson import Item

# Error codes that mean "this record can never be written as it is".
PERMANENT_CODES = frozenset(
    {
        "ValidationException",
        "SerializationException",
        "ItemCollectionSizeLimitExceededException",
    }
)
# Error codes that mean "the deployment is wrong": fail the batch, alarm, fix, redrive.
DEPLOYMENT_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "MissingAuthenticationTokenException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
    }
)
CONFLICT_RETRIES = 8
CONFLICT_SAMPLES = 3


class DeploymentError(RuntimeError):
    """A failure no record can fix: a table or permission is missing."""


@dataclass(slots=True)  # not frozen: frozen dataclasses build slowly, and this is the hot path
class Result:
    outcome: str
    key: Item
    reason: str = ""


@dataclass
class Tally:
    """Counts of outcomes, plus the records that did not apply and why."""

    counts: Counter[str] = field(default_factory=Counter)
    parked: list[Result] = field(default_factory=list)
    failed: list[Result] = field(default_factory=list)
    conflicts: list[Result] = field(default_factory=list)  # a few stale/tombstoned samples, for the log

    def add(self, result: Result) -> None:
        self.counts[result.outcome] += 1
        if result.outcome == PARKED:
            self.parked.append(result)
        elif result.outcome == FAILED:
            self.failed.append(result)
        elif result.outcome in (STALE, TOMBSTONED) and len(self.conflicts) < CONFLICT_SAMPLES:
            self.conflicts.append(result)

    def merge(self, other: Tally) -> None:
        self.counts.update(other.counts)
        self.parked.extend(other.parked)
        self.failed.extend(other.failed)
        self.conflicts.extend(other.conflicts[: max(0, CONFLICT_SAMPLES - len(self.conflicts))])


def execute(client: DynamoDBClient, write: Write) -> Result:
    """Send one planned write (and its fallback if the item turned out absent)."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            getattr(client, write.method)(**write.params)
            return Result(APPLIED, write.key)
        except ClientError as exc:
            outcome = _classify(exc, write)
            if outcome == "retry" and attempt + 1 < CONFLICT_RETRIES:
                time.sleep(min(1.0, 0.02 * 2**attempt) * random.random())
                continue
            if outcome == "fallback":
                assert write.fallback is not None
                return execute(client, write.fallback())
            if outcome == "retry":
                return Result(FAILED, write.key, "transaction conflicts persisted after retries")
            if outcome.startswith("error:"):
                return _error_result(exc, write)
            return Result(outcome, write.key, _winner(exc))
        except ParamValidationError as exc:
            return Result(PARKED, write.key, f"invalid request: {exc}")
        except BotoCoreError as exc:
            return Result(FAILED, write.key, f"{type(exc).__name__}: {exc}")
    raise AssertionError("unreachable")  # pragma: no cover


def _classify(exc: ClientError, write: Write) -> str:
    """Map an error to an outcome label, 'retry', 'fallback' or 'error:<code>'."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        if write.fallback is not None and "Item" not in exc.response:
            return "fallback"
        return write.labels[0]
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        codes = [r.get("Code", "None") for r in reasons]
        if "TransactionConflict" in codes:
            return "retry"
        for index, reason_code in enumerate(codes):
            if reason_code == "ConditionalCheckFailed":
                return write.labels[min(index, len(write.labels) - 1)]
        for reason_code in codes:
            if reason_code not in ("None", ""):
                return f"error:{reason_code}"
        return "retry"
    if code in ("TransactionConflictException", "TransactionInProgressException"):
        return "retry"
    return f"error:{code}"


def _error_result(exc: ClientError, write: Write) -> Result:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", str(exc))
    if code == "TransactionCanceledException":
        reasons = [r for r in exc.response.get("CancellationReasons") or [] if r.get("Code") not in (None, "None")]
        code = reasons[0].get("Code", code) if reasons else code
        message = reasons[0].get("Message", message) if reasons else message
        if code == "ValidationError":
            code = "ValidationException"
    table = write.params.get("TableName") or _first_table(write.params)
    if code in DEPLOYMENT_CODES:
        raise DeploymentError(
            f"{code} on table {table}: {message}. Check that the table exists in this account and region "
            "and that the function's role may write to it (see the README's troubleshooting section)"
        ) from exc
    if code in PERMANENT_CODES:
        return Result(PARKED, write.key, f"{code}: {message}")
    return Result(FAILED, write.key, f"{code}: {message}")


def _first_table(params: dict[str, Any]) -> str:
    for part in params.get("TransactItems", []):
        for body in part.values():
            return str(body.get("TableName", "?"))
    return "?"


def _winner(exc: ClientError) -> str:
    """Describe what the target already held when a condition failed (for logs)."""
    item: Any = exc.response.get("Item")
    if item is None:
        for reason in exc.response.get("CancellationReasons") or []:
            if reason.get("Item"):
                item = reason["Item"]
                break
    if not item:
        return ""
    shown = {k: item[k] for k in ("seq", "v", "deleted") if k in item}
    return f"target holds {shown}" if shown else "target holds a newer or equal item"


def execute_all(client: DynamoDBClient, writes: Iterable[Write], threads: int) -> Tally:
    """Run writes concurrently (they touch distinct keys) and tally the outcomes."""
    tally = Tally()
    writes = list(writes)
    if threads <= 1 or len(writes) <= 1:
        for write in writes:
            tally.add(execute(client, write))
        return tally
    with ThreadPoolExecutor(max_workers=min(threads, len(writes)), thread_name_prefix="apply") as pool:
        for result in pool.map(lambda w: execute(client, w), writes):
            tally.add(result)
    return tally
