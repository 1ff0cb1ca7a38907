"""`dynamigrate status` and `dynamigrate preflight`: named checks across both accounts.

Each check has a value a person can read and a verdict: ``ok`` True (fine),
False (needs attention: the command exits non-zero and the hint says what to
do) or None (no data, or information only). The checks read what AWS
already measures (CloudWatch, SQS attributes, the event source mappings) and
the migration's state record; they change nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from dynamigrate.config import WRITER_SERVICE, metric_dimensions
from dynamigrate.rule import TableSchema

if TYPE_CHECKING:
    from dynamigrate.accounts import Account
    from dynamigrate.ddbjson import Item
    from dynamigrate.migration import Manifest, State
    from dynamigrate.rule import Transform

ACCESS_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError")
# The impossible condition of the permission probe: DynamoDB authorises a
# request before it evaluates the condition, so ConditionalCheckFailed proves
# the permission without writing anything.
_NEVER = "attribute_exists(#k) AND attribute_not_exists(#k)"
HEADROOM = 0.8  # preflight wants peak consumption below this share of provisioned capacity
MAX_STREAM_CONSUMERS = 2  # DynamoDB Streams: more than two readers per shard are throttled
DIRECT_FAILURE_PREFIX = "aws/lambda/"  # where Lambda's S3 on-failure destination writes (modules/target, direct)


@dataclass
class Check:
    name: str
    value: str
    ok: bool | None = True
    hint: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "value": self.value, "ok": self.ok}
        if self.hint:
            out["hint"] = self.hint
        return out


@dataclass
class Report:
    title: str
    checks: list[Check] = field(default_factory=list)

    @property
    def attention(self) -> list[Check]:
        return [c for c in self.checks if c.ok is False]

    def add(self, name: str, value: str, ok: bool | None = True, hint: str = "") -> Check:
        check = Check(name, value, ok, hint if ok is not True else "")
        self.checks.append(check)
        return check

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "ok": not self.attention,
            "attention": [c.name for c in self.attention],
            "checks": [c.as_dict() for c in self.checks],
        }


def metric(
    account: Account,
    namespace: str,
    name: str,
    dimensions: list[dict[str, str]],
    statistic: str,
    *,
    seconds: float,
    now: float | None = None,
) -> float | None:
    """The Sum or Maximum of a metric over the last ``seconds`` (None: no data points)."""
    now = time.time() if now is None else now
    points = account.cloudwatch().get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions,  # type: ignore[arg-type]
        StartTime=datetime.fromtimestamp(now - seconds, UTC),
        EndTime=datetime.fromtimestamp(now + 60, UTC),
        Period=60,
        Statistics=[statistic],  # type: ignore[list-item]
    )["Datapoints"]
    values = [float(p[statistic]) for p in points]  # type: ignore[literal-required]
    if not values:
        return None
    return max(values) if statistic == "Maximum" else sum(values)


def mapping_state(account: Account, uuid: str | None) -> str:
    if not uuid:
        return "unknown"
    try:
        return str(account.lambda_().get_event_source_mapping(UUID=uuid).get("State", "unknown"))
    except ClientError as exc:
        return f"unreadable ({exc.response.get('Error', {}).get('Code')})"


def queue_depth(account: Account, url: str | None) -> tuple[int, int] | None:
    if not url:
        return None
    attributes = account.sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def count_objects(account: Account, bucket: str, prefix: str, cap: int = 1000) -> int:
    listed = account.s3().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=cap)
    return len(listed.get("Contents", []))


def _alarms_firing(account: Account, prefix: str) -> list[str]:
    pages = account.cloudwatch().get_paginator("describe_alarms")
    return [
        alarm["AlarmName"]
        for page in pages.paginate(AlarmNamePrefix=prefix, StateValue="ALARM")
        for alarm in page.get("MetricAlarms", [])
        if alarm.get("StateValue") == "ALARM"  # some implementations apply only one of the two filters
    ]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "no data"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def status(
    manifest: Manifest,
    state: State,
    source: Account,
    target: Account,
    *,
    window_seconds: float = 900,
    max_stream_lag: float = 3600,
    max_queue_age: float = 900,
    now: float | None = None,
) -> Report:
    """One migration at a glance: lag, queues, parked changes, errors, conflicts, last verify, runbook step."""
    now = time.time() if now is None else now
    report = Report(f"migration {manifest.name}")
    current = state.current
    report.add("runbook step", f"{state.last_done or 'nothing'} done; next: {current or 'finished'}", None)
    switched = "switch" in state.done
    live = "capture" in state.done and not switched

    consumers = [(manifest.target, target, "writer")]
    if not manifest.direct:
        consumers.insert(0, (manifest.source, source, "capture"))
    for side, account, label in consumers:
        mapping = mapping_state(account, side.get("event_source_mapping_uuid"))
        report.add(
            f"{label} mapping",
            f"{side.function_name}: {mapping}",
            ok=mapping == "Enabled" if live else None,
            hint=f"replication is paused: enable the event source mapping of {side.function_name} "
            "(stream.enabled / writer.enabled = true in Terraform)",
        )

    # The stream's reader: the capture function (change log) or the writer itself (direct).
    reader, reader_account = (
        (manifest.target.function_name, target) if manifest.direct else (manifest.source.function_name, source)
    )
    lag = metric(
        reader_account,
        "AWS/Lambda",
        "IteratorAge",
        [{"Name": "FunctionName", "Value": reader}],
        "Maximum",
        seconds=window_seconds,
        now=now,
    )
    lag_s = None if lag is None else lag / 1000
    report.add(
        "stream lag",
        _age(lag_s),
        ok=None if lag_s is None else lag_s < max_stream_lag,
        hint=f"stream records expire after 24 h: find why {reader} is behind (its errors, throttles)",
    )
    if manifest.direct:
        report.add("change queue", "none: the direct transport reads the stream", None)
        bucket = manifest.target.get("change_bucket_name")
        failed = count_objects(target, bucket, DIRECT_FAILURE_PREFIX) if bucket else 0
        report.add(
            "failed stream batches",
            f"{failed}{'+' if failed >= 1000 else ''} under s3://{bucket}/{DIRECT_FAILURE_PREFIX}",
            ok=failed == 0,
            hint="stream records that failed every retry, kept whole: read the writer's log for the cause, fix it, "
            "then copy the keys they name again (dynamigrate backfill skips what is already there)",
        )
    else:
        _queue_checks(report, manifest, target, window_seconds=window_seconds, max_queue_age=max_queue_age, now=now)
    _writer_checks(report, manifest, state, source, target, window_seconds=window_seconds, now=now)
    return report


def _queue_checks(
    report: Report, manifest: Manifest, target: Account, *, window_seconds: float, max_queue_age: float, now: float
) -> None:
    """The change log's queue and dead-letter queue."""
    depth = queue_depth(target, manifest.target.get("queue_url"))
    age = metric(
        target,
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        [{"Name": "QueueName", "Value": (manifest.target.get("queue_url") or "").rsplit("/", 1)[-1]}],
        "Maximum",
        seconds=window_seconds,
        now=now,
    )
    report.add(
        "change queue",
        "unknown" if depth is None else f"{depth[0]} waiting, {depth[1]} in flight, oldest {_age(age)}",
        ok=None if age is None else age < max_queue_age,
        hint="the writer is behind: see its errors and the target table's throttles",
    )

    dlq = queue_depth(target, manifest.target.get("dead_letter_queue_url"))
    function = manifest.target.function_name
    report.add(
        "dead-letter queue",
        "unknown" if dlq is None else f"{dlq[0] + dlq[1]} messages",
        ok=None if dlq is None else dlq[0] + dlq[1] == 0,
        hint=f"fix what the writer's log says, then: dynamigrate redrive --writer-function {function} --what queue",
    )


