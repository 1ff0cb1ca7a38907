"""Prove two tables hold the same items.

Two passes, each a parallel segmented Scan whose pages are looked up on the
other side with strongly consistent ``BatchGetItem``, so memory is bounded by
one page per segment whatever the table size:

1. source -> target: every source item (transformed when keys differ) must be
   in the target with equal attributes; otherwise it is *missing* or
   *different*;
2. target -> source: every target item must exist in the source; otherwise it
   is *extra*. (With a transform the reverse lookup is impossible, so extras
   are detected by count.)

Live traffic makes a first comparison racy, so every difference is re-read
with strongly consistent ``GetItem`` on both sides before it is reported.
Numbers compare by value and sets ignore order (``ddbjson.items_equal``).
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dynamigrate.backfill import scan_segment
from dynamigrate.ddbjson import canonical_key, describe_key, differing_attributes, items_equal, key_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform

BATCH_GET_LIMIT = 100
SAMPLE_LIMIT = 10


@dataclass
class Difference:
    kind: str  # missing | extra | different
    key: Item
    attributes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "key": describe_key(self.key)}
        if self.attributes:
            out["attributes"] = self.attributes
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
    seconds: float = 0.0

    def count(self, kind: str) -> int:
        return sum(1 for d in self.differences if d.kind == kind)

    @property
    def equal(self) -> bool:
        return not self.differences and self.source_items == self.target_items

    def as_dict(self, samples: int = SAMPLE_LIMIT) -> dict[str, Any]:
        return {
            "source_table": self.source_table,
            "target_table": self.target_table,
            "equal": self.equal,
            "source_items": self.source_items,
            "target_items": self.target_items,
            "matched": self.matched,
            "missing": self.count("missing"),
            "extra": self.count("extra"),
            "different": self.count("different"),
            "rechecked": self.rechecked,
            "seconds": round(self.seconds, 3),
            "samples": [d.as_dict() for d in self.differences[:samples]],
        }


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
) -> VerifyReport:
    report = VerifyReport(source_table=source_table, target_table=target_table)
    lock = threading.Lock()
    started = time.monotonic()

    def expected(item: Item) -> Item:
        return transform(item) if transform is not None else item

    def recheck_forward(source_item_key: Item, target_item_key: Item) -> Difference | None:
        fresh_source = _get(source, source_table, source_item_key)
        fresh_target = _get(target, target_table, target_item_key)
        want = expected(fresh_source) if fresh_source is not None else None
        if items_equal(want, fresh_target):
            return None
        if fresh_target is None:
            return Difference("missing", target_item_key)
        if want is None:
            return Difference("extra", target_item_key)
        return Difference("different", target_item_key, differing_attributes(want, fresh_target))

    def forward(segment: int) -> None:
        for page, _ in scan_segment(source, source_table, segment, segments):
            wanted = [(item, expected(item)) for item in page]
            keys = [key_of(want, target_key) for _, want in wanted]
            found = batch_get(target, target_table, keys) if keys else {}
            suspects = []
            matched = 0
            for (item, want), key in zip(wanted, keys, strict=True):
                if items_equal(want, found.get(canonical_key(key))):
                    matched += 1
                else:
                    suspects.append((key_of(item, source_key), key))
            confirmed = [d for d in (recheck_forward(s, t) for s, t in suspects) if d is not None]
            with lock:
                report.source_items += len(page)
                report.matched += matched + (len(suspects) - len(confirmed))
                report.rechecked += len(suspects)
                report.differences.extend(confirmed)
            if progress is not None:
                progress(len(page))

    def backward(segment: int) -> None:
        for page, _ in scan_segment(target, target_table, segment, segments):
            extras: list[Difference] = []
            if transform is None:
                keys = [key_of(item, source_key) for item in page]
                found = batch_get(source, source_table, keys) if keys else {}
                # Re-read both sides before reporting: live traffic may have moved on.
                extras.extend(
                    Difference("extra", key)
                    for key in keys
                    if canonical_key(key) not in found
                    and _get(source, source_table, key) is None
                    and _get(target, target_table, key) is not None
                )
            with lock:
                report.target_items += len(page)
                report.differences.extend(extras)
            if progress is not None:
                progress(len(page))

    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="verify") as pool:
        for future in [pool.submit(forward, s) for s in range(segments)]:
            future.result()
        for future in [pool.submit(backward, s) for s in range(segments)]:
            future.result()
    report.seconds = time.monotonic() - started
    return report
