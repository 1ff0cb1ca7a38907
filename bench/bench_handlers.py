"""Handler benchmarks (`make bench`): the function's own work, AWS calls stubbed, one core.

Prints each figure next to its target and the ratio figure/target (or
target/figure where smaller is better), and writes them to build/bench.json.

* stream-to-S3: records/s for batches of 1,000 records of ~1 KB (target 50,000);
* writer: records/s to decode a change object of 1,000 changes and build their
  conditional requests (target 25,000), in both version-rule modes;
* S3 PUTs per million changes at the default batch settings, against one
  object per change (the seed article's design; target at least 100x fewer);
* handler import time in a fresh interpreter (target under 300 ms);
* Lambda zip size (target under 5 MB).

Throughput figures are the best of several repetitions (as `timeit` reports):
the machine's other load only ever makes a run slower.
"""

from __future__ import annotations

import compileall
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENV = {
    "CHANGE_BUCKET_NAME": "bench-bucket",
    "SOURCE_TABLE_NAME": "orders",
    "TARGET_TABLE_NAME": "orders",
    "LEDGER_TABLE_NAME": "orders-ledger",
    "POWERTOOLS_METRICS_NAMESPACE": "Dynamigrate",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}
BATCH = 1000
REPEATS = 5


def image(i: int, *, binary: bool = False, nested: bool = False) -> dict[str, Any]:
    """An item of about 1 KB: strings and numbers, a set, a small map, a list (as most tables hold).

    ``nested`` adds a list of maps (order lines), the shape that costs a
    parser most (every map is an object to build): reported separately.
    """
    item: dict[str, Any] = {
        "pk": {"S": f"customer#{i % 997:06d}"},
        "sk": {"N": str(i)},
        "status": {"S": "SHIPPED"},
        "amount": {"N": "12345.67"},
        "currency": {"S": "EUR"},
        "created_at": {"S": "2026-11-23T12:00:00Z"},
        "customer_name": {"S": "Erika Mustermann"},
        "email": {"S": "erika@example.com"},
        "tags": {"SS": ["priority", "gift", "eu"]},
        "address": {"M": {"street": {"S": "Hauptstraße 1"}, "city": {"S": "Berlin"}, "zip": {"S": "10115"}}},
        "items": {"L": [{"S": "sku-1"}, {"S": "sku-2"}, {"S": "sku-3"}]},
        "note": {"S": "x" * 580},
        "updated_at": {"N": str(1_763_900_000_000 + i)},
    }
    if nested:
        item["lines"] = {"L": [{"M": {"sku": {"S": f"sku-{j}"}, "qty": {"N": str(j + 1)}}} for j in range(3)]}
        item["note"] = {"S": "x" * 480}
    if binary:
        item["signature"] = {"B": "c2lnbmF0dXJlLWJ5dGVz"}
    return item


def stream_record(i: int) -> dict[str, Any]:
    op = ("INSERT", "MODIFY", "MODIFY", "MODIFY", "REMOVE")[i % 5]
    new = image(i)
    ddb: dict[str, Any] = {
        "ApproximateCreationDateTime": time.time(),
        "Keys": {"pk": new["pk"], "sk": new["sk"]},
        "SequenceNumber": str(111_100_000_000_000_000_000_000 + i),
        "SizeBytes": 1000,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if op != "REMOVE":
        ddb["NewImage"] = new
    if op != "INSERT":
        ddb["OldImage"] = new
    return {
        "eventID": f"{i:032x}",
        "eventName": op,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": ddb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:111111111111:table/orders/stream/2026-01-01T00:00:00.000",
    }


class Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


class StubS3:
    def __init__(self) -> None:
        self.puts = 0
        self.bytes = 0

    def put_object(self, **params: Any) -> dict[str, Any]:
        self.puts += 1
        self.bytes = len(params["Body"])
        return {}


def best_rate(run: Any, records: int, calls: int = 10) -> float:
    """Records/s of the fastest of REPEATS timings of `calls` runs."""
    run()  # warm up
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, time.perf_counter() - started)
    return records * calls / best


def bench_stream_to_s3() -> dict[str, Any]:
    from dynamigrate import aws, jsonl
    from dynamigrate.handlers import stream_to_s3

    s3 = StubS3()
    aws._clients["s3"] = s3  # the cached client the handler uses
    event = {"Records": [stream_record(i) for i in range(BATCH)]}
    with contextlib.redirect_stdout(io.StringIO()):  # Powertools' logs and EMF go to stdout
        rate = best_rate(lambda: stream_to_s3.lambda_handler(event, Context()), BATCH)
    return {"records_per_second": round(rate), "object_bytes": s3.bytes, "json": jsonl.BACKEND}