def _writer_checks(
    report: Report,
    manifest: Manifest,
    state: State,
    source: Account,
    target: Account,
    *,
    window_seconds: float,
    now: float,
) -> None:
    """Parked changes, the writer's errors and outcomes, alarms in both accounts, the last verify."""
    function = manifest.target.function_name
    bucket, prefix = manifest.target.get("change_bucket_name"), manifest.target.get("dead_letter_prefix")
    if bucket and prefix:
        parked = count_objects(target, bucket, prefix)
        report.add(
            "parked changes",
            f"{parked}{'+' if parked >= 1000 else ''} objects under s3://{bucket}/{prefix}",
            ok=parked == 0,
            hint=f"each object names its reasons; after the fix: dynamigrate redrive --writer-function {function} "
            "--what parked",
        )

    dims = metric_dimensions(manifest.name, WRITER_SERVICE)
    errors = metric(
        target,
        "AWS/Lambda",
        "Errors",
        [{"Name": "FunctionName", "Value": function}],
        "Sum",
        seconds=window_seconds,
        now=now,
    )
    report.add(
        "writer errors",
        f"{errors or 0:.0f} in the last {_age(window_seconds)}",
        ok=not errors,
        hint=f"read the log group /aws/lambda/{function}",
    )
    applied = metric(target, "Dynamigrate", "ChangesApplied", dims, "Sum", seconds=window_seconds, now=now)
    stale = metric(target, "Dynamigrate", "ChangesStale", dims, "Sum", seconds=window_seconds, now=now)
    prevented = metric(target, "Dynamigrate", "ResurrectionsPrevented", dims, "Sum", seconds=window_seconds, now=now)
    report.add(
        "changes applied",
        f"{applied or 0:.0f}; conflicts skipped {(stale or 0) + (prevented or 0):.0f} "
        f"(stale {stale or 0:.0f}, resurrections prevented {prevented or 0:.0f})",
        None,
    )

    firing = _alarms_firing(source, f"{manifest.name}-") + _alarms_firing(target, f"{manifest.name}-")
    report.add(
        "alarms",
        ", ".join(sorted(set(firing))) or "none firing",
        ok=not firing,
        hint="each alarm's description says what to do",
    )

    verified = state.last_verify
    if verified is None:
        report.add("last verify", "never", None)
    else:
        when = datetime.fromtimestamp(float(verified["at"]), UTC).isoformat(timespec="seconds")
        counts = ", ".join(f"{k} {verified.get(k, 0)}" for k in ("matched", "missing", "extra", "different"))
        report.add(
            "last verify",
            f"{'equal' if verified.get('equal') else 'DIFFERENT'} at {when} ({counts})",
            ok=bool(verified.get("equal")),
            hint="run `dynamigrate cutover verify` again (differences during live traffic are rechecked; "
            "persistent ones need `dynamigrate verify --repair`)",
        )


