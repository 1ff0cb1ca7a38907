"""Apply change objects to the target table through the version rule.

Shared by the writer Lambda and the CLI's replay: given a change object in the
bucket, read it whole, map each change onto the target table, keep the newest
change per key, apply them concurrently, park what can never apply, and report
what happened.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from dynamigrate import aws
from dynamigrate.apply import Tally, execute_all
from dynamigrate.changes import (
    FORMAT,
    FORMAT_VERSION,
    Change,
    MalformedChangeObjectError,
    decode_object,
    encode_object,
)
from dynamigrate.config import WriterConfig
from dynamigrate.ddbjson import InvalidItemError, describe_key, ledger_id
from dynamigrate.rule import APPLIED, FAILED, PARKED, STALE, TOMBSTONED, TargetChange, VersionRule
from dynamigrate.transforms import REFUSALS

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

    from dynamigrate.rule import Transform, Write


class TransientWriteError(RuntimeError):
    """Some changes failed transiently; the message is retried as a whole."""


class ForeignObjectError(ValueError):
    """An object outside this writer's bucket/prefix, or too large: never read."""


class NotAChangeObjectError(ValueError):
    """A queue message that does not point at a change object this writer may read."""


def object_refs(body: dict[str, Any]) -> list[tuple[str, str, str | None, int]]:
    """(bucket, key, version id, size) for each object an S3 event notification names."""
    refs = []
    for record in body.get("Records") or []:
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        obj = s3.get("object") or {}
        key = obj.get("key")
        if not bucket or not key:
            raise NotAChangeObjectError(f"notification record without bucket/key: {str(record)[:200]}")
        refs.append((bucket, unquote_plus(key), obj.get("versionId"), int(obj.get("size", 0))))
    return refs


@dataclass
class ObjectSummary:
    key: str
    records: int = 0
    superseded: int = 0
    ttl_deletes: int = 0
    deletes: int = 0
    tally: Tally = field(default_factory=Tally)
    lag_seconds: float | None = None
    dead_letter_key: str | None = None

    def metrics(self) -> dict[str, int]:
        counts = self.tally.counts
        return {
            "ChangesApplied": counts[APPLIED],
            "ChangesStale": counts[STALE],
            "ResurrectionsPrevented": counts[TOMBSTONED],
            "ChangesParked": counts[PARKED],
            "ChangesFailed": counts[FAILED],
            "ChangesSuperseded": self.superseded,
            "DeletesReceived": self.deletes,
            "TtlDeletesReceived": self.ttl_deletes,
        }

    def raise_if_failed(self) -> None:
        if self.tally.failed:
            first = self.tally.failed[0]
            raise TransientWriteError(
                f"{len(self.tally.failed)} of {self.records} changes in {self.key} failed transiently "
                f"(first: {describe_key(first.key)}: {first.reason}); the message will be retried"
            )


