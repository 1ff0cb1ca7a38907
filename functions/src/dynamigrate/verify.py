"""Prove two tables hold the same items, and repair the ones that do not.

Two passes, each a parallel segmented Scan whose pages (1 MB at most, DynamoDB's
page limit) are looked up on the other side with strongly consistent
``BatchGetItem``, 100 keys at a time, so memory is bounded by one page per
segment whatever the table size (differences are counted, and only the first
``KEEP`` are kept as samples):

1. source -> target: every source item (transformed when keys differ) must be
   in the target with equal attributes; otherwise it is *missing* or
   *different*;
2. target -> source: every target item must exist in the source; otherwise it
   is *extra*. (With a transform the reverse lookup is impossible, so extras
   are detected by count.)

Live traffic makes a first comparison racy, so every difference is re-read
with strongly consistent ``GetItem`` on both sides before it is reported.
Numbers compare by value and sets ignore order (``ddbjson.items_equal``).

``repair`` rewrites each confirmed difference through the version rule
(``VersionRule.plan_repair``): conditional on the target item and its ledger
row being unchanged since they were read, so a repair never overwrites a
change that replication applied meanwhile.

With ``ledger_table`` (the application writes the target through
``dynamigrate.dual``), keys whose ledger row says the application wrote or
deleted them in the target are the application's: the target is their truth
and the source is stale by design, so they are counted as
``application_owned`` (on each side) and not compared; repairs never touch them.

``sample`` checks about that many source items from randomly chosen scan
segments instead of the whole table (forward pass only), for tables too large
to compare in full.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dynamigrate.apply import execute
from dynamigrate.backfill import scan_segment
from dynamigrate.ddbjson import canonical_key, describe_key, differing_attributes, items_equal, key_of, ledger_id
from dynamigrate.rule import APPLIED, application_owned
from dynamigrate.transforms import REFUSALS

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform, VersionRule

BATCH_GET_LIMIT = 100
SAMPLE_LIMIT = 10
KEEP = 1000  # differences kept for the report; the rest are counted
KINDS = ("missing", "extra", "different", "untransformable")


@dataclass
class Difference:
    kind: str  # missing | extra | different | untransformable
    key: Item
    attributes: list[str] = field(default_factory=list)
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "key": describe_key(self.key)}
        if self.attributes:
            out["attributes"] = self.attributes
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class VerifyReport:
    source_table: str
    target_table: str
    source_items: int = 0
    target_items: int = 0
    matched: int = 0
    rechecked: int = 0
    differences: list[Difference] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    repairs: Counter[str] = field(default_factory=Counter)
    sampled: bool = False
    seconds: float = 0.0
    application_owned: Counter[str] = field(default_factory=Counter)  # "source" / "target" items not compared

    def count(self, kind: str) -> int:
        return self.counts[kind]

    def add(self, difference: Difference) -> None:
        self.counts[difference.kind] += 1
        if len(self.differences) < KEEP:
            self.differences.append(difference)

    @property
    def equal(self) -> bool:
        """The tables matched when compared (repairs made by this run are reported, not counted in)."""
        differences = sum(self.counts[k] for k in KINDS)
        compared_source = self.source_items - self.application_owned["source"]
        compared_target = self.target_items - self.application_owned["target"]
        return differences == 0 and (self.sampled or compared_source == compared_target)

    def as_dict(self, samples: int = SAMPLE_LIMIT) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source_table": self.source_table,
            "target_table": self.target_table,
            "equal": self.equal,
            "sampled": self.sampled,
            "source_items": self.source_items,
            "target_items": self.target_items,
            "matched": self.matched,
            "missing": self.count("missing"),
            "extra": self.count("extra"),
            "different": self.count("different"),
            "untransformable": self.count("untransformable"),
            "rechecked": self.rechecked,
            "seconds": round(self.seconds, 3),
            "samples": [d.as_dict() for d in self.differences[:samples]],
        }
        if self.application_owned:
            out["application_owned"] = dict(self.application_owned)
        if self.repairs:
            out["repaired"] = self.repairs[APPLIED]
            out["repair_skipped"] = sum(v for k, v in self.repairs.items() if k != APPLIED)
        return out


def batch_get(client: DynamoDBClient, table: str, keys: list[Item]) -> dict[str, Item]:
    """Strongly consistent BatchGetItem of any number of keys; canonical key -> item."""
    found: dict[str, Item] = {}
    key_names: tuple[str, ...] = tuple(keys[0]) if keys else ()
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        pending: dict[str, Any] = {table: {"Keys": keys[start : start + BATCH_GET_LIMIT], "ConsistentRead": True}}
        delay = 0.05
        while pending:
            response: dict[str, Any] = dict(client.batch_get_item(RequestItems=pending))
            for item in response.get("Responses", {}).get(table, []):
                found[canonical_key(key_of(item, key_names))] = item
            pending = response.get("UnprocessedKeys") or {}
            if pending:
                time.sleep(delay * random.random())
                delay = min(delay * 2, 2.0)
    return found


def _get(client: DynamoDBClient, table: str, key: Item) -> Item | None:
    response: dict[str, Any] = dict(client.get_item(TableName=table, Key=key, ConsistentRead=True))
    return response.get("Item")


@dataclass
class _Verify:
    source: DynamoDBClient
    target: DynamoDBClient
    source_table: str
    target_table: str
    source_key: tuple[str, ...]
    target_key: tuple[str, ...]
    transform: Transform | None
    repair: VersionRule | None
    progress: Callable[[int], None] | None
    report: VerifyReport
    ledger_table: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def owned(self, keys: list[Item]) -> set[str]:
        """Canonical forms of the target keys the application owns (empty without ``ledger_table``)."""
        if self.ledger_table is None or not keys:
            return set()
        ids = {ledger_id(key): canonical_key(key) for key in keys}
        rows = batch_get(self.target, self.ledger_table, [{"pk": {"S": ident}} for ident in ids])
        return {ids[row["pk"]["S"]] for row in rows.values() if application_owned(row)}

    def owned_now(self, key: Item) -> bool:
        """Re-read one key's ledger row (a difference is rechecked: the application may have written it since)."""
        if self.ledger_table is None:
            return False
        return application_owned(_get(self.target, self.ledger_table, {"pk": {"S": ledger_id(key)}}))

    def expected(self, item: Item) -> Item | Difference:
        """The target item ``item`` should be, or why the transform refuses it (an ``untransformable`` difference)."""
        if self.transform is None:
            return item
        try:
            want = self.transform(item)
            key_of(want, self.target_key)
        except REFUSALS as exc:
            return Difference("untransformable", key_of(item, self.source_key), reason=f"cannot transform: {exc}")
        return want

    def settle(self, key: Item, want: Item | None, held: Item | None) -> Difference | None:
        """Classify a confirmed difference and, when repairing, rewrite it through the version rule."""
        if items_equal(want, held):
            return None
        if held is None:
            difference = Difference("missing", key)
        elif want is None:
            difference = Difference("extra", key)
        else:
            difference = Difference("different", key, differing_attributes(want, held))
        if self.repair is not None:
            ledger = _get(self.target, self.repair.ledger_table, {"pk": {"S": ledger_id(key)}})
            if application_owned(ledger):  # the application's own write: never "repaired" back to the source
                with self.lock:
                    self.report.repairs["application_owned"] += 1
                return difference
            outcome = execute(self.target, self.repair.plan_repair(key, want, held, ledger)).outcome
            with self.lock:
                self.report.repairs[outcome] += 1
        return difference

    def forward_page(self, page: list[Item]) -> None:
        suspects = []
        confirmed: list[Difference] = []
        matched = owned = 0
        # Looked up BATCH_GET_LIMIT at a time, so only one page and one batch are held at once.
        for start in range(0, len(page), BATCH_GET_LIMIT):
            wanted = []
            for item in page[start : start + BATCH_GET_LIMIT]:
                want = self.expected(item)
                if isinstance(want, Difference):
                    confirmed.append(want)
                else:
                    wanted.append((item, want))
            keys = [key_of(want, self.target_key) for _, want in wanted]
            found = batch_get(self.target, self.target_table, keys)
            mine = self.owned(keys)
            for (item, want), key in zip(wanted, keys, strict=True):
                if canonical_key(key) in mine:
                    owned += 1
                elif items_equal(want, found.get(canonical_key(key))):
                    matched += 1
                else:
                    suspects.append((key_of(item, self.source_key), key))
        for source_item_key, target_item_key in suspects:
            if self.owned_now(target_item_key):
                owned += 1
                continue
            fresh = _get(self.source, self.source_table, source_item_key)
            held = _get(self.target, self.target_table, target_item_key)
            expected = self.expected(fresh) if fresh is not None else None
            if isinstance(expected, Difference):  # changed since, into an item the transform refuses
                confirmed.append(expected)
                continue
            difference = self.settle(target_item_key, expected, held)
            if difference is not None:
                confirmed.append(difference)
            else:
                matched += 1
        with self.lock:
            self.report.source_items += len(page)
            self.report.matched += matched
            self.report.application_owned["source"] += owned
            self.report.rechecked += len(suspects)
            for difference in confirmed:
                self.report.add(difference)
        if self.progress is not None:
            self.progress(len(page))

    def backward_page(self, page: list[Item]) -> None:
        extras: list[Difference] = []
        owned = 0
        for start in range(0, len(page), BATCH_GET_LIMIT):
            batch = [key_of(item, self.target_key) for item in page[start : start + BATCH_GET_LIMIT]]
            mine = self.owned(batch)
            owned += len(mine)
            if self.transform is not None:
                continue  # extras are detected by count: a new key cannot be mapped back to an old one
            keys = [key for key in batch if canonical_key(key) not in mine]
            if keys:
                found = batch_get(self.source, self.source_table, keys)
                for key in keys:
                    # Re-read both sides before reporting: live traffic may have moved on.
                    if canonical_key(key) in found or _get(self.source, self.source_table, key) is not None:
                        continue
                    held = _get(self.target, self.target_table, key)
                    difference = self.settle(key, None, held) if held is not None else None
                    if difference is not None:
                        extras.append(difference)
        with self.lock:
            self.report.target_items += len(page)
            self.report.application_owned["target"] += owned
            for difference in extras:
                self.report.add(difference)
        if self.progress is not None:
            self.progress(len(page))


