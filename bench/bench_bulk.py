"""Bulk copy and verify benchmarks on the embedded emulator (`make bench`).

The emulator runs in its own process (`dynamigrate emulator`), so the figures
are end to end through HTTP, as the CLI sees a real endpoint. It is pinned to
one core and the benchmark (the client) to the others, as a real client and
DynamoDB never share a CPU: on a shared core the client's own work would count
against the emulator's ceiling. (The emulator is one Python process: it uses
one core at a time whatever it is given.) A last pass repeats the ceiling and
the 4-segment copy with both processes free to use every core, and prints that
ratio too. With one core (or no CPU affinity, as on macOS) only that pass runs.

* the emulator's ceiling: unconditional ``BatchWriteItem`` of N items of about
  1 KB (8 writer threads, the same client as the copy's writer), items/s;
* ``backfill`` of the same N items with 1, 2, 4 and 8 segments, each into a
  fresh target and ledger, items/s and the ratio to the ceiling (target at
  least 0.8): every copy is conditional (ledger check + put-if-absent). Each
  measurement's tables are deleted after it, so every run works with the same
  data held by the emulator (the source, plus its own tables). Every figure,
  the ceiling's too, is the best of ``BENCH_REPEATS`` runs (default 3), taken
  in rounds (ceiling, 1, 2, 4, 8 segments; again...);
* ``verify`` of two equal tables of 200,000 items: items/s and the peak RSS of
  the verifying process (target under 300 MB). The verify runs in a child
  process so its peak memory is its own, not the benchmark's.

Writes the figures to build/bench-bulk.json. ``BENCH_BULK_ITEMS`` and
``BENCH_VERIFY_ITEMS`` change the sizes (``BENCH_BULK_ITEMS=0`` runs the
verify part only).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parents[1]
COPY_ITEMS = int(os.environ.get("BENCH_BULK_ITEMS", "20000"))
VERIFY_ITEMS = int(os.environ.get("BENCH_VERIFY_ITEMS", "200000"))
SEGMENTS = (1, 2, 4, 8)
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def item(i: int, *, size: int = 1000) -> dict[str, Any]:
    """An item of about ``size`` bytes: strings, numbers, a set and a map."""
    rng = random.Random(i)
    body = {
        "pk": {"S": f"customer#{i % 4999:06d}"},
        "sk": {"N": str(i)},
        "status": {"S": rng.choice(["NEW", "PAID", "SHIPPED"])},
        "amount": {"N": f"{rng.randint(0, 10**7)}.{rng.randint(0, 99):02d}"},
        "tags": {"SS": [f"t{rng.randint(0, 50)}", f"u{rng.randint(0, 50)}"]},
        "address": {"M": {"city": {"S": "Lyon"}, "zip": {"S": f"{rng.randint(10000, 99999)}"}}},
    }
    body["note"] = {"S": "x" * max(0, size - 160)}
    return body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def placement() -> tuple[set[int], set[int]] | None:
    """(the emulator's core, the client's cores), or None with one core, or no CPU affinity (macOS, Windows)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[0]}, set(cores[1:])) if len(cores) > 1 else None


def start_emulator(work_dir: Path, cores: set[int] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [str(REPO / ".venv/bin/dynamigrate"), "emulator", "--port", str(port), "--work-dir", str(work_dir)]
    log = (work_dir / f"emulator-{port}.log").open("wb")
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **CREDENTIALS},
        # Set in the child before it starts any thread, so every thread of the emulator inherits it.
        preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,  # noqa: PLW1509 - no threads yet
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the emulator did not start; see " + str(work_dir / "emulator.log"))


def client(endpoint: str, *, validate: bool = True) -> Any:
    """A client configured as the CLI's (``bulk_writer``: no client-side validation for the copies; ``sdkcodec``)."""
    from botocore.config import Config

    from dynamigrate.sdkcodec import fast

    config = Config(
        max_pool_connections=64, retries={"mode": "adaptive", "max_attempts": 10}, parameter_validation=validate
    )
    return fast(boto3.client("dynamodb", endpoint_url=endpoint, config=config, region_name="us-east-1"))


