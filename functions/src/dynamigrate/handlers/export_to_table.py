"""Target account: an Export to S3 -> the target table, one data file per task of a Distributed Map.

The module's state machine (modules/target, ``export_load``) calls this function
with three kinds of event (``action``):

``prepare`` ``{"export_arn"}``
    Reads the export's manifests under the export prefix, refuses anything but a
    complete full export in DYNAMODB_JSON, and writes the list of data files
    (key and item count) as one JSON array, which the Distributed Map reads with
    its ``ItemReader``.
``load`` ``{"export_id", "key", "item_count", "next_item"}``
    Loads one data file through the copy plan and batched conditional
    transactions (the version rule, the optional transform), from item
    ``next_item``, until the file ends or the invocation's time runs low; then
    it returns ``done: false`` and the state machine calls again from where it
    stopped. Loading is idempotent (a copy finds its item there: ``exists``), so
    a retried or repeated call changes nothing that matters. Items the plan or
    DynamoDB refuses are parked in the bucket under the dead-letter prefix with
    their reason; the file's counts are written under the load prefix.
``summarize`` ``{"export_id", "export_arn", "item_count", "file_count"}``
    Adds the files' counts up and checks that every file reported and that
    read = written + skipped + parked + failed = the export's item count. It
    writes ``summary.json`` and fails the execution, naming what is missing or
    parked, unless everything was loaded.
"""

from __future__ import annotations

import gzip
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from dynamigrate import aws, jsonl
from dynamigrate.batchcopy import TransactBatcher
from dynamigrate.capacity import CapacityLimiter
from dynamigrate.config import LoaderConfig
from dynamigrate.ddbjson import to_wire
from dynamigrate.exportload import DataFile, ExportFormatError, FileLoader, manifest_key, read_manifest
from dynamigrate.rule import APPLIED, EXISTS, FAILED, PARKED, STALE, TOMBSTONED, VersionRule

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from dynamigrate.ddbjson import Item
    from dynamigrate.rule import Transform

logger = Logger()
metrics = Metrics()

# Stop taking new chunks when less than this is left of the invocation: one chunk
# (1,000 items) and the result object must still fit.
RESERVE_MILLIS = 90_000

COUNTS = {
    "written": APPLIED,
    "skipped_exists": EXISTS,
    "skipped_deleted": TOMBSTONED,
    "skipped_stale": STALE,
    "parked": PARKED,
    "failed": FAILED,
}
METRICS = {
    "written": "ExportItemsWritten",
    "skipped_exists": "ExportItemsExisting",
    "skipped_deleted": "ExportItemsTombstoned",
    "skipped_stale": "ExportItemsStale",
    "parked": "ExportItemsParked",
    "failed": "ExportItemsFailed",
}


class ExportLoadIncompleteError(RuntimeError):
    """The load did not account for every item of the export (the state machine does not retry it)."""


class TransientLoadError(RuntimeError):
    """Writes still failed after the batcher's retries (the state machine retries the call)."""


