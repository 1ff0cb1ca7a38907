"""Bulk copy of the existing items, safe while live changes replicate, resumable.

A parallel segmented Scan of the source; each item goes through the version
rule's copy plan (``VersionRule.plan_copy``), so the copy never overwrites an
item that replication already wrote and never resurrects a replicated delete.
The planned copies of a page travel in batched transactions
(``batchcopy.TransactBatcher``), in shuffled order so consecutive writes do not
walk the target's partitions one after another.

Reads and writes are charged, as DynamoDB reports them, to two rate limiters
(``capacity.CapacityLimiter``), so the copy keeps to its share of each
table's capacity.

After every page a checkpoint (each segment's position and the running
counts) is written atomically, so a copy killed at any point (Ctrl-C,
SIGKILL, expired credentials) resumes from its last page; the page in flight
is copied again, which the copy conditions make harmless (those items count
as ``exists``). Every item read ends in exactly one outcome, and the counts
must reconcile: read = applied + exists + tombstoned + stale + parked + failed.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from dynamigrate.apply import Result, Tally
from dynamigrate.batchcopy import TransactBatcher
from dynamigrate.capacity import CapacityLimiter, consumed_units
from dynamigrate.ddbjson import describe_key, to_client, to_wire
from dynamigrate.rule import APPLIED, EXISTS, FAILED, PARKED, STALE, TOMBSTONED
from dynamigrate.transforms import REFUSALS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from mypy_boto3_dynamodb import DynamoDBClient

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform, VersionRule, Write

ProgressCallback = Callable[[int], None]
OUTCOMES = (APPLIED, EXISTS, TOMBSTONED, STALE, PARKED, FAILED)
COPIES_PER_REQUEST = 50  # 100 actions per transaction, two per copy
CHECKPOINT_FORMAT = 1


class CheckpointMismatchError(ValueError):
    """A checkpoint file belongs to another copy (other tables, segments or rule)."""


class Interrupted(RuntimeError):
    """The copy stopped early (Ctrl-C or an error); its checkpoint holds everything done so far."""


@dataclass
class BackfillReport:
    source_table: str
    target_table: str
    segments: int
    read: int = 0
    seconds: float = 0.0
    tally: Tally = field(default_factory=Tally)
    read_units: float = 0.0
    write_units: float = 0.0
    requests: int = 0
    resumed_from: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return self.read == sum(self.tally.counts[o] for o in OUTCOMES)

    @property
    def ok(self) -> bool:
        return self.reconciled and not self.tally.counts[FAILED] and not self.tally.counts[PARKED]

    def add(self, result: Result) -> None:
        self.tally.add(result)
        if result.outcome in (PARKED, FAILED):
            self.problems.append({"key": to_wire(result.key), "outcome": result.outcome, "reason": result.reason})

    def add_tally(self, tally: Tally) -> None:
        """Add the outcomes counted elsewhere (one data file's load)."""
        self.tally.merge(tally)
        for result in (*tally.parked, *tally.failed):
            self.problems.append({"key": to_wire(result.key), "outcome": result.outcome, "reason": result.reason})

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
            "resumed_from": self.resumed_from,
            "seconds": round(self.seconds, 3),
            "items_per_second": round((self.read - self.resumed_from) / self.seconds, 1) if self.seconds else None,
            "read_units": round(self.read_units, 1),
            "write_units": round(self.write_units, 1),
            "write_requests": self.requests,
            "problems": [
                {"key": describe_key(p["key"]), "outcome": p["outcome"], "reason": p["reason"]}
                for p in self.problems[:100]
            ],
        }


@dataclass
class Checkpoint:
    """Where each segment stands and what the copy has counted; saved atomically after each page."""

    path: Path
    identity: dict[str, Any]
    positions: dict[int, Item | None] = field(default_factory=dict)  # segment -> ExclusiveStartKey
    done: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, path: Path, identity: dict[str, Any], report: BackfillReport) -> Checkpoint:
        checkpoint = cls(path, identity)
        if not path.exists():
            return checkpoint
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointMismatchError(
                f"checkpoint {path} cannot be read ({exc}); move it away to start over"
            ) from exc
        if data.get("format") != CHECKPOINT_FORMAT or data.get("identity") != identity:
            raise CheckpointMismatchError(
                f"checkpoint {path} belongs to another copy ({data.get('identity')}); this one is {identity}. "
                "Use the same options to resume it, or another --checkpoint path to start a new copy"
            )
        checkpoint.positions = {int(s): (to_client(k) if k else None) for s, k in data["positions"].items()}
        checkpoint.done = {int(s) for s in data["done"]}
        report.read = report.resumed_from = int(data["read"])
        report.tally.counts.update(Counter(data["counts"]))
        report.problems.extend(data.get("problems", []))
        report.read_units, report.write_units = data.get("read_units", 0.0), data.get("write_units", 0.0)
        return checkpoint

    def save(self, report: BackfillReport) -> None:
        data = {
            "format": CHECKPOINT_FORMAT,
            "identity": self.identity,
            "positions": {str(s): (to_wire(k) if k else None) for s, k in self.positions.items()},
            "done": sorted(self.done),
            "read": report.read,
            "counts": dict(report.tally.counts),
            "problems": report.problems,
            "read_units": report.read_units,
            "write_units": report.write_units,
            "saved_at": time.time(),
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)


