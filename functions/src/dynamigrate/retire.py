"""Retire the old table of a rekey, the seed's cleanup step: check, snapshot, lower capacity, and only then delete.

``dynamigrate retire-table`` runs in two sittings, as the seed did ("took a
snapshot, lowered the throughput to the minimum, watched it for a few weeks,
then deleted it"):

1. without ``--delete``: check the write guard saw no foreign write for the
   quiet period, take a snapshot (an Export to S3, or an on-demand backup), and
   lower provisioned capacity to the minimum (printing the previous figures,
   to restore them with one ``update-table``). Nothing is lost: every step can
   be undone;
2. with ``--delete --confirm <table>`` weeks later: the same checks again, the
   snapshot must still exist and be complete, deletion protection must be off,
   and then the table is deleted.

Every check that fails raises ``RetireRefusedError`` naming what is wrong and
what to do; nothing is changed before all checks pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from dynamigrate.config import WRITE_GUARD_SERVICE, ConfigError, metric_dimensions, moved_at

MIN_CAPACITY = 1
POLL_SECONDS = 5.0


class RetireRefusedError(RuntimeError):
    """A precondition of retiring the table does not hold (the message says which and what to do)."""


@dataclass
class RetirePlan:
    table: str
    guard_function: str
    migration: str
    quiet_seconds: float
    snapshot: str = "export"  # export | backup
    bucket: str | None = None
    prefix: str = "retired/"
    lower_capacity: bool = True
    delete: bool = False
    confirm: str | None = None
    snapshot_ref: str | None = None  # an export or backup ARN from the first sitting (needed to delete)


@dataclass
class RetireReport:
    table: str
    writes_moved_at: str = ""
    quiet_since: str = ""
    foreign_writes: int = 0
    snapshot: dict[str, Any] = field(default_factory=dict)
    capacity: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    next_step: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in ("", {}, None)} | {"deleted": self.deleted}


@dataclass
class Retirement:
    dynamodb: Any
    lambda_client: Any
    cloudwatch: Any
    plan: RetirePlan
    clock: Any = time.time
    sleep: Any = time.sleep

    def run(self) -> RetireReport:
        report = RetireReport(table=self.plan.table)
        table = self._table()
        self._check_quiet(table, report)
        if self.plan.delete:
            self._delete(table, report)
            return report
        report.snapshot = self._snapshot(table)
        report.capacity = self._lower(table) if self.plan.lower_capacity else {"changed": False}
        reference = report.snapshot.get("export_arn") or report.snapshot.get("backup_arn")
        report.next_step = (
            f"watch for as long as you need (the guard keeps counting), then run retire-table again with "
            f"--delete --confirm {self.plan.table} --snapshot-ref {reference}"
        )
        return report

    # ------------------------------------------------------------- checks --

    def _table(self) -> dict[str, Any]:
        try:
            return dict(self.dynamodb.describe_table(TableName=self.plan.table)["Table"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise RetireRefusedError(
                f"cannot describe table {self.plan.table} ({code}): check its name and region"
            ) from exc

    def _check_quiet(self, table: dict[str, Any], report: RetireReport) -> None:
        name = self.plan.guard_function
        try:
            config = self.lambda_client.get_function_configuration(FunctionName=name)
        except ClientError as exc:
            raise RetireRefusedError(
                f"write guard function {name} not found: deploy modules/write-guard on {self.plan.table} "
                "(its output function_name) and let it watch for the quiet period first"
            ) from exc
        env = (config.get("Environment") or {}).get("Variables") or {}
        if env.get("GUARDED_TABLE_NAME") != self.plan.table:
            raise RetireRefusedError(
                f"write guard {name} watches {env.get('GUARDED_TABLE_NAME')!r}, not {self.plan.table}: "
                "pass the guard of this table"
            )
        raw = env.get("WRITES_MOVED_AT", "")
        try:
            moved = moved_at(raw)
        except ConfigError as exc:
            raise RetireRefusedError(f"write guard {name}: {exc}") from exc
        if moved is None:
            raise RetireRefusedError(
                f"write guard {name} has no writes_moved_at: declare when the writers moved to the new table "
                "(module variable writes_moved_at), then wait for the quiet period"
            )
        report.writes_moved_at = raw
        now = self.clock()
        quiet_since = now - self.plan.quiet_seconds
        if moved > quiet_since:
            ready = datetime.fromtimestamp(moved + self.plan.quiet_seconds, UTC).isoformat(timespec="seconds")
            raise RetireRefusedError(
                f"writes moved at {raw}, less than the quiet period ({self._quiet_text()}) ago: "
                f"the guard has not watched long enough; run again after {ready}"
            )
        stream = table.get("LatestStreamArn")
        function_arn = str(config.get("FunctionArn", ""))
        mappings = (
            self.lambda_client.list_event_source_mappings(EventSourceArn=stream).get("EventSourceMappings", [])
            if stream
            else []
        )
        states = {str(m.get("State")) for m in mappings if m.get("FunctionArn") in (function_arn, name)}
        if not states & {"Enabled", "Updating"}:
            found = ", ".join(sorted(states)) or "no mapping"
            raise RetireRefusedError(
                f"write guard {name} is not reading {self.plan.table}'s current stream ({stream}; found: {found}): "
                "it cannot have seen foreign writes. Enable it (module variable enabled = true) and wait for the "
                "quiet period"
            )
        report.quiet_since = datetime.fromtimestamp(quiet_since, UTC).isoformat(timespec="seconds")
        report.foreign_writes = self._foreign_writes(quiet_since, now)
        if report.foreign_writes:
            raise RetireRefusedError(
                f"the write guard counted {report.foreign_writes} foreign writes to {self.plan.table} in the last "
                f"{self._quiet_text()}: something still writes the old table. Its log ({name}) names each key; "
                "move that writer to the new table, copy what it wrote (backfill), and wait a quiet period again"
            )

    def _foreign_writes(self, start: float, end: float) -> int:
        total = 0.0
        cursor = start
        day = 86400.0
        while cursor < end:  # at most 1,440 points per call: one-day windows of one-hour periods
            upper = min(end, cursor + day * 60)
            response = self.cloudwatch.get_metric_statistics(
                Namespace="Dynamigrate",
                MetricName="ForeignWrites",
                Dimensions=metric_dimensions(self.plan.migration, WRITE_GUARD_SERVICE),
                StartTime=datetime.fromtimestamp(cursor, UTC),
                EndTime=datetime.fromtimestamp(upper, UTC),
                Period=3600 if upper - cursor > day else 60,
                Statistics=["Sum"],
            )
            total += sum(float(point.get("Sum", 0)) for point in response.get("Datapoints", []))
            cursor = upper
        return int(total)

    def _quiet_text(self) -> str:
        return str(timedelta(seconds=int(self.plan.quiet_seconds)))

    # ------------------------------------------------------------ actions --

    def _snapshot(self, table: dict[str, Any]) -> dict[str, Any]:
        arn = table["TableArn"]
        if self.plan.snapshot == "backup":
            name = f"{self.plan.table}-retired-{int(self.clock())}"[:255]
            backup = self.dynamodb.create_backup(TableName=self.plan.table, BackupName=name)["BackupDetails"]
            status = self._wait(lambda: self._backup_status(backup["BackupArn"]), ("AVAILABLE",), "backup")
            return {"kind": "backup", "backup_arn": backup["BackupArn"], "status": status}
        if not self.plan.bucket:
            raise RetireRefusedError(
                "--snapshot export needs --bucket (an S3 bucket for the export), or use --snapshot backup"
            )
        pitr = self.dynamodb.describe_continuous_backups(TableName=self.plan.table)["ContinuousBackupsDescription"]
        if (pitr.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus") != "ENABLED":
            raise RetireRefusedError(
                f"an export needs point-in-time recovery on {self.plan.table}: "
                f"aws dynamodb update-continuous-backups --table-name {self.plan.table} "
                "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true (or use --snapshot backup)"
            )
        export = self.dynamodb.export_table_to_point_in_time(
            TableArn=arn, S3Bucket=self.plan.bucket, S3Prefix=self.plan.prefix, ExportFormat="DYNAMODB_JSON"
        )["ExportDescription"]
        status = self._wait(lambda: self._export_status(export["ExportArn"]), ("COMPLETED",), "export")
        return {"kind": "export", "export_arn": export["ExportArn"], "bucket": self.plan.bucket, "status": status}

    def _backup_status(self, arn: str) -> str:
        details = self.dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
        return str(details["BackupStatus"])

    def _export_status(self, arn: str) -> str:
        return str(self.dynamodb.describe_export(ExportArn=arn)["ExportDescription"]["ExportStatus"])

    def _wait(self, status: Any, done: tuple[str, ...], what: str) -> str:
        while True:
            current = status()
            if current in done:
                return str(current)
            if current in ("FAILED", "DELETED"):
                raise RetireRefusedError(f"the {what} of {self.plan.table} ended {current}: nothing was changed")
            self.sleep(POLL_SECONDS)

    def _lower(self, table: dict[str, Any]) -> dict[str, Any]:
        """Provisioned capacity to the minimum; the previous figures are returned, to restore them."""
        if (table.get("BillingModeSummary") or {}).get("BillingMode") == "PAY_PER_REQUEST":
            return {"changed": False, "reason": "on-demand: an idle table costs only its storage"}
        throughput = table.get("ProvisionedThroughput") or {}
        before = {"read": throughput.get("ReadCapacityUnits"), "write": throughput.get("WriteCapacityUnits")}
        update: dict[str, Any] = {
            "TableName": self.plan.table,
            "ProvisionedThroughput": {"ReadCapacityUnits": MIN_CAPACITY, "WriteCapacityUnits": MIN_CAPACITY},
        }
        indexes = []
        for index in table.get("GlobalSecondaryIndexes") or []:
            figures = index.get("ProvisionedThroughput") or {}
            before[index["IndexName"]] = {
                "read": figures.get("ReadCapacityUnits"),
                "write": figures.get("WriteCapacityUnits"),
            }
            indexes.append(
                {"Update": {"IndexName": index["IndexName"], "ProvisionedThroughput": update["ProvisionedThroughput"]}}
            )
        if indexes:
            update["GlobalSecondaryIndexUpdates"] = indexes
        if before["read"] == before["write"] == MIN_CAPACITY and not indexes:
            return {"changed": False, "reason": "already at the minimum", "before": before}
        self.dynamodb.update_table(**update)
        return {"changed": True, "before": before, "after": {"read": MIN_CAPACITY, "write": MIN_CAPACITY}}

    def _delete(self, table: dict[str, Any], report: RetireReport) -> None:
        if self.plan.confirm != self.plan.table:
            raise RetireRefusedError(
                f"deleting is final: pass --confirm {self.plan.table} (the table's name) to delete it"
            )
        reference = self.plan.snapshot_ref
        if not reference:
            raise RetireRefusedError(
                "pass --snapshot-ref with the export or backup ARN the first retire-table run printed: "
                "the table is deleted only while its snapshot exists"
            )
        if "/backup/" in reference:  # arn:...:table/<name>/backup/<id>; exports are .../export/<id>
            status = self._backup_status(reference)
            ok = status == "AVAILABLE"
        else:
            status = self._export_status(reference)
            ok = status == "COMPLETED"
        if not ok:
            raise RetireRefusedError(f"snapshot {reference} is {status}, not complete: the table is kept")
        report.snapshot = {"ref": reference, "status": status}
        if table.get("DeletionProtectionEnabled"):
            raise RetireRefusedError(
                f"{self.plan.table} has deletion protection on: aws dynamodb update-table --table-name "
                f"{self.plan.table} --no-deletion-protection-enabled, then run this again"
            )
        self.dynamodb.delete_table(TableName=self.plan.table)
        report.deleted = True
        report.next_step = (
            "done: remove the write guard (terraform destroy of modules/write-guard) and the old-table code paths"
        )
