"""Replay the change log and redrive what failed, always through the version rule.

Three operations, each safe to repeat (an equal or older change loses, so a
change applied twice is counted ``stale`` the second time and writes nothing):

* :meth:`Replayer.replay_window`: every change captured in a time window,
  read from the change objects in the bucket (the hand-off after an export,
  or a re-run after an incident);
* :meth:`Replayer.redrive_dead_letters`: the changes the writer parked, with
  their reasons, after the cause was fixed (a transform, an item size, a
  longer ledger retention for changes parked as too old);
* :meth:`Replayer.redrive_queue`: the messages in the writer's dead-letter
  queue (objects whose message failed ``maxReceiveCount`` times), deleted from
  the queue only once their object applied.

The writer's own configuration is the source of truth for where changes live
and which tables they go to: :func:`writer_config` reads it from the deployed
writer function, so a replay cannot disagree with the pipeline.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from dynamigrate.changes import MalformedChangeObjectError
from dynamigrate.config import ConfigError, WriterConfig
from dynamigrate.rule import APPLIED, FAILED, PARKED, STALE, TOMBSTONED
from dynamigrate.writer import ChangeWriter, ForeignObjectError, NotAChangeObjectError, ObjectSummary, object_refs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# How long a redrive holds a dead-letter-queue message invisible while it
# applies the object; messages that fail again are made visible at the end.
REDRIVE_VISIBILITY_SECONDS = 900
# Objects whose first change is up to this much before the window may hold
# changes inside it (one object is one stream batch: seconds to minutes).
OBJECT_SPAN = timedelta(hours=1)
UNREADABLE = (MalformedChangeObjectError, ForeignObjectError, NotAChangeObjectError)


class ReplayError(RuntimeError):
    """The deployment does not allow the requested replay (wrong function, no queue)."""


def writer_config(functions: LambdaClient, function_name: str) -> WriterConfig:
    """The configuration of the deployed writer function (its environment, as at its cold start)."""
    try:
        described = functions.get_function_configuration(FunctionName=function_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise ReplayError(
                f"writer function {function_name!r} does not exist in the target account: pass the Terraform "
                "output writer_function_name and the target account's profile or role"
            ) from exc
        raise
    env = (described.get("Environment") or {}).get("Variables") or {}
    try:
        return WriterConfig.from_env(env)
    except ConfigError as exc:
        raise ReplayError(f"{function_name} is not a dynamigrate writer function: {exc}") from exc


def dead_letter_queue_url(functions: LambdaClient, queues: SQSClient, function_name: str) -> str:
    """The dead-letter queue behind the writer's SQS event source (from the queue's redrive policy)."""
    mappings = functions.list_event_source_mappings(FunctionName=function_name).get("EventSourceMappings", [])
    sources = [m["EventSourceArn"] for m in mappings if m.get("EventSourceArn", "").startswith("arn:aws:sqs:")]
    if not sources:
        raise ReplayError(f"{function_name} reads no SQS queue: is it the dynamigrate writer function?")
    queue_url = _queue_url(queues, sources[0])
    attributes = queues.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = json.loads(attributes.get("RedrivePolicy") or "{}")
    if not policy.get("deadLetterTargetArn"):
        raise ReplayError(f"queue {queue_url} has no redrive policy, so it has no dead-letter queue to redrive")
    return _queue_url(queues, policy["deadLetterTargetArn"])


def _queue_url(queues: SQSClient, arn: str) -> str:
    _, _, _, _, account, name = arn.split(":", 5)
    return queues.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def parse_time(raw: str) -> datetime:
    """An RFC 3339 time (``2026-12-03T10:00:00Z``), or a duration before now (``90m``, ``6h``, ``2d``)."""
    raw = raw.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if raw and raw[-1] in units and raw[:-1].replace(".", "", 1).isdigit():
        return datetime.now(tz=UTC) - timedelta(seconds=float(raw[:-1]) * units[raw[-1]])
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{raw!r} is neither an RFC 3339 time (2026-12-03T10:00:00Z) nor a duration (6h)") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{raw!r} has no time zone: write it in UTC, e.g. 2026-12-03T10:00:00Z")
    return parsed


@dataclass
class ReplayReport:
    """What a replay or redrive did. ``read == applied + stale + parked + failed + superseded + outside``."""

    operation: str
    window: tuple[str, str] | None = None
    objects: int = 0
    read: int = 0
    outside_window: int = 0
    superseded: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)  # object or message, and why
    failed_objects: list[str] = field(default_factory=list)
    parked_objects: list[str] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)  # queue redrive: deleted / left

    @property
    def ok(self) -> bool:
        """Every change applied or lost to a newer one: nothing failed, parked or was unreadable."""
        return not self.outcomes[FAILED] and not self.outcomes[PARKED] and not self.unreadable

    def add(self, summary: ObjectSummary) -> None:
        self.objects += 1
        self.superseded += summary.superseded
        self.outcomes.update(summary.tally.counts)
        if summary.tally.failed:
            self.failed_objects.append(summary.key)
        if summary.dead_letter_key:
            self.parked_objects.append(summary.dead_letter_key)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"operation": self.operation, "ok": self.ok}
        if self.window:
            data["window"] = {"from": self.window[0], "to": self.window[1]}
        data |= {
            "objects": self.objects,
            "changes_read": self.read,
            "applied": self.outcomes[APPLIED],
            "stale": self.outcomes[STALE],
            "resurrections_prevented": self.outcomes[TOMBSTONED],
            "superseded_in_object": self.superseded,
            "parked": self.outcomes[PARKED],
            "failed": self.outcomes[FAILED],
        }
        if self.window:
            data["outside_window"] = self.outside_window
        if self.operation == "redrive-queue":
            data["messages_deleted"] = self.messages["deleted"]
            data["messages_left"] = self.messages["left"]
        data["problems"] = (
            [f"unreadable: {u}" for u in self.unreadable]
            + [f"failed again (rerun to retry): {k}" for k in self.failed_objects]
            + [f"parked (see reasons inside): {k}" for k in self.parked_objects]
        )
        return data


class Replayer:
    def __init__(
        self,
        writer: ChangeWriter,
        s3: Callable[[], S3Client],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.writer = writer
        self.config = writer.config
        self._s3 = s3
        self._progress = progress or (lambda _n: None)

    # --------------------------------------------------------------- window --

    def window_objects(self, start: datetime, end: datetime) -> Iterator[str]:
        """Change object keys that may hold changes captured in [start, end), in time order per table."""
        s3 = self._s3()
        pages = s3.get_paginator("list_objects_v2")
        tables = [
            p["Prefix"]
            for page in pages.paginate(Bucket=self.config.bucket, Prefix=self.config.prefix, Delimiter="/")
            for p in page.get("CommonPrefixes", [])
        ]
        for table_prefix in tables:
            hour = (start - OBJECT_SPAN).replace(minute=0, second=0, microsecond=0)
            while hour < end:
                hour_prefix = f"{table_prefix}{hour:%Y/%m/%d/%H}/"
                for page in pages.paginate(Bucket=self.config.bucket, Prefix=hour_prefix):
                    yield from (obj["Key"] for obj in page.get("Contents", []))
                hour += timedelta(hours=1)

    def replay_window(self, start: datetime, end: datetime, *, now: float | None = None) -> ReplayReport:
        """Apply every change captured in [start, end) through the version rule."""
        if end <= start:
            raise ValueError(f"the window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        report = ReplayReport("replay", window=(start.isoformat(), end.isoformat()))
        low, high = start.timestamp(), end.timestamp()
        for key in self.window_objects(start, end):
            try:
                changes = self.writer.read_object(self.config.bucket, key)
            except UNREADABLE as exc:
                report.unreadable.append(f"{key}: {exc}")
                continue
            inside = [c for c in changes if low <= c.ts < high]
            report.read += len(changes)
            report.outside_window += len(changes) - len(inside)
            if inside:
                report.add(self.writer.apply_changes(inside, key, now))
            self._progress(len(changes))
        return report

    # ---------------------------------------------------------- dead letter --

    def redrive_dead_letters(self, *, now: float | None = None) -> ReplayReport:
        """Apply the parked changes again; an object is deleted once none of its changes park or fail.

        A change that parks again stays, with its new reason, in the same object;
        an object with a change that failed transiently is left whole for a rerun.
        (The bucket is versioned: a deleted dead-letter object stays recoverable.)
        """
        report = ReplayReport("redrive-dead-letters")
        s3 = self._s3()
        pages = s3.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.config.bucket, Prefix=self.config.dead_letter_prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                try:
                    changes = self.writer.read_object(self.config.bucket, key, dead_letter=True)
                except UNREADABLE as exc:
                    report.unreadable.append(f"{key}: {exc}")
                    continue
                report.read += len(changes)
                summary = self.writer.apply_changes(changes, key, now, dead_letter_key=key)
                report.add(summary)
                if not summary.tally.failed and not summary.dead_letter_key:
                    s3.delete_object(Bucket=self.config.bucket, Key=key)
                self._progress(len(changes))
        return report

    # ---------------------------------------------------------------- queue --

    def redrive_queue(self, queues: SQSClient, queue_url: str, *, now: float | None = None) -> ReplayReport:
        """Apply the objects named by the dead-letter queue's messages; delete each message whose objects applied."""
        report = ReplayReport("redrive-queue")
        seen: set[str] = set()
        left: list[str] = []  # receipt handles of messages that failed again
        while True:
            received = queues.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=REDRIVE_VISIBILITY_SECONDS,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            fresh = [m for m in received if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                if self._redrive_message(message, report, now):
                    queues.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    report.messages["deleted"] += 1
                else:
                    left.append(message["ReceiptHandle"])
                    report.messages["left"] += 1
        for handle in left:  # visible again, so the queue's depth tells the truth
            queues.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
        return report

    def _redrive_message(self, message: MessageTypeDef, report: ReplayReport, now: float | None) -> bool:
        ident = message["MessageId"]
        try:
            body = json.loads(message.get("Body") or "")
            if not isinstance(body, dict):
                raise NotAChangeObjectError("the body is not an S3 event notification")
            if body.get("Event") == "s3:TestEvent":
                return True
            refs = object_refs(body)
            if not refs:
                raise NotAChangeObjectError("the notification names no object")
        except (ValueError, NotAChangeObjectError) as exc:
            report.unreadable.append(f"message {ident}: {exc}")
            return False
        done = True
        for bucket, key, version_id, _size in refs:
            try:
                changes = self.writer.read_object(bucket, key, version_id)
            except UNREADABLE as exc:
                report.unreadable.append(f"message {ident}, s3://{bucket}/{key}: {exc}")
                done = False
                continue
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                report.unreadable.append(f"message {ident}, s3://{bucket}/{key}: {code}")
                done = False
                continue
            report.read += len(changes)
            summary = self.writer.apply_changes(changes, key, now)
            report.add(summary)
            done = done and not summary.tally.failed
            self._progress(len(changes))
        return done


__all__ = [
    "ReplayError",
    "ReplayReport",
    "Replayer",
    "dead_letter_queue_url",
    "parse_time",
    "writer_config",
]
