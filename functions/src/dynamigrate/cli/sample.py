"""Rehearsal data: items of every DynamoDB type, and a live application writing to them.

``make_item`` builds deterministic items (seeded) that exercise what a
migration must carry exactly: 38-digit and extreme-exponent numbers, sets,
binaries (empty ones too), empty strings, deep maps and lists, NULL, BOOL,
unicode keys, and a few items near the 400 KB limit. ``Traffic`` is the
"application" of the rehearsal: it inserts, updates, overwrites, deletes and
re-inserts items at a steady rate, in its own process, until told to stop.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    from dynamigrate.ddbjson import Item

WORDS = ("alpha", "beta", "größe", "日本語", "emoji-🚀", "naïve", "ĳssel", "zeta", "", "tab\tnew\nline")
STATUSES = ("NEW", "PAID", "SHIPPED", "RETURNED", "CANCELLED")
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTE_DEFINITIONS = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "N"},
]
VERSION_ATTRIBUTE = "updated_at"
LARGE_EVERY = 997  # one item in ~1000 is close to the 400 KB item limit


def item_key(index: int) -> Item:
    customer = index % 211
    prefix = "kunde-ü" if customer % 7 == 0 else "customer"
    return {"pk": {"S": f"{prefix}#{customer:04d}"}, "sk": {"N": str(index)}}


def _number(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:  # 38 significant digits
        digits = "".join(rng.choice("0123456789") for _ in range(37))
        return f"{rng.choice('123456789')}{digits}"
    if kind == 1:
        return f"{rng.choice(['', '-'])}{rng.randint(1, 9)}.{rng.randint(0, 10**6):06d}E-{rng.randint(100, 129)}"
    if kind == 2:
        return f"{rng.randint(1, 9)}.{rng.randint(0, 10**9)}E+{rng.randint(100, 125)}"
    if kind == 3:
        return f"{rng.randint(-(10**6), 10**6)}.{rng.randint(0, 99):02d}"
    return str(rng.randint(-(2**63), 2**63))


def _value(rng: random.Random, depth: int) -> dict[str, Any]:
    kind = rng.randrange(9 if depth < 4 else 7)
    if kind == 0:
        return {"S": rng.choice(WORDS)}
    if kind == 1:
        return {"N": _number(rng)}
    if kind == 2:
        return {"B": rng.randbytes(rng.randint(0, 24))}
    if kind == 3:
        return {"BOOL": rng.random() < 0.5}
    if kind == 4:
        return {"NULL": True}
    if kind == 5:
        return {"SS": sorted({f"{rng.choice(WORDS)}-{i}" for i in range(rng.randint(1, 4))})}
    if kind == 6:
        return {"NS": sorted({_number(rng) for _ in range(rng.randint(1, 4))})}
    if kind == 7:
        return {"M": {f"k{i}-{rng.choice(WORDS)}": _value(rng, depth + 1) for i in range(rng.randint(0, 4))}}
    return {"L": [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]}


def make_item(index: int, rng: random.Random, *, version: int) -> Item:
    """One item in boto3 client form (binaries as bytes)."""
    item: Item = {
        **item_key(index),
        "status": {"S": rng.choice(STATUSES)},
        "amount": {"N": f"{rng.randint(0, 10**7)}.{rng.randint(0, 99):02d}"},
        "precise": {"N": _number(rng)},
        "note": {"S": rng.choice(WORDS)},
        "empty_s": {"S": ""},
        "empty_b": {"B": b""},
        "tags": {"SS": sorted({rng.choice(WORDS) + str(i) for i in range(rng.randint(1, 5))})},
        "scores": {"NS": sorted({_number(rng) for _ in range(rng.randint(1, 5))})},
        "blobs": {"BS": sorted({rng.randbytes(rng.randint(1, 16)) for _ in range(rng.randint(1, 3))})},
        "payload": {"B": rng.randbytes(rng.randint(0, 64))},
        "flag": {"BOOL": rng.random() < 0.5},
        "nothing": {"NULL": True},
        "nested": {"M": {"level1": {"M": {"level2": {"M": {"level3": {"L": [_value(rng, 3) for _ in range(3)]}}}}}}},
        "mixed": {"L": [_value(rng, 1) for _ in range(rng.randint(0, 6))]},
        "extra": _value(rng, 0),
        VERSION_ATTRIBUTE: {"N": str(version)},
    }
    if index % LARGE_EVERY == 0:
        item["large"] = {"S": "x" * rng.randint(300_000, 390_000)}
    return item


def version_now() -> int:
    """A version that grows with time (microseconds), as an app's last-modified stamp would."""
    return time.time_ns() // 1000