def verify(
    source: DynamoDBClient,
    target: DynamoDBClient,
    source_table: str,
    target_table: str,
    *,
    source_key: tuple[str, ...],
    target_key: tuple[str, ...],
    segments: int = 4,
    transform: Transform | None = None,
    progress: Callable[[int], None] | None = None,
    repair: VersionRule | None = None,
    sample: int = 0,
    item_count: int = 0,
    ledger_table: str | None = None,
) -> VerifyReport:
    """Compare the tables (see the module docstring); ``repair`` fixes what differs through the version rule."""
    report = VerifyReport(source_table=source_table, target_table=target_table, sampled=sample > 0)
    run = _Verify(
        source,
        target,
        source_table,
        target_table,
        source_key,
        target_key,
        transform,
        repair,
        progress,
        report,
        ledger_table,
    )
    started = time.monotonic()

    def forward(segment: int, total: int) -> None:
        for page, _ in scan_segment(source, source_table, segment, total):
            run.forward_page(page)

    def backward(segment: int) -> None:
        for page, _ in scan_segment(target, target_table, segment, segments):
            run.backward_page(page)

    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="verify") as pool:
        if sample > 0:
            # Segments of about sample/segments items each; scan random ones until the sample is reached.
            total = max(segments, min(1_000_000, math.ceil(item_count * segments / sample)))
            order = random.sample(range(total), min(total, 10_000))
            while order and report.source_items < sample:
                chosen, order = order[:segments], order[segments:]
                for future in [pool.submit(forward, s, total) for s in chosen]:
                    future.result()
        else:
            for future in [pool.submit(forward, s, segments) for s in range(segments)]:
                future.result()
            for future in [pool.submit(backward, s) for s in range(segments)]:
                future.result()
    report.seconds = time.monotonic() - started
    return report
