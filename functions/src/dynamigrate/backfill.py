"""Bulk copy of the existing items, safe while live changes replicate.

A parallel segmented Scan of the source; each item goes through the version
rule's copy plan (``VersionRule.plan_copy``), so the copy never overwrites an
item that replication already wrote and never resurrects a replicated delete.
Every item read ends in exactly one outcome, and the counts must reconcile:
read = applied + exists + tombstoned + stale + parked + failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dynamigrate.apply import Result, Tally, execute
from dynamigrate.ddbjson import InvalidItemError, describe_key
from dynamigrate.rule import APPLIED, EXISTS, FAILED, PARKED, STALE, TOMBSTONED

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform, VersionRule

ProgressCallback = Callable[[int], None]


@dataclass
class BackfillReport:
    source_table: str
    target_table: str
    segments: int
    read: int = 0
    seconds: float = 0.0
    tally: Tally = field(default_factory=Tally)

    @property
    def reconciled(self) -> bool:
        counts = self.tally.counts
        return self.read == sum(counts[o] for o in (APPLIED, EXISTS, TOMBSTONED, STALE, PARKED, FAILED))

    @property
    def ok(self) -> bool:
        return self.reconciled and not self.tally.counts[FAILED] and not self.tally.counts[PARKED]

    def as_dict(self) -> dict[str, Any]:
        counts = self.tally.counts
        return {
            "source_table": self.source_table,
            "target_table": self.target_table,
            "segments": self.segments,
            "read": self.read,
            "written": counts[APPLIED],
            "skipped_exists": counts[EXISTS],
            "skipped_deleted": counts[TOMBSTONED],
            "skipped_stale": counts[STALE],
            "parked": counts[PARKED],
            "failed": counts[FAILED],
            "reconciled": self.reconciled,
            "seconds": round(self.seconds, 3),
            "items_per_second": round(self.read / self.seconds, 1) if self.seconds else None,
            "problems": [
                {"key": describe_key(r.key), "outcome": r.outcome, "reason": r.reason}
                for r in [*self.tally.parked, *self.tally.failed][:100]
            ],
        }


def scan_segment(
    client: DynamoDBClient, table: str, segment: int, total: int, *, consistent: bool = False, page_size: int = 0
) -> Any:
    """Yield pages (lists of items, boto3 client form) of one scan segment."""
    params: dict[str, Any] = {"TableName": table, "Segment": segment, "TotalSegments": total}
    if consistent:
        params["ConsistentRead"] = True
    if page_size:
        params["Limit"] = page_size
    while True:
        page = client.scan(**params)
        yield page.get("Items", [])
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        params["ExclusiveStartKey"] = last


def backfill(
    source: DynamoDBClient,
    target: DynamoDBClient,
    source_table: str,
    rule: VersionRule,
    *,
    segments: int = 4,
    threads: int = 16,
    transform: Transform | None = None,
    progress: ProgressCallback | None = None,
) -> BackfillReport:
    """Copy every item of ``source_table`` into the rule's target table."""
    report = BackfillReport(source_table=source_table, target_table=rule.target.name, segments=segments)
    lock = threading.Lock()
    started = time.monotonic()

    def copy_one(item: Item) -> Result:
        try:
            new = transform(item) if transform is not None else item
            write = rule.plan_copy(new)
        except (InvalidItemError, KeyError, TypeError) as exc:
            return Result(PARKED, {k: item[k] for k in rule.target.key_names if k in item} or item, str(exc))
        return execute(target, write)

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="copy") as writers:

        def run_segment(segment: int) -> None:
            for page in scan_segment(source, source_table, segment, segments):
                results = list(writers.map(copy_one, page))
                with lock:
                    report.read += len(page)
                    for result in results:
                        report.tally.add(result)
                if progress is not None:
                    progress(len(page))

        with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="scan") as scanners:
            for future in [scanners.submit(run_segment, s) for s in range(segments)]:
                future.result()
    report.seconds = time.monotonic() - started
    return report