def create(ddb: Any, name: str, *, ledger: bool = False) -> None:
    if ledger:
        schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
        attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    else:
        schema, attributes = KEY_SCHEMA, ATTRIBUTES
    ddb.create_table(TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST")


def batch_write(ddb: Any, table: str, items: list[dict[str, Any]], threads: int = 8) -> float:
    """Unconditional BatchWriteItem of ``items``; returns items/s."""

    def send(chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: [{"PutRequest": {"Item": i}} for i in chunk]}
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    chunks = [items[i : i + 25] for i in range(0, len(items), 25)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(send, chunks))
    return len(items) / (time.perf_counter() - started)


def bench_backfill(ddb: Any, writer: Any, segment_counts: tuple[int, ...]) -> dict[str, Any]:
    """The ceiling, then the copy with each segment count; the source is loaded once and deleted at the end."""
    from dynamigrate.backfill import backfill
    from dynamigrate.rule import TableSchema, VersionRule

    items = [item(i) for i in range(COPY_ITEMS)]
    create(ddb, "source")
    batch_write(ddb, "source", items)

    def ceiling_run() -> float:
        create(ddb, "ceiling")
        rate = batch_write(writer, "ceiling", items)  # the copy's own client: no client-side validation
        ddb.delete_table(TableName="ceiling")  # every run sees the same data held: the source and its own tables
        return rate

    def backfill_run(segments: int) -> tuple[float, int]:
        target, ledger = f"target-{segments}", f"ledger-{segments}"
        create(ddb, target)
        create(ddb, ledger, ledger=True)
        rule = VersionRule(TableSchema.from_description(ddb.describe_table(TableName=target)["Table"]), ledger)
        report = backfill(ddb, writer, "source", rule, segments=segments, threads=16)
        assert report.ok and report.tally.counts["applied"] == COPY_ITEMS, report.as_dict()
        ddb.delete_table(TableName=target)
        ddb.delete_table(TableName=ledger)
        return COPY_ITEMS / report.seconds, report.requests

    # Best of REPEATS for every figure (the ceiling too): the machine's noise only ever slows a run down.
    # Rounds interleave the figures, so a slow spell of the machine cannot fall on one figure's runs only.
    ceilings: list[float] = []
    copies: dict[int, list[tuple[float, int]]] = {segments: [] for segments in segment_counts}
    for _ in range(REPEATS):
        ceilings.append(ceiling_run())
        for segments in segment_counts:
            copies[segments].append(backfill_run(segments))
    ceiling = max(ceilings)
    runs = []
    for segments in segment_counts:
        rate, requests = max(copies[segments])
        runs.append(
            {
                "segments": segments,
                "items_per_s": round(rate),
                "ratio": round(rate / ceiling, 2),
                "write_requests": requests,
            }
        )
    ddb.delete_table(TableName="source")
    return {"items": COPY_ITEMS, "repeats": REPEATS, "ceiling_batch_write_items_per_s": round(ceiling), "runs": runs}


def print_copy(copy: dict[str, Any], where: str) -> None:
    print(f"\nbulk copy on the emulator, {copy['items']:,} items of ~1 KB, {where}")
    ceiling = copy["ceiling_batch_write_items_per_s"]
    print(f"  ceiling (unconditional BatchWriteItem, 8 threads): {ceiling:>8,} items/s")
    print(f"  (every figure: the best of {REPEATS} runs)")
    for run in copy["runs"]:
        print(
            f"  backfill, {run['segments']} segment(s): {run['items_per_s']:>8,} items/s   "
            f"ratio to ceiling {run['ratio']:.2f} (target 0.80)   {run['write_requests']:,} write requests"
        )


def bench_copies(tmp: Path) -> dict[str, Any]:
    """Pinned (emulator on its own core) with 1, 2, 4, 8 segments, then sharing every core with 4 segments."""
    figures: dict[str, Any] = {}
    cores = placement()
    passes = [("pinned", SEGMENTS, cores), ("shared", (4,), None)] if cores else [("shared", SEGMENTS, None)]
    for name, segment_counts, pinned in passes:
        process, endpoint = start_emulator(tmp, pinned[0] if pinned else None)
        if pinned:
            os.sched_setaffinity(0, pinned[1])
        try:
            figures[name] = bench_backfill(client(endpoint), client(endpoint, validate=False), segment_counts)
        finally:
            if pinned:
                os.sched_setaffinity(0, pinned[0] | pinned[1])
            process.terminate()
            process.wait(timeout=30)
        where = (
            f"emulator on core {sorted(pinned[0])[0]}, client on cores {sorted(pinned[1])}"
            if pinned
            else "client and emulator sharing every core"
        )
        figures[name]["placement"] = where
        print_copy(figures[name], where)
    return figures


VERIFY_CHILD = """
import json, resource, sys, time, boto3
from botocore.config import Config
from dynamigrate.sdkcodec import fast
from dynamigrate.verify import verify
ddb = fast(boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                        config=Config(max_pool_connections=64)))  # as the CLI's clients
started = time.perf_counter()
report = verify(ddb, ddb, "vsource", "vtarget", source_key=("pk", "sk"), target_key=("pk", "sk"), segments=8)
seconds = time.perf_counter() - started
print(json.dumps({"equal": report.equal, "items": report.source_items, "seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench_verify(ddb: Any, endpoint: str) -> dict[str, Any]:
    create(ddb, "vsource")
    create(ddb, "vtarget")
    for start in range(0, VERIFY_ITEMS, 20_000):
        chunk = [item(i, size=300) for i in range(start, min(VERIFY_ITEMS, start + 20_000))]
        batch_write(ddb, "vsource", chunk)
        batch_write(ddb, "vtarget", chunk)
    env = {**os.environ, **CREDENTIALS}
    done = subprocess.run(
        [sys.executable, "-c", VERIFY_CHILD, endpoint], capture_output=True, text=True, check=True, env=env
    )
    result = json.loads(done.stdout)
    assert result["equal"] and result["items"] == VERIFY_ITEMS, result
    return {
        "items": VERIFY_ITEMS,
        "items_per_s": round(2 * VERIFY_ITEMS / result["seconds"]),  # both tables are read
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "rss_ratio": round(300 / result["peak_rss_mb"], 2),
    }


def main() -> None:
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        copy = bench_copies(Path(tmp)) if COPY_ITEMS else {}
        process, endpoint = start_emulator(Path(tmp))
        try:
            check = bench_verify(client(endpoint), endpoint)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"\nverify of two equal tables of {check['items']:,} items (~300 B)")
    print(f"  {check['items_per_s']:,} items/s read and compared")
    print(f"  peak RSS {check['peak_rss_mb']} MB (target under 300 MB; ratio target/figure {check['rss_ratio']})")
    out = REPO / "build" / "bench-bulk.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"backfill": copy, "verify": check}, indent=2))
    print(f"\nfigures written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