# -------------------------------------------------------------- preflight --


def _denied(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in ACCESS_DENIED


def _probe(report: Report, name: str, call: Any, what: str, ok_codes: tuple[str, ...] = ()) -> bool:
    """Run a read (or a never-succeeding conditional write); record a missing permission by name."""
    try:
        call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ok_codes:
            report.add(name, "allowed")
            return True
        if _denied(exc):
            report.add(
                name,
                f"denied: {exc.response['Error'].get('Message', code)}",
                False,
                f"grant {what} to the identity running dynamigrate (the operator role)",
            )
            return False
        report.add(name, f"failed: {code}", False, f"{what}: {exc.response['Error'].get('Message', '')}")
        return False
    report.add(name, "allowed")
    return True


def _write_probe(account: Account, table: str, key: dict[str, Any]) -> Any:
    name = next(iter(key))
    return lambda: account.dynamodb().put_item(
        TableName=table, Item=key, ConditionExpression=_NEVER, ExpressionAttributeNames={"#k": name}
    )


def _probe_key(schema: TableSchema) -> dict[str, Any]:
    sample = {"S": {"S": "dynamigrate-preflight-probe"}, "N": {"N": "0"}, "B": {"B": b"dynamigrate"}}
    return {name: sample[kind] for name, kind in schema.key_types.items()}


def _headroom(account: Account, desc: dict[str, Any], metric_name: str, field_name: str, now: float) -> Check:
    table = desc["TableName"]
    provisioned = float((desc.get("ProvisionedThroughput") or {}).get(field_name) or 0)
    mode = (desc.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED" if provisioned else "")
    label = f"{table} {'read' if 'Read' in field_name else 'write'} headroom"
    if mode == "PAY_PER_REQUEST" or not provisioned:
        return Check(label, "on-demand: the bulk copy's rate limiter measures consumed capacity instead", None)
    points = account.cloudwatch().get_metric_statistics(
        Namespace="AWS/DynamoDB",
        MetricName=metric_name,
        Dimensions=[{"Name": "TableName", "Value": table}],
        StartTime=datetime.fromtimestamp(now - 3600, UTC),
        EndTime=datetime.fromtimestamp(now, UTC),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    peak = max((float(p["Sum"]) / 60 for p in points), default=0.0)
    share = peak / provisioned
    return Check(
        label,
        f"peak {peak:,.0f} of {provisioned:,.0f} units/s in the last hour ({share:.0%})",
        share < HEADROOM,
        f"raise {table}'s capacity (or switch it to on-demand) before the bulk copy: the application "
        f"already uses {share:.0%}",
    )


def preflight(
    manifest: Manifest,
    source: Account,
    target: Account,
    *,
    transform: Transform | None = None,
    now: float | None = None,
) -> Report:
    """Every precondition of a migration, each reported by name with the fix."""
    now = time.time() if now is None else now
    report = Report(f"preflight {manifest.name}")
    descs: dict[str, dict[str, Any]] = {}
    for role, side, account in (("source", manifest.source, source), ("target", manifest.target, target)):
        try:
            descs[role] = dict(account.dynamodb().describe_table(TableName=side.table_name)["Table"])
            report.add(f"{role} table", f"{side.table_name} ({descs[role].get('TableStatus')}) in {side.region}")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            hint = (
                f"create it, or fix the {role} account/region/profile"
                if code == "ResourceNotFoundException"
                else f"grant dynamodb:DescribeTable on it in the {role} account"
            )
            report.add(f"{role} table", f"{side.table_name}: {code}", False, hint)
    if len(descs) < 2:
        return report
    src, dst = descs["source"], descs["target"]

    spec = src.get("StreamSpecification") or {}
    stream_ok = bool(spec.get("StreamEnabled")) and spec.get("StreamViewType") == "NEW_AND_OLD_IMAGES"
    report.add(
        "source stream",
        f"{spec.get('StreamViewType', 'disabled') if spec.get('StreamEnabled') else 'disabled'}",
        stream_ok,
        f"aws dynamodb update-table --table-name {manifest.source.table_name} "
        "--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES",
    )

    try:
        backups = source.dynamodb().describe_continuous_backups(TableName=manifest.source.table_name)
        pitr = backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
        enabled = pitr.get("PointInTimeRecoveryStatus") == "ENABLED"
        report.add(
            "source point-in-time recovery",
            "enabled" if enabled else "disabled",
            enabled,
            f"aws dynamodb update-continuous-backups --table-name {manifest.source.table_name} "
            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true "
            "(needed for Export to S3, and a restore point if the migration goes wrong)",
        )
    except ClientError as exc:
        report.add(
            "source point-in-time recovery",
            f"unreadable: {exc.response['Error'].get('Code')}",
            False,
            "grant dynamodb:DescribeContinuousBackups in the source account",
        )

    stream_arn = src.get("LatestStreamArn")
    if stream_arn:
        mappings = source.lambda_().list_event_source_mappings(EventSourceArn=stream_arn).get("EventSourceMappings", [])
        readers = sorted(m["FunctionArn"].rsplit(":", 1)[-1] for m in mappings)
        replicas = len(src.get("Replicas") or [])
        consumers = len(readers) + (1 if replicas else 0)
        ours = manifest.source.function_name in readers
        report.add(
            "stream consumers",
            f"{consumers} per shard ({', '.join(readers) or 'no functions'}"
            f"{'; global table replication' if replicas else ''})"
            + ("" if ours else f"; {manifest.source.function_name} not among them"),
            consumers <= MAX_STREAM_CONSUMERS,
            "DynamoDB throttles a shard's third reader: move one consumer to the change log "
            "(it can read the S3 objects) or to Kinesis Data Streams",
        )

    source_schema, target_schema = TableSchema.from_description(src), TableSchema.from_description(dst)
    _key_check(report, manifest, source, source_schema, target_schema, transform=transform)

    report.checks.append(_headroom(source, src, "ConsumedReadCapacityUnits", "ReadCapacityUnits", now))
    report.checks.append(_headroom(target, dst, "ConsumedWriteCapacityUnits", "WriteCapacityUnits", now))

    _permissions(report, manifest, source, target, target_schema)
    _rollback_readiness(report, manifest, dst)
    return report


def _permissions(
    report: Report, manifest: Manifest, source: Account, target: Account, target_schema: TableSchema
) -> None:
    """What the operator's identity must be allowed in each account, probed without changing anything."""
    _probe(
        report,
        "source read permission",
        lambda: source.dynamodb().scan(TableName=manifest.source.table_name, Limit=1),
        f"dynamodb:Scan on {manifest.source.table_name}",
    )
    _probe(
        report,
        "target write permission",
        _write_probe(target, manifest.target.table_name, _probe_key(target_schema)),
        f"dynamodb:PutItem on {manifest.target.table_name}",
        ("ConditionalCheckFailedException",),
    )
    ledger = manifest.target.get("ledger_table_name")
    if ledger:
        _probe(
            report,
            "ledger write permission",
            _write_probe(target, ledger, {"pk": {"S": "dynamigrate-probe:"}}),
            f"dynamodb:PutItem on {ledger}",
            ("ConditionalCheckFailedException",),
        )
    bucket = manifest.target.get("change_bucket_name")
    if bucket:
        _probe(
            report,
            "change bucket access",
            lambda: target.s3().list_objects_v2(Bucket=bucket, MaxKeys=1),
            f"s3:ListBucket on {bucket}",
        )
    queue = manifest.target.get("queue_url")
    if queue:
        _probe(
            report,
            "change queue access",
            lambda: target.sqs().get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]),
            "sqs:GetQueueAttributes on the queue",
        )
    for side, account in ((manifest.source, source), (manifest.target, target)):
        if not side.function_name:  # the direct transport has no function in the source account
            continue
        _probe(
            report,
            f"{side.function_name} readable",
            lambda side=side, account=account: account.lambda_().get_function_configuration(
                FunctionName=side.function_name
            ),
            f"lambda:GetFunctionConfiguration on {side.function_name}",
        )


def _rollback_readiness(report: Report, manifest: Manifest, dst: dict[str, Any]) -> None:
    target_spec = dst.get("StreamSpecification") or {}
    reverse_ready = bool(target_spec.get("StreamEnabled")) and target_spec.get("StreamViewType") == "NEW_AND_OLD_IMAGES"
    report.add(
        "target stream (for the rollback path)",
        "NEW_AND_OLD_IMAGES" if reverse_ready else "not NEW_AND_OLD_IMAGES",
        True if reverse_ready else None,
        f"to keep a rollback path, enable NEW_AND_OLD_IMAGES on {manifest.target.table_name} before `cutover reverse`",
    )
    if manifest.version_attribute is None:
        report.add(
            "version rule",
            "stream mode (sequence numbers)",
            None,
            "a rollback window with writes in both accounts needs version_attribute (docs/cutover.md)",
        )
    else:
        report.add("version rule", f"attribute mode ({manifest.version_attribute})")


def _key_check(
    report: Report,
    manifest: Manifest,
    source: Account,
    source_schema: TableSchema,
    target_schema: TableSchema,
    *,
    transform: Transform | None,
) -> None:
    if transform is None:
        same = source_schema.key_types == target_schema.key_types
        report.add(
            "key schemas",
            f"source {source_schema.key_types}, target {target_schema.key_types}",
            same,
            "create the target with the source's key schema, or set a transform (docs/transforms.md)",
        )
        return
    items = source.dynamodb().scan(TableName=manifest.source.table_name, Limit=20).get("Items", [])
    problems = []
    for item in items:
        try:
            moved = transform(cast("Item", item))
        except Exception as exc:  # any failure of the user's code is the finding
            problems.append(f"{type(exc).__name__}: {exc}")
            continue
        for name, kind in target_schema.key_types.items():
            value = moved.get(name)
            if not isinstance(value, dict) or kind not in value:
                problems.append(f"item has no {kind} attribute {name} after the transform")
    report.add(
        "key schemas",
        f"transform maps {len(items)} sampled items onto {target_schema.key_types}"
        + (f": {problems[0]}" if problems else ""),
        not problems,
        "fix the transform so every item gets the target's key attributes with their types",
    )


def dumps(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, default=str)
