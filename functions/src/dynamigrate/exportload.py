"""Load a DynamoDB export (Export to S3, DYNAMODB_JSON) into a live table through the version rule.

An export is a consistent copy of the table at its ``exportTime``, read
without consuming any of the source's capacity. Its layout (AWS's, also
written by the embedded emulator):

    <prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json   exportTime, itemCount, manifestFilesS3Key
    <prefix>/AWSDynamoDB/<ExportId>/manifest-files.json     one JSON line per data file:
                                                            {"itemCount", "md5Checksum", "etag", "dataFileS3Key"}
    <prefix>/AWSDynamoDB/<ExportId>/data/*.json.gz          one {"Item": {...}} line per item

Each item goes through the same copy plan as the scan backfill
(``VersionRule.plan_copy``, optional transform) and the same batched
transactions, so loading an export while replication runs never overwrites a
newer change and never resurrects a delete. ``load_file`` is the unit of work
(one data file): the CLI runs it over every file locally, and a Step Functions
Distributed Map can run it per file in Lambda. Every file's item count is
checked against the manifest, and the totals reconcile:
read = applied + exists + tombstoned + stale + parked + failed.

The hand-off leaves no gap because the change capture and the writer run
throughout: every change made after the export time (and before it, which the
version rule makes harmless) is applied by the writer as it arrives, and the
loaded copies only fill keys replication has not touched.
"""

from __future__ import annotations

import gzip
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from dynamigrate import jsonl
from dynamigrate.apply import Result, Tally
from dynamigrate.backfill import COPIES_PER_REQUEST, BackfillReport, Checkpoint, Interrupted, plan_copy_or_park
from dynamigrate.batchcopy import TransactBatcher
from dynamigrate.capacity import CapacityLimiter
from dynamigrate.ddbjson import to_client
from dynamigrate.rule import PARKED

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform, VersionRule

LINES_PER_CHUNK = 1000


class ExportFormatError(ValueError):
    """The export is not a complete DYNAMODB_JSON full export (or was altered)."""


@dataclass(frozen=True)
class DataFile:
    key: str
    item_count: int


@dataclass(frozen=True)
class ExportManifest:
    bucket: str
    summary_key: str
    export_arn: str
    export_time: float
    item_count: int
    files: tuple[DataFile, ...]


def manifest_key(prefix: str | None, export_arn: str) -> str:
    """Where AWS writes the summary manifest of an export."""
    export_id = export_arn.rsplit("/", 1)[-1]
    base = f"{prefix.rstrip('/')}/AWSDynamoDB/{export_id}" if prefix else f"AWSDynamoDB/{export_id}"
    return f"{base}/manifest-summary.json"


def read_manifest(s3: S3Client, bucket: str, summary_key: str) -> ExportManifest:
    try:
        summary = jsonl.loads(s3.get_object(Bucket=bucket, Key=summary_key)["Body"].read())
    except s3.exceptions.NoSuchKey as exc:
        raise ExportFormatError(
            f"s3://{bucket}/{summary_key} does not exist: is the export finished (ExportStatus COMPLETED), "
            "and are the bucket and prefix right?"
        ) from exc
    if summary.get("outputFormat") != "DYNAMODB_JSON" or summary.get("exportType", "FULL_EXPORT") != "FULL_EXPORT":
        raise ExportFormatError(
            f"export {summary.get('exportArn')} is {summary.get('exportType')} in {summary.get('outputFormat')}: "
            "load-export reads full exports in DYNAMODB_JSON"
        )
    listing = s3.get_object(Bucket=bucket, Key=summary["manifestFilesS3Key"])["Body"].read().decode("utf-8")
    files = tuple(
        DataFile(key=entry["dataFileS3Key"], item_count=int(entry["itemCount"]))
        for entry in (jsonl.loads(line) for line in listing.splitlines() if line.strip())
    )
    total = sum(f.item_count for f in files)
    if total != int(summary["itemCount"]):
        raise ExportFormatError(
            f"manifest lists {total} items in {len(files)} files but the summary says {summary['itemCount']}"
        )
    return ExportManifest(
        bucket=bucket,
        summary_key=summary_key,
        export_arn=summary["exportArn"],
        export_time=datetime.fromisoformat(summary["exportTime"].replace("Z", "+00:00")).timestamp(),
        item_count=total,
        files=files,
    )


