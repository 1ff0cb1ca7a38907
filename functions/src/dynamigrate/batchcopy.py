"""Send many planned copies as few conditional requests: batched transactions.

The bulk copy must write each item conditionally (``VersionRule.plan_copy``:
a ledger check plus a conditional put), but one request per item is slow and
``BatchWriteItem`` takes no conditions. ``TransactWriteItems`` takes up to 100
actions (4 MB): so up to 50 planned copies travel in one request. When a
transaction is cancelled, DynamoDB says per action why
(``CancellationReasons``): copies whose condition failed get their outcome
(exists, tombstoned, stale), the innocent ones are sent again in the next
request, and transient reasons (conflict with a live write, throttling) are
retried with backoff. Most of a bulk copy succeeds first time, so a table is
copied in about 1/50 of the requests a per-item copy needs, with exactly the
same conditions. Write cost is the same: a transaction costs two write units
per KB per item whether it holds one item or fifty.

Anything the batch path cannot classify (a request-level validation error, a
deployment error) falls back to ``apply.execute`` for each copy on its own,
which parks, fails or raises exactly as the single-item path does.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from dynamigrate.apply import Result, execute
from dynamigrate.capacity import CapacityLimiter, consumed_units, write_units_estimate
from dynamigrate.ddbjson import item_size
from dynamigrate.rule import APPLIED, FAILED, PARKED, Write

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

MAX_ACTIONS = 100
MAX_REQUEST_BYTES = 4 * 1024 * 1024
ACTION_OVERHEAD_BYTES = 1024  # keys, expressions and names of one action, generously
TRANSIENT_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
PERMANENT_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})
THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


@dataclass
class BatchStats:
    requests: int = 0
    cancelled: int = 0
    fallbacks: int = 0


@dataclass
class TransactBatcher:
    """Write planned copies through batched ``TransactWriteItems`` (see the module docstring)."""

    client: DynamoDBClient
    target_table: str
    limiter: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(None))
    max_actions: int = MAX_ACTIONS
    max_bytes: int = MAX_REQUEST_BYTES
    retries: int = 8
    sleep: Callable[[float], None] = time.sleep
    stats: BatchStats = field(default_factory=BatchStats)

    def run(self, writes: list[Write]) -> list[Result]:
        """One result per write, in order."""
        results: list[Result | None] = [None] * len(writes)
        sizes = [self._size(w) for w in writes]
        attempts = [0] * len(writes)
        pending = list(range(len(writes)))
        for index in pending:
            if writes[index].method != "transact_write_items":
                results[index] = execute(self.client, writes[index])
        pending = [i for i in pending if results[i] is None]
        while pending:
            again: list[int] = []
            transient = False
            for batch in self._pack(writes, sizes, pending):
                retry, hit = self._send(writes, sizes, batch, results, attempts)
                again.extend(retry)
                transient = transient or hit
            pending = again
            if transient and pending:
                worst = max(attempts[i] for i in pending)
                self.sleep(min(2.0, 0.05 * 2**worst) * random.random())
        assert all(r is not None for r in results)  # every write ends in exactly one outcome
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------------

    def _size(self, write: Write) -> int:
        total = 0
        for action in write.params["TransactItems"]:
            body = next(iter(action.values()))
            total += ACTION_OVERHEAD_BYTES + (item_size(body["Item"]) if "Item" in body else 0)
        return total

    def _pack(self, writes: list[Write], sizes: list[int], pending: list[int]) -> list[list[int]]:
        """Group writes into requests of at most ``max_actions`` actions and ``max_bytes``, one action per item."""
        batches: list[list[int]] = []
        batch: list[int] = []
        actions = size = 0
        seen: set[str] = set()
        deferred: list[int] = []
        for index in pending:
            parts = writes[index].params["TransactItems"]
            marker = _marker(writes[index])
            if marker in seen:
                deferred.append(index)  # two copies of one target item (a transform collision): next request
                continue
            if batch and (actions + len(parts) > self.max_actions or size + sizes[index] > self.max_bytes):
                batches.append(batch)
                batch, actions, size, seen = [], 0, 0, set()
            batch.append(index)
            actions += len(parts)
            size += sizes[index]
            seen.add(marker)
        if batch:
            batches.append(batch)
        if deferred:
            batches.extend(self._pack(writes, sizes, deferred))
        return batches

    def _send(
        self,
        writes: list[Write],
        sizes: list[int],
        batch: list[int],
        results: list[Result | None],
        attempts: list[int],
    ) -> tuple[list[int], bool]:
        """Send one request; fill in results; return (indexes to send again, whether a transient error occurred)."""
        if len(batch) == 1:
            write = writes[batch[0]]
            self.limiter.wait()
            results[batch[0]] = execute(self.client, write)
            self.limiter.charge(write_units_estimate(sizes[batch[0]], transactional=True))
            return [], False
        items = [part for index in batch for part in writes[index].params["TransactItems"]]
        self.limiter.wait()
        self.stats.requests += 1
        try:
            response: dict[str, Any] = dict(
                self.client.transact_write_items(TransactItems=items, ReturnConsumedCapacity="TOTAL")
            )
        except ClientError as exc:
            self.limiter.charge(self._estimate(sizes, batch))
            return self._cancelled(exc, writes, batch, results, attempts)
        except BotoCoreError:
            self.limiter.charge(self._estimate(sizes, batch))
            return self._transient(writes, batch, results, attempts, "connection error after retries")
        measured = consumed_units(response)
        self.limiter.charge(measured if measured is not None else self._estimate(sizes, batch))
        for index in batch:
            results[index] = Result(APPLIED, writes[index].key)
        return [], False

    def _cancelled(
        self,
        exc: ClientError,
        writes: list[Write],
        batch: list[int],
        results: list[Result | None],
        attempts: list[int],
    ) -> tuple[list[int], bool]:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in THROTTLE_CODES:
            return self._transient(writes, batch, results, attempts, code)
        reasons = exc.response.get("CancellationReasons") or []
        if code != "TransactionCanceledException" or not reasons:
            # A request-level problem (size, validation, permission): judge each copy on its own.
            self.stats.fallbacks += 1
            for index in batch:
                results[index] = execute(self.client, writes[index])
            return [], False
        self.stats.cancelled += 1
        again: list[int] = []
        transient = False
        offset = 0
        for index in batch:
            write = writes[index]
            count = len(write.params["TransactItems"])
            codes = [str(r.get("Code") or "None") for r in reasons[offset : offset + count]]
            offset += count
            failed = [n for n, c in enumerate(codes) if c == "ConditionalCheckFailed"]
            if failed:
                results[index] = Result(write.labels[min(failed[0], len(write.labels) - 1)], write.key)
            elif any(c in PERMANENT_REASONS for c in codes):
                results[index] = execute(self.client, write)  # parks it, with DynamoDB's message
            elif any(c in TRANSIENT_REASONS for c in codes):
                transient = True
                attempts[index] += 1
                if attempts[index] > self.retries:
                    results[index] = Result(FAILED, write.key, f"{'/'.join(set(codes) - {'None'})} after retries")
                else:
                    again.append(index)
            elif any(c != "None" for c in codes):
                results[index] = Result(PARKED, write.key, f"transaction cancelled: {codes}")
            else:
                again.append(index)  # innocent: cancelled because of another copy in the request
        if len(again) == len(batch) and not transient:
            # No copy was to blame (reasons missing or unaligned): judge each on its own, never loop.
            self.stats.fallbacks += 1
            for index in batch:
                results[index] = execute(self.client, writes[index])
            return [], False
        return again, transient

    def _transient(
        self, writes: list[Write], batch: list[int], results: list[Result | None], attempts: list[int], why: str
    ) -> tuple[list[int], bool]:
        again = []
        for index in batch:
            attempts[index] += 1
            if attempts[index] > self.retries:
                results[index] = Result(FAILED, writes[index].key, f"{why} after retries")
            else:
                again.append(index)
        return again, True

    @staticmethod
    def _estimate(sizes: list[int], batch: list[int]) -> float:
        return sum(
            write_units_estimate(max(0, sizes[i] - 2 * ACTION_OVERHEAD_BYTES), transactional=True) for i in batch
        )


def _marker(write: Write) -> str:
    """The target item a planned copy touches (its ledger row follows from it)."""
    return repr(sorted(write.key.items()))
