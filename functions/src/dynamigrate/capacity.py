"""Keep a bulk job inside a share of a table's capacity, measured, not guessed.

Every read and write of the bulk copy asks for ``ReturnConsumedCapacity`` and
charges what DynamoDB reports to a token bucket (``CapacityLimiter``); before
each request the caller waits until the bucket is no longer in debt. A 1 MB
Scan page (128 RCU) may overdraw the bucket, and the next request then waits
for the refill, so consumption averages to the configured rate over any
window longer than a few requests.

The rate is a percentage of what the table can take, from ``DescribeTable``:

* provisioned tables: the provisioned read/write capacity units;
* on-demand tables: the table's maximum on-demand throughput if one is set,
  otherwise its warm throughput (what the table can serve right now without
  throttling), otherwise DynamoDB's documented starting point for a new
  on-demand table (12,000 read / 4,000 write request units per second).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

# DynamoDB's initial throughput for a new on-demand table (developer guide,
# "DynamoDB throughput capacity", on-demand mode "initial throughput").
ON_DEMAND_DEFAULT_READ = 12_000
ON_DEMAND_DEFAULT_WRITE = 4_000


@dataclass(frozen=True)
class TableCapacity:
    """Read and write units per second a table can take, and where the figure came from."""

    read: float
    write: float
    basis: str

    def share(self, read_percent: float, write_percent: float) -> tuple[float, float]:
        return self.read * read_percent / 100.0, self.write * write_percent / 100.0


def table_capacity(table: dict[str, Any]) -> TableCapacity:
    """The capacity of a table from ``DescribeTable``'s ``Table`` member."""
    mode = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    provisioned = table.get("ProvisionedThroughput") or {}
    if mode == "PROVISIONED" and provisioned.get("ReadCapacityUnits"):
        return TableCapacity(
            float(provisioned["ReadCapacityUnits"]), float(provisioned["WriteCapacityUnits"]), "provisioned capacity"
        )
    on_demand = table.get("OnDemandThroughput") or {}
    read, write = on_demand.get("MaxReadRequestUnits", -1), on_demand.get("MaxWriteRequestUnits", -1)
    if read > 0 and write > 0:
        return TableCapacity(float(read), float(write), "on-demand maximum throughput")
    warm = table.get("WarmThroughput") or {}
    read, write = warm.get("ReadUnitsPerSecond", 0), warm.get("WriteUnitsPerSecond", 0)
    if read > 0 and write > 0:
        return TableCapacity(float(read), float(write), "warm throughput")
    return TableCapacity(
        float(ON_DEMAND_DEFAULT_READ), float(ON_DEMAND_DEFAULT_WRITE), "on-demand default for a new table"
    )


def consumed_units(response: dict[str, Any], table: str | None = None) -> float | None:
    """Capacity units a response reports (for one table, or all); None if it reports none."""
    consumed = response.get("ConsumedCapacity")
    if consumed is None:
        return None
    entries = consumed if isinstance(consumed, list) else [consumed]
    return float(
        sum(e.get("CapacityUnits", 0.0) for e in entries if table is None or e.get("TableName") in (table, None))
    )


@dataclass
class CapacityLimiter:
    """A token bucket charged with measured consumption; ``rate`` units/s, ``None`` = unlimited.

    ``wait()`` blocks while the bucket is in debt; ``charge(units)`` records
    what a request consumed. The bucket starts empty and holds at most one
    second of tokens, so neither the start nor an idle spell becomes a burst.
    """

    rate: float | None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    consumed: float = 0.0
    _tokens: float = field(default=0.0, init=False)
    _stamp: float = field(default=-1.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def _refill(self) -> None:
        now = self.clock()
        if self._stamp < 0:
            self._stamp = now  # start empty: no burst above the rate at the start of a run
            return
        assert self.rate is not None
        self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait(self) -> None:
        if self.rate is None:
            return
        while True:
            with self._lock:
                self._refill()
                if self._tokens > 0:
                    return
                delay = -self._tokens / self.rate + 1e-3
            self.sleep(delay)

    def charge(self, units: float) -> None:
        with self._lock:
            self.consumed += units
            if self.rate is not None:
                self._refill()
                self._tokens -= units


def write_units_estimate(item_bytes: int, *, transactional: bool) -> float:
    """Write units for one item put of this size (1 KB each, doubled in a transaction)."""
    units = float(max(1, math.ceil(item_bytes / 1024)))
    return 2 * units if transactional else units