@dataclass
class Loader:
    config: LoaderConfig
    transform: Transform | None = None
    _rule: VersionRule | None = None

    @classmethod
    def from_env(cls) -> Loader:
        config = LoaderConfig.from_env()
        transform = None
        if config.transform:
            from dynamigrate.transforms import load  # noqa: PLC0415 - only when a transform is configured

            transform = load(config.transform)
        return cls(config, transform)

    @property
    def rule(self) -> VersionRule:
        if self._rule is None:
            self._rule = VersionRule.for_table(
                aws.dynamodb(),
                self.config.table,
                ledger_table=self.config.ledger_table,
                version_attribute=self.config.version_attribute,
                retention_seconds=self.config.ledger_retention_seconds,
            )
        return self._rule

    def _load_key(self, export_id: str, *parts: str) -> str:
        return "/".join((self.config.load_prefix.rstrip("/"), export_id, *parts))

    # ------------------------------------------------------------- prepare --

    def prepare(self, event: dict[str, Any]) -> dict[str, Any]:
        export_arn = _required(event, "export_arn")
        export_id = export_arn.rsplit("/", 1)[-1]
        summary_key = manifest_key(self.config.export_prefix, export_arn)
        manifest = read_manifest(aws.s3(), self.config.bucket, summary_key)
        if manifest.export_arn != export_arn:
            raise ExportFormatError(f"{summary_key} describes export {manifest.export_arn}, not {export_arn}")
        files_key = self._load_key(export_id, "files.json")
        files = [{"key": f.key, "item_count": f.item_count} for f in manifest.files]
        aws.s3().put_object(
            Bucket=self.config.bucket, Key=files_key, Body=jsonl.dumps(files), ContentType="application/json"
        )
        logger.info(
            "export prepared",
            extra={"export_arn": export_arn, "files": len(files), "items": manifest.item_count},
        )
        return {
            "bucket": self.config.bucket,
            "files_key": files_key,
            "export_arn": export_arn,
            "export_id": export_id,
            "export_time": manifest.export_time,
            "item_count": manifest.item_count,
            "file_count": len(files),
        }

    # ---------------------------------------------------------------- load --

    def load(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        export_id = _required(event, "export_id")
        data_file = DataFile(key=_required(event, "key"), item_count=int(event["item_count"]))
        if not data_file.key.startswith(self.config.export_prefix):
            raise ExportFormatError(f"{data_file.key} is outside the export prefix {self.config.export_prefix}")
        start = int(event.get("next_item") or 0)
        counts = {name: int((event.get("counts") or {}).get(name, 0)) for name in ("read", *COUNTS)}

        limiter = CapacityLimiter(self.config.write_units_per_second)
        batcher = TransactBatcher(aws.dynamodb(), self.config.table, limiter=limiter)

        def should_stop() -> bool:
            return context is not None and context.get_remaining_time_in_millis() < RESERVE_MILLIS

        with ThreadPoolExecutor(max_workers=self.config.threads, thread_name_prefix="load") as writers:
            loader = FileLoader(aws.s3(), self.rule, batcher, writers, self.transform)
            progress = loader.load_file(self.config.bucket, data_file, start=start, should_stop=should_stop)

        tallied = progress.tally.counts
        if progress.tally.failed:
            # Throttling or server errors outlived the batcher's retries: nothing is
            # lost by calling again from ``start`` (copies already made find their item).
            reason = progress.tally.failed[0].reason
            raise TransientLoadError(f"{tallied[FAILED]} writes of {data_file.key} failed after retries: {reason}")
        counts["read"] += progress.read
        for name, outcome in COUNTS.items():
            counts[name] += tallied[outcome]
            if tallied[outcome]:
                metrics.add_metric(name=METRICS[name], unit=MetricUnit.Count, value=tallied[outcome])
        dead_letter_key = self._park(export_id, data_file, start, progress.parked) if progress.parked else None
        state: dict[str, Any] = {
            "action": "load",  # the state machine calls again with this very state when not done
            "export_id": export_id,
            "key": data_file.key,
            "item_count": data_file.item_count,
            "next_item": progress.next_item,
            "done": progress.done,
            "counts": counts,
        }
        if dead_letter_key:
            state["dead_letter_keys"] = [*event.get("dead_letter_keys", []), dead_letter_key]
        elif event.get("dead_letter_keys"):
            state["dead_letter_keys"] = event["dead_letter_keys"]
        if progress.done:
            aws.s3().put_object(
                Bucket=self.config.bucket,
                Key=self._load_key(export_id, "files", _file_name(data_file.key) + ".json"),
                Body=jsonl.dumps(state),
                ContentType="application/json",
            )
        logger.info("data file loaded" if progress.done else "data file paused", extra=state)
        return state

    def _park(self, export_id: str, data_file: DataFile, start: int, parked: list[tuple[Item, str]]) -> str:
        """Write refused items, each with its reason, where a rerun or replay can take them."""
        key = "/".join(
            (
                self.config.dead_letter_prefix.rstrip("/"),
                "export-loads",
                export_id,
                f"{_file_name(data_file.key)}-{start}.jsonl.gz",
            )
        )
        lines = b"".join(jsonl.dumps({"Item": to_wire(item), "reason": reason}) + b"\n" for item, reason in parked)
        aws.s3().put_object(
            Bucket=self.config.bucket,
            Key=key,
            Body=gzip.compress(lines, mtime=0),
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
            Metadata={"record-count": str(len(parked)), "source-key": data_file.key[:1000]},
        )
        for item, reason in parked[:10]:
            logger.warning("parked item", extra={"source_key": data_file.key, "reason": reason, "keys": list(item)})
        return key

    # ----------------------------------------------------------- summarize --

    def summarize(self, event: dict[str, Any]) -> dict[str, Any]:
        export_id = _required(event, "export_id")
        expected_items = int(event["item_count"])
        expected_files = int(event["file_count"])
        s3 = aws.s3()
        prefix = self._load_key(export_id, "files") + "/"
        keys = [
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.config.bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]
        totals = dict.fromkeys(("read", *COUNTS), 0)
        dead_letters: list[str] = []
        for key in keys:
            state = jsonl.loads(s3.get_object(Bucket=self.config.bucket, Key=key)["Body"].read())
            for name in totals:
                totals[name] += int(state["counts"][name])
            dead_letters.extend(state.get("dead_letter_keys", []))
        accounted = sum(totals[name] for name in COUNTS)
        summary = {
            "export_arn": event.get("export_arn"),
            "target_table": self.config.table,
            "files": expected_files,
            "files_loaded": len(keys),
            "items": expected_items,
            **totals,
            "reconciled": totals["read"] == accounted == expected_items and len(keys) == expected_files,
            "dead_letter_keys": dead_letters[:100],
            "finished_at": time.time(),
        }
        s3.put_object(
            Bucket=self.config.bucket,
            Key=self._load_key(export_id, "summary.json"),
            Body=jsonl.dumps(summary),
            ContentType="application/json",
        )
        logger.info("export load summarized", extra=summary)
        if len(keys) != expected_files:
            raise ExportLoadIncompleteError(
                f"{len(keys)} of {expected_files} data files reported under s3://{self.config.bucket}/{prefix}: "
                "start the execution again (loading is idempotent)"
            )
        if not summary["reconciled"]:
            raise ExportLoadIncompleteError(
                f"read {totals['read']}, accounted {accounted}, export holds {expected_items}: counts do not reconcile"
            )
        if totals["parked"]:
            raise ExportLoadIncompleteError(
                f"{totals['parked']} items were refused and parked under "
                f"s3://{self.config.bucket}/{self.config.dead_letter_prefix}export-loads/{export_id}/ "
                "with their reasons: fix them (or the transform) and load them again"
            )
        return summary


def _required(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"event has no {name!r}: the state machine passes it (was it started by hand?)")
    return value


def _file_name(key: str) -> str:
    return key.rsplit("/", 1)[-1].removesuffix(".json.gz")


_loader: Loader | None = None


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _loader  # noqa: PLW0603 - built once per execution environment
    if _loader is None:
        _loader = Loader.from_env()
        metrics.set_default_dimensions(Migration=_loader.config.migration)
    action = event.get("action")
    if action == "prepare":
        return _loader.prepare(event)
    if action == "load":
        return _loader.load(event, context)
    if action == "summarize":
        return _loader.summarize(event)
    raise ValueError(f"unknown action {action!r}: expected prepare, load or summarize")