# ---------------------------------------------------------------- traffic --


@dataclass
class TrafficCounts:
    inserts: int = 0
    updates: int = 0
    overwrites: int = 0
    deletes: int = 0
    reinserts: int = 0
    errors: int = 0
    seconds: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.inserts + self.updates + self.overwrites + self.deletes + self.reinserts

    def as_dict(self) -> dict[str, Any]:
        return {
            "inserts": self.inserts,
            "updates": self.updates,
            "overwrites": self.overwrites,
            "deletes": self.deletes,
            "reinserts": self.reinserts,
            "total": self.total,
            "errors": self.errors,
            "ops_per_second": round(self.total / self.seconds, 1) if self.seconds else 0.0,
        }


def run_traffic(
    *,
    endpoint_url: str,
    credentials: dict[str, str],
    region: str,
    table: str,
    existing: int,
    seed: int,
    rate: float,
    stop: Event,
) -> TrafficCounts:
    """Write to ``table`` at ``rate`` operations/s until ``stop`` is set."""
    rng = random.Random(seed * 7919 + 1)
    client = boto3.Session(
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
        aws_session_token=credentials.get("aws_session_token"),
        region_name=region,
    ).client("dynamodb", endpoint_url=endpoint_url, config=Config(retries={"mode": "adaptive", "max_attempts": 10}))
    live = list(range(existing))
    deleted: list[int] = []
    next_index = existing
    counts = TrafficCounts()
    started = time.monotonic()
    interval = 1.0 / rate if rate > 0 else 0.0
    while not stop.is_set():
        roll = rng.random()
        try:
            if roll < 0.15 or not live:
                client.put_item(TableName=table, Item=make_item(next_index, rng, version=version_now()))
                live.append(next_index)
                next_index += 1
                counts.inserts += 1
            elif roll < 0.55:
                index = rng.choice(live)
                client.update_item(
                    TableName=table,
                    Key=item_key(index),
                    UpdateExpression="SET #s = :s, amount = :a, #n = :n, #v = :v REMOVE extra",
                    ExpressionAttributeNames={"#s": "status", "#n": "note", "#v": VERSION_ATTRIBUTE},
                    ExpressionAttributeValues={
                        ":s": {"S": rng.choice(STATUSES)},
                        ":a": {"N": f"{rng.randint(0, 10**7)}.{rng.randint(0, 99):02d}"},
                        ":n": _value(rng, 2),
                        ":v": {"N": str(version_now())},
                    },
                )
                counts.updates += 1
            elif roll < 0.75:
                index = rng.choice(live)
                client.put_item(TableName=table, Item=make_item(index, rng, version=version_now()))
                counts.overwrites += 1
            elif roll < 0.92:
                index = live.pop(rng.randrange(len(live)))
                client.delete_item(TableName=table, Key=item_key(index))
                deleted.append(index)
                counts.deletes += 1
            elif deleted:
                index = deleted.pop(rng.randrange(len(deleted)))
                client.put_item(TableName=table, Item=make_item(index, rng, version=version_now()))
                live.append(index)
                counts.reinserts += 1
        except Exception as exc:
            counts.errors += 1
            if len(counts.error_samples) < 5:
                counts.error_samples.append(f"{type(exc).__name__}: {exc}")
        if interval:
            with contextlib.suppress(Exception):
                stop.wait(interval)
    counts.seconds = time.monotonic() - started
    return counts