def bench_writer() -> dict[str, Any]:
    from dynamigrate import jsonl
    from dynamigrate.changes import decode_object, encode_object, line_from_stream_record
    from dynamigrate.rule import TableSchema, VersionRule

    figures: dict[str, Any] = {"json": jsonl.BACKEND}
    schema = TableSchema("orders", {"pk": "S", "sk": "N"})
    for variant in ("", "_with_binaries", "_nested_maps"):
        records = [stream_record(i) for i in range(BATCH)]
        for index, record in enumerate(records):
            if variant and "NewImage" in record["dynamodb"]:
                record["dynamodb"]["NewImage"] = image(
                    index, binary=variant == "_with_binaries", nested=variant == "_nested_maps"
                )
        data = encode_object([line_from_stream_record(r) for r in records], source="bench")
        for mode in (None, "updated_at"):
            rule = VersionRule(schema, "orders-ledger", mode)

            def run(rule: VersionRule = rule, data: bytes = data) -> list[Any]:
                now = time.time()
                return [rule.plan_change(rule.target_change(c), now) for c in decode_object(data).changes]

            name = f"{'attribute' if mode else 'stream'}_mode{variant}"
            figures[name] = round(best_rate(run, BATCH))
    return figures


def s3_puts_per_million() -> dict[str, Any]:
    """PUTs per million changes with the module's defaults (batch 1,000, window 1 s), per shard rate.

    Lambda invokes a stream function when the batch is full or the batching
    window has elapsed (and under 6 MB), so a shard taking r changes/s gives
    objects of min(1000, r x 1 s) changes. One object per change (the seed
    article) costs 1,000,000 PUTs whatever the rate.
    """
    batch_size, window = 1000, 1.0
    rows = {}
    for rate in (10, 100, 1_000, 10_000):
        per_object = max(1.0, min(batch_size, rate * window))
        rows[f"{rate}_changes_per_second_per_shard"] = round(1_000_000 / per_object)
    return rows


def import_time(module: str, package: Path, *, bytecode: bool) -> float:
    """Milliseconds to import a handler from the unpacked Lambda zip in a fresh interpreter (median of 5).

    As in Lambda: the zip's folder first on sys.path, botocore from the
    environment (the runtime provides it, compiled). Lambda cannot write
    bytecode next to the zip's sources, so ``bytecode=False`` compiles every
    module of the zip on each import, as a Lambda cold start does.
    """
    code = (
        f"import sys, time; sys.path.insert(0, {str(package)!r}); t = time.perf_counter(); "
        f"import {module}; print(time.perf_counter() - t)"
    )
    env = {**os.environ, **ENV}
    flags = [] if bytecode else ["-B"]
    if bytecode:
        compileall.compile_dir(package, quiet=1)
    else:
        for cache in package.rglob("__pycache__"):
            shutil.rmtree(cache)
    samples = []
    for _ in range(5):
        out = subprocess.run([sys.executable, *flags, "-c", code], env=env, capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip()) * 1000)
    return round(statistics.median(samples), 1)


def report(name: str, value: float, target: float, unit: str, *, smaller_is_better: bool = False) -> str:
    ratio = (target / value if value else float("inf")) if smaller_is_better else value / target
    verdict = "meets target" if ratio >= 1 else "BELOW target"
    return f"{name:<58} {value:>12,.1f} {unit:<12} target {target:>10,.0f}  ratio {ratio:5.2f}  {verdict}"


def main() -> int:
    os.environ.update(ENV)
    sys.path.insert(0, str(REPO / "functions" / "src"))
    results: dict[str, Any] = {}
    results["stream_to_s3"] = bench_stream_to_s3()
    results["writer"] = bench_writer()
    results["s3_puts_per_million"] = s3_puts_per_million()
    zip_path = REPO / "dist" / "dynamigrate-lambda.zip"
    if not zip_path.is_file():
        raise SystemExit(f"{zip_path} is missing: run `make build` (make bench does)")
    results["zip_mib"] = round(zip_path.stat().st_size / 1_048_576, 2)
    results["import_ms"] = {}
    with tempfile.TemporaryDirectory() as unpacked:
        package = Path(unpacked)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(package)
        for bytecode in (False, True):
            for handler in ("stream_to_s3", "s3_to_table"):
                label = f"{handler}{'' if bytecode else '_as_deployed'}"
                module = f"dynamigrate.handlers.{handler}"
                results["import_ms"][label] = import_time(module, package, bytecode=bytecode)

    lines = [f"Handler benchmarks (one core, AWS stubbed, best of {REPEATS}; json: {results['writer']['json']})"]
    lines.append(
        report(
            "stream-to-S3, records/s (1,000 x ~1 KB)",
            results["stream_to_s3"]["records_per_second"],
            50_000,
            "records/s",
        )
    )
    for key in sorted(k for k in results["writer"] if k != "json"):
        lines.append(
            report(f"writer decode + plan, {key.replace('_', ' ')}", results["writer"][key], 25_000, "records/s")
        )
    seed = 1_000_000
    for rate_key, puts in results["s3_puts_per_million"].items():
        rate = rate_key.split("_")[0]
        label = f"S3 PUTs per 1M changes at {int(rate):,}/s per shard"
        lines.append(report(label + " (x fewer)", seed / puts, 100, "x fewer") + f"   ({puts:,} PUTs)")
    for handler, ms in results["import_ms"].items():
        name = handler.replace("_as_deployed", "")
        how = "zip as deployed, compiling its sources" if handler.endswith("_as_deployed") else "with bytecode"
        lines.append(report(f"import time, {name} ({how})", ms, 300, "ms", smaller_is_better=True))
    lines.append(report("Lambda zip size", results["zip_mib"], 5, "MiB", smaller_is_better=True))
    print("\n".join(lines))
    out = REPO / "build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nfigures written to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