class ChangeWriter:
    def __init__(
        self,
        config: WriterConfig,
        *,
        dynamodb: Callable[[], DynamoDBClient] = aws.dynamodb,
        s3: Callable[[], S3Client] = aws.s3,
        transform: Transform | None = None,
        logger: logging.Logger | Any | None = None,
    ) -> None:
        self.config = config
        self._dynamodb = dynamodb
        self._s3 = s3
        self.transform = transform
        self.log = logger or logging.getLogger(__name__)
        self._rule: VersionRule | None = None

    @classmethod
    def from_env(cls, **kwargs: Any) -> ChangeWriter:
        """The writer the environment configures, with its transform (``TRANSFORM``) loaded at cold start."""
        config = WriterConfig.from_env()
        if config.transform and "transform" not in kwargs:
            from dynamigrate.transforms import load  # noqa: PLC0415 - only when a transform is configured

            kwargs["transform"] = load(config.transform)
        return cls(config, **kwargs)

    @property
    def rule(self) -> VersionRule:
        """The version rule, built from the target table's key schema on first use."""
        if self._rule is None:
            self._rule = VersionRule.for_table(
                self._dynamodb(),
                self.config.table,
                ledger_table=self.config.ledger_table,
                version_attribute=self.config.version_attribute,
                retention_seconds=self.config.ledger_retention_seconds,
            )
        return self._rule

    # ----------------------------------------------------------------- read --

    def read_object(
        self, bucket: str, key: str, version_id: str | None = None, *, dead_letter: bool = False
    ) -> list[Change]:
        """The changes of one object under the change prefix (or, for a redrive, the dead-letter prefix)."""
        prefix = self.config.dead_letter_prefix if dead_letter else self.config.prefix
        if bucket != self.config.bucket:
            raise ForeignObjectError(f"object s3://{bucket}/{key} is not in this writer's bucket {self.config.bucket}")
        if not key.startswith(prefix):
            raise ForeignObjectError(f"object key {key!r} is outside the prefix {prefix!r}")
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        response = self._s3().get_object(**params)
        size = int(response.get("ContentLength", 0))
        if size > self.config.max_object_bytes:
            response["Body"].close()
            raise ForeignObjectError(f"object {key} is {size} bytes, above the {self.config.max_object_bytes} limit")
        data = response["Body"].read(self.config.max_object_bytes + 1)
        if len(data) > self.config.max_object_bytes:
            raise ForeignObjectError(f"object {key} is above the {self.config.max_object_bytes} byte limit")
        return decode_object(data).changes

    # ---------------------------------------------------------------- apply --

    def apply_object(self, bucket: str, key: str, version_id: str | None = None) -> ObjectSummary:
        try:
            changes = self.read_object(bucket, key, version_id)
        except MalformedChangeObjectError as exc:
            self.log.error("malformed change object", extra={"key": key, "problem": str(exc)})
            raise MalformedChangeObjectError(f"{key}: {exc}") from exc
        summary = self.apply_changes(changes, key)
        conflicts = [f"{describe_key(r.key)}: {r.outcome}, {r.reason}" for r in summary.tally.conflicts]
        extra: dict[str, Any] = {k: v for k, v in summary.metrics().items() if v}
        if conflicts:
            extra["conflict_samples"] = conflicts  # what the target held (ReturnValuesOnConditionCheckFailure)
        self.log.info("applied change object", extra={"key": key, "records": summary.records, **extra})
        return summary

    def apply_changes(
        self, changes: list[Change], key: str, now: float | None = None, *, dead_letter_key: str | None = None
    ) -> ObjectSummary:
        """Apply ``changes`` read from object ``key``; park what can never apply (at ``dead_letter_key`` if given)."""
        now = time.time() if now is None else now
        rule = self.rule
        summary = ObjectSummary(key=key, records=len(changes))
        parked: list[tuple[Change, str]] = []
        newest: dict[str, tuple[TargetChange, Change]] = {}
        for change in changes:
            summary.deletes += change.is_delete
            summary.ttl_deletes += change.ttl
            try:
                target = rule.target_change(change, self.transform)
            except REFUSALS as exc:  # a bad key, or an item the transform refuses (InvalidItemError is a ValueError)
                parked.append((change, str(exc)))
                continue
            # Keep only the newest change per key: same final state, fewer writes.
            ident = target.ident
            current = newest.get(ident)
            if current is None or target.seq > current[0].seq:
                newest[ident] = (target, change)
            summary.superseded += current is not None
        writes: list[Write] = []
        origin: dict[str, Change] = {}
        for ident, (target, change) in newest.items():
            try:
                writes.append(rule.plan_change(target, now))
            except InvalidItemError as exc:
                parked.append((change, str(exc)))
                continue
            origin[ident] = change
        summary.tally = execute_all(self._dynamodb(), writes, self.config.threads)
        parked.extend((origin[ledger_id(result.key)], result.reason) for result in summary.tally.parked)  # rare
        summary.tally.counts[PARKED] = len(parked)
        for change, reason in parked:
            self.log.warning("parked change", extra={"key": describe_key(change.keys), "reason": reason})
        if parked:
            summary.dead_letter_key = self.park(key, parked, dead_letter_key)
        if newest:
            summary.lag_seconds = max(0.0, now - min(target.ts for target, _ in newest.values()))
        return summary

    def park(self, source_key: str, parked: list[tuple[Change, str]], key: str | None = None) -> str:
        """Write parked changes, each with its reason, to the dead-letter prefix (or ``key``); return the key."""
        if key is None:
            prefix = self.config.prefix
            relative = source_key[len(prefix) :] if source_key.startswith(prefix) else source_key
            key = f"{self.config.dead_letter_prefix}{relative}"
        lines = []
        for change, reason in sorted(parked, key=lambda p: p[0].seq):
            line = change.to_line()
            line["reason"] = reason
            lines.append(line)
        body = encode_object(lines, source=f"s3://{self.config.bucket}/{source_key}")
        self._s3().put_object(
            Bucket=self.config.bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            Metadata={"record-count": str(len(lines)), "source-key": source_key[:1000]},
        )
        return key


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ChangeWriter",
    "ForeignObjectError",
    "NotAChangeObjectError",
    "ObjectSummary",
    "TransientWriteError",
    "object_refs",
]