def scan_segment(
    client: DynamoDBClient,
    table: str,
    segment: int,
    total: int,
    *,
    consistent: bool = False,
    page_size: int = 0,
    start: Item | None = None,
    limiter: CapacityLimiter | None = None,
) -> Iterator[tuple[list[Item], Item | None]]:
    """Yield (items, next start key) per page of one scan segment, charging ``limiter`` with what each read cost."""
    params: dict[str, Any] = {"TableName": table, "Segment": segment, "TotalSegments": total}
    if consistent:
        params["ConsistentRead"] = True
    if page_size:
        params["Limit"] = page_size
    if limiter is not None:
        params["ReturnConsumedCapacity"] = "TOTAL"
    if start:
        params["ExclusiveStartKey"] = start
    while True:
        if limiter is not None:
            limiter.wait()
        page: dict[str, Any] = dict(client.scan(**params))
        if limiter is not None:
            units = consumed_units(page)
            # Not every emulator reports capacity; a 4 KB read costs 0.5 unit eventually consistent.
            limiter.charge(units if units is not None else max(0.5, page.get("ScannedCount", 0) * 0.5))
        last = page.get("LastEvaluatedKey")
        yield page.get("Items", []), last
        if not last:
            return
        params["ExclusiveStartKey"] = last


def plan_copy_or_park(rule: VersionRule, transform: Transform | None, item: Item) -> Write | Result:
    """The copy plan of one source item, or a parked result naming why it cannot be copied."""
    try:
        new = transform(item) if transform is not None else item
        return rule.plan_copy(new)
    except REFUSALS as exc:  # the transform's, and plan_copy's InvalidItemError (a ValueError)
        key = {k: item[k] for k in rule.target.key_names if k in item} or item
        return Result(PARKED, key, f"cannot copy: {exc}")


T = TypeVar("T")
PAGES_IN_FLIGHT = 2  # per segment: one being written while the next is planned and queued


@dataclass
class _PageInFlight:
    read: int
    results: list[Result]
    writes: list[Future[list[Result]]]


