"""Per-function counters reported by ``Emulator.stats()``."""

from __future__ import annotations

import threading
from typing import TypedDict


class FunctionStats(TypedDict):
    """Counters for one function (all versions), keyed in ``Emulator.stats()`` by its unqualified ARN."""

    function_name: str
    account_id: str
    region: str
    invocations: int
    """Invocations that reached the runner: direct ``Invoke`` calls and event source mapping batches."""
    errors: int
    """Function errors: handler exceptions, init errors, crashes and timeouts."""
    timeouts: int
    """Invocations killed after the function's timeout."""
    records_delivered: int
    """Event source records the function processed successfully (checkpointed or deleted)."""
    on_failure_batches: int
    """Discarded stream batches sent to the mapping's on-failure destination."""
    on_failure_records: int
    """Records in those batches."""
    workers_started: int
    """Worker processes started (cold starts)."""


def unqualified_arn(function_arn: str) -> str:
    """``arn:aws:lambda:r:a:function:name[:qualifier]`` without the qualifier."""
    return ":".join(function_arn.split(":")[:7])


class StatsRegistry:
    """Thread-safe counters, created on first use of a function ARN."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, FunctionStats] = {}

    def add(self, function_arn: str, **increments: int) -> None:
        key = unqualified_arn(function_arn)
        parts = key.split(":")
        with self._lock:
            entry = self._stats.get(key)
            if entry is None:
                entry = FunctionStats(
                    function_name=parts[6] if len(parts) > 6 else key,
                    account_id=parts[4] if len(parts) > 4 else "",
                    region=parts[3] if len(parts) > 3 else "",
                    invocations=0,
                    errors=0,
                    timeouts=0,
                    records_delivered=0,
                    on_failure_batches=0,
                    on_failure_records=0,
                    workers_started=0,
                )
                self._stats[key] = entry
            for name, value in increments.items():
                entry[name] += value  # type: ignore[literal-required]

    def snapshot(self) -> dict[str, FunctionStats]:
        with self._lock:
            return {key: FunctionStats(**value) for key, value in self._stats.items()}