def read_items(s3: S3Client, bucket: str, data_file: DataFile, start: int = 0) -> Iterator[tuple[int, list[Item]]]:
    """Yield (items consumed so far, chunk of items in boto3 client form) of one data file from item ``start``.

    The items before ``start`` are read and counted but not parsed; reading to the end checks the file's
    item count against the manifest.
    """
    body = s3.get_object(Bucket=bucket, Key=data_file.key)["Body"]
    count = 0
    chunk: list[Item] = []
    with gzip.GzipFile(fileobj=body) as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            count += 1
            if count <= start:
                continue
            try:
                chunk.append(to_client(jsonl.loads(line)["Item"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ExportFormatError(f"{data_file.key} line {number} is not an exported item: {exc}") from exc
            if len(chunk) == LINES_PER_CHUNK:
                yield count, chunk
                chunk = []
    if chunk:
        yield count, chunk
    if count != data_file.item_count:
        raise ExportFormatError(
            f"{data_file.key} holds {count} items but the manifest says {data_file.item_count}: "
            "the export is incomplete or was altered"
        )


@dataclass
class FileProgress:
    """What one call of :meth:`FileLoader.load_file` did: its outcomes and where the file stands."""

    tally: Tally  # outcome counts; the parked and failed results themselves, not every result
    read: int
    next_item: int
    done: bool
    parked: list[tuple[Item, str]] = field(default_factory=list)  # source items DynamoDB or the plan refused


@dataclass
class FileLoader:
    """Loads data files into the target through the copy plan and batched transactions."""

    s3: S3Client
    rule: VersionRule
    batcher: TransactBatcher
    writers: ThreadPoolExecutor
    transform: Transform | None = None

    def load_file(
        self,
        bucket: str,
        data_file: DataFile,
        on_chunk: Callable[[int], None] | None = None,
        *,
        start: int = 0,
        should_stop: Callable[[], bool] | None = None,
    ) -> FileProgress:
        """Load the file from item ``start``; between chunks, stop early when ``should_stop()`` says so."""
        tally = Tally()
        parked: list[tuple[Item, str]] = []
        position = start
        for position, chunk in read_items(self.s3, bucket, data_file, start):
            planned = [plan_copy_or_park(self.rule, self.transform, item) for item in chunk]
            todo = [i for i, p in enumerate(planned) if not isinstance(p, Result)]
            outcomes: list[Result | None] = [p if isinstance(p, Result) else None for p in planned]
            groups = [todo[i : i + COPIES_PER_REQUEST] for i in range(0, len(todo), COPIES_PER_REQUEST)]
            batches = ([planned[i] for i in group] for group in groups)
            for group, done in zip(groups, self.writers.map(self.batcher.run, batches), strict=True):
                for index, result in zip(group, done, strict=True):
                    outcomes[index] = result
            for item, outcome in zip(chunk, outcomes, strict=True):
                assert outcome is not None  # every copy got its result from the batcher
                tally.add(outcome)
                if outcome.outcome == PARKED:
                    parked.append((item, outcome.reason))
            if on_chunk is not None:
                on_chunk(len(chunk))
            if should_stop is not None and position < data_file.item_count and should_stop():
                return FileProgress(tally, position - start, position, done=False, parked=parked)
        return FileProgress(tally, position - start, position, done=True, parked=parked)


@dataclass
class _State:
    report: BackfillReport
    checkpoint: Checkpoint | None
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_export(
    s3: S3Client,
    target: DynamoDBClient,
    manifest: ExportManifest,
    rule: VersionRule,
    *,
    transform: Transform | None = None,
    transform_name: str = "",
    files_at_once: int = 4,
    threads: int = 16,
    write_limiter: CapacityLimiter | None = None,
    checkpoint: Path | None = None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> BackfillReport:
    """Load every data file of the export; resumable per file from ``checkpoint``."""
    report = BackfillReport(
        source_table=manifest.export_arn, target_table=rule.target.name, segments=len(manifest.files)
    )
    identity = {
        "export": manifest.export_arn,
        "target_table": rule.target.name,
        "ledger_table": rule.ledger_table,
        "version_attribute": rule.version_attribute,
        "transform": transform_name,
    }
    state = _State(report, Checkpoint.open(checkpoint, identity, report) if checkpoint is not None else None)
    writes = write_limiter or CapacityLimiter(None)
    writes.consumed = report.write_units
    batcher = TransactBatcher(target, rule.target.name, limiter=writes)
    stop = stop or threading.Event()
    started = time.monotonic()

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="load") as writers:
        loader = FileLoader(s3, rule, batcher, writers, transform)

        def run(index: int) -> bool:
            if state.checkpoint is not None and index in state.checkpoint.done:
                return True
            if stop.is_set():
                return False
            data_file = manifest.files[index]
            loaded = loader.load_file(manifest.bucket, data_file, progress)
            with state.lock:
                report.read += loaded.read
                report.add_tally(loaded.tally)
                report.write_units = writes.consumed
                if state.checkpoint is not None:
                    state.checkpoint.done.add(index)
                    state.checkpoint.save(report)
            return True

        with ThreadPoolExecutor(max_workers=max(1, files_at_once), thread_name_prefix="file") as files:
            try:
                finished = list(files.map(run, range(len(manifest.files))))
            except KeyboardInterrupt:
                stop.set()
                raise Interrupted("interrupted") from None
            finally:
                report.seconds = time.monotonic() - started
                report.requests = batcher.stats.requests
    if not all(finished):
        raise Interrupted("stopped")
    return report