def prefetched(pages: Iterator[T]) -> Iterator[T]:
    """Yield ``pages`` while the next one is already being read, so a segment's reads overlap its writes.

    One page ahead at most (memory: two pages per segment); ``pages`` never yields
    None. The iterator is only ever advanced by one thread at a time, and its
    errors surface where the page would have been yielded.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") as reader:
        ahead = reader.submit(next, pages, None)
        while True:
            page = ahead.result()
            if page is None:
                return
            ahead = reader.submit(next, pages, None)
            yield page


@dataclass
class _Copy:
    """One bulk copy run: scanner threads feeding a shared pool of batched writers."""

    source: DynamoDBClient
    source_table: str
    rule: VersionRule
    segments: int
    transform: Transform | None
    progress: ProgressCallback | None
    state: Checkpoint | None
    reads: CapacityLimiter
    batcher: TransactBatcher
    page_size: int
    stop: threading.Event
    report: BackfillReport
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submit_page(self, writers: ThreadPoolExecutor, page: list[Item]) -> _PageInFlight:
        """Plan one page's copies and hand them to the writers; the page is done when its futures are.

        Each request's worth of copies is handed over as soon as it is planned, so
        the writers start on a page while the rest of it is still being planned
        (with every segment planning its page under one GIL, planning whole pages
        first kept the target idle at the start of each round of pages).
        """
        order = list(page)
        random.shuffle(order)  # spread consecutive writes over the target's partitions
        results: list[Result] = []
        writes: list[Future[list[Result]]] = []
        todo: list[Write] = []
        try:
            for item in order:
                planned = plan_copy_or_park(self.rule, self.transform, item)
                if isinstance(planned, Result):
                    results.append(planned)
                    continue
                todo.append(planned)
                if len(todo) == COPIES_PER_REQUEST:
                    writes.append(writers.submit(self.batcher.run, todo))
                    todo = []
            if todo:
                writes.append(writers.submit(self.batcher.run, todo))
        except BaseException:
            for future in writes:  # not recorded: none may run past a page that failed (running ones finish)
                future.cancel()
            raise
        return _PageInFlight(len(page), results, writes)

    def record(self, segment: int, page: _PageInFlight, last: Item | None) -> None:
        """Count a written page and checkpoint the segment past it (pages are recorded in scan order)."""
        results = page.results
        for future in page.writes:
            results.extend(future.result())
        state = self.state
        with self.lock:
            self.report.read += page.read
            for result in results:
                self.report.add(result)
            self.report.read_units = self.reads.consumed
            self.report.write_units = self.batcher.limiter.consumed
            if state is not None:
                state.positions[segment] = last
                if last is None:
                    state.done.add(segment)
                state.save(self.report)
        if self.progress is not None:
            self.progress(page.read)

    def run_segment(self, writers: ThreadPoolExecutor, segment: int) -> bool:
        """Copy one segment from where it stands; True when it reached its end.

        The next page is read while this one is written, and planned while the
        one before finishes (PAGES_IN_FLIGHT), so the writers never wait on a
        scan; the checkpoint only moves past pages whose every write returned.
        """
        state = self.state
        if state is not None and segment in state.done:
            return True
        start = state.positions.get(segment) if state is not None else None
        pages = scan_segment(
            self.source,
            self.source_table,
            segment,
            self.segments,
            page_size=self.page_size,
            start=start,
            limiter=self.reads,
        )
        inflight: deque[tuple[_PageInFlight, Item | None]] = deque()
        finished = True
        try:
            for page, last in prefetched(pages):
                if self.stop.is_set():
                    finished = False
                    break
                inflight.append((self.submit_page(writers, page), last))
                while len(inflight) > PAGES_IN_FLIGHT:
                    self.record(segment, *inflight.popleft())
            while inflight:  # stopped or at the end: the pages under way finish and are checkpointed
                self.record(segment, *inflight.popleft())
        except BaseException:
            # A page failed: no later page may move the checkpoint past it. Writes not yet
            # started are dropped (a rerun redoes them from the checkpoint); running ones finish.
            for queued, _ in inflight:
                for future in queued.writes:
                    future.cancel()
            raise
        return finished

    def run(self, threads: int) -> None:
        """Run every segment; on Ctrl-C or a failure, let the others finish their page and checkpoint."""
        with (
            ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="copy") as writers,
            ThreadPoolExecutor(max_workers=self.segments, thread_name_prefix="scan") as scanners,
        ):
            futures = [scanners.submit(self.run_segment, writers, s) for s in range(self.segments)]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            except KeyboardInterrupt:
                self.stop.set()
                wait(futures)
                raise Interrupted("interrupted") from None
            if any(f.done() and f.exception() is not None for f in futures):
                self.stop.set()
            wait(futures)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
        if not all(future.result() for future in futures):
            raise Interrupted("stopped")


def backfill(
    source: DynamoDBClient,
    target: DynamoDBClient,
    source_table: str,
    rule: VersionRule,
    *,
    segments: int = 4,
    threads: int = 16,
    transform: Transform | None = None,
    transform_name: str = "",
    progress: ProgressCallback | None = None,
    checkpoint: Path | None = None,
    read_limiter: CapacityLimiter | None = None,
    write_limiter: CapacityLimiter | None = None,
    page_size: int = 0,
    stop: threading.Event | None = None,
) -> BackfillReport:
    """Copy every item of ``source_table`` into the rule's target table (resuming from ``checkpoint``).

    Raises ``Interrupted`` when stopped early (``stop`` set, or Ctrl-C) and the
    first error of any segment after the others have saved their progress.
    """
    report = BackfillReport(source_table=source_table, target_table=rule.target.name, segments=segments)
    identity = {
        "source_table": source_table,
        "target_table": rule.target.name,
        "ledger_table": rule.ledger_table,
        "version_attribute": rule.version_attribute,
        "segments": segments,
        "transform": transform_name,
    }
    state = Checkpoint.open(checkpoint, identity, report) if checkpoint is not None else None
    reads = read_limiter or CapacityLimiter(None)
    writes = write_limiter or CapacityLimiter(None)
    reads.consumed, writes.consumed = report.read_units, report.write_units
    batcher = TransactBatcher(target, rule.target.name, limiter=writes)
    copy = _Copy(
        source=source,
        source_table=source_table,
        rule=rule,
        segments=segments,
        transform=transform,
        progress=progress,
        state=state,
        reads=reads,
        batcher=batcher,
        page_size=page_size,
        stop=stop or threading.Event(),
        report=report,
    )
    started = time.monotonic()
    try:
        copy.run(threads)
    finally:
        report.seconds = time.monotonic() - started
        report.requests = batcher.stats.requests
    return report
