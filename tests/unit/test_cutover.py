"""status, preflight and cutover: each planted problem is named, each step refuses until its checks hold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from dynamigrate.accounts import Account
from dynamigrate.cli.main import app
from dynamigrate.cutover import Cutover, CutoverOptions, StepRefusedError
from dynamigrate.migration import STEPS, Manifest, ManifestError, StateConflictError, StateStore
from dynamigrate.replay import Replayer, writer_config
from dynamigrate.status import preflight, status
from dynamigrate.writer import ChangeWriter
from tests.unit.conftest import (
    BUCKET,
    LEDGER_TABLE,
    SOURCE_TABLE,
    TARGET_TABLE,
    WRITER_ENV,
    create_table,
    deploy_function,
)

if TYPE_CHECKING:
    from pathlib import Path

NAME, CAPTURE, WRITER = "unit", "unit-stream-to-s3", "unit-writer"


@pytest.fixture
def manifest(tables: dict[str, str]) -> Manifest:
    """The pipeline of one migration as the modules deploy it, and its `migration` output."""
    ddb, sqs, lam = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("lambda")
    stream_arn = ddb.describe_table(TableName=SOURCE_TABLE)["Table"]["LatestStreamArn"]
    dlq = sqs.create_queue(QueueName=f"{NAME}-changes-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    queue = sqs.create_queue(QueueName=f"{NAME}-changes", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    deploy_function(CAPTURE, "dynamigrate.handlers.stream_to_s3.lambda_handler", {}, event_source_arn=stream_arn)
    deploy_function(WRITER, "dynamigrate.handlers.s3_to_table.lambda_handler", WRITER_ENV, event_source_arn=queue_arn)
    uuid = {
        m["FunctionArn"].rsplit(":", 1)[-1]: m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]
    }
    side = {"account_id": "123456789012", "region": "us-east-1"}
    return Manifest.from_output(
        {
            "name": NAME,
            "version_attribute": None,
            "source": {
                **side,
                "table_name": SOURCE_TABLE,
                "function_name": CAPTURE,
                "event_source_mapping_uuid": uuid[CAPTURE],
            },
            "target": {
                **side,
                "table_name": TARGET_TABLE,
                "function_name": WRITER,
                "event_source_mapping_uuid": uuid[WRITER],
                "ledger_table_name": LEDGER_TABLE,
                "change_bucket_name": BUCKET,
                "dead_letter_prefix": "dead-letter/",
                "queue_url": queue,
                "dead_letter_queue_url": dlq,
            },
        }
    )


def account() -> Account:
    return Account(region="us-east-1")


def store() -> StateStore:
    return StateStore(boto3.client("dynamodb"), LEDGER_TABLE, NAME)


def enable_pitr() -> None:
    boto3.client("dynamodb").update_continuous_backups(
        TableName=SOURCE_TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def put_metric(namespace: str, name: str, dimensions: dict[str, str], value: float) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                "Timestamp": datetime.now(UTC),
                "Value": value,
            }
        ],
    )


def mark_done(*steps: str, **fields: Any) -> None:
    state = store().load()
    for step in steps:
        state.record(step, {}, by="test")
    for name, value in fields.items():
        setattr(state, name, value)
    store().save(state)


# ------------------------------------------------------------------ status --


def quiet_alarm(name: str) -> None:
    """An alarm of the migration that is not firing (status must not count it)."""
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def test_given_a_healthy_pipeline_then_status_needs_no_attention(manifest: Manifest) -> None:
    quiet_alarm(f"{NAME}-writer-errors")
    mark_done("preflight", "capture")
    report = status(manifest, store().load(), account(), account())
    assert report.attention == [], report.as_dict()
    names = {c.name for c in report.checks}
    assert {"stream lag", "change queue", "dead-letter queue", "parked changes", "alarms", "last verify"} <= names
    assert next(c for c in report.checks if c.name == "runbook step").value == "capture done; next: bulk-copy"


def _dead_letter_message(m: Manifest) -> None:
    boto3.client("sqs").send_message(QueueUrl=m.target.require("dead_letter_queue_url"), MessageBody="{}")


def _parked_object(_m: Manifest) -> None:
    boto3.client("s3").put_object(Bucket=BUCKET, Key="dead-letter/orders/2026/12/03/10/1-2.jsonl.gz", Body=b"x")


def _stream_lag(_m: Manifest) -> None:
    put_metric("AWS/Lambda", "IteratorAge", {"FunctionName": CAPTURE}, 2 * 3600 * 1000)


def _queue_age(_m: Manifest) -> None:
    put_metric("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": f"{NAME}-changes"}, 3600)


def _writer_errors(_m: Manifest) -> None:
    put_metric("AWS/Lambda", "Errors", {"FunctionName": WRITER}, 3)


def _alarm(_m: Manifest) -> None:
    quiet_alarm(f"{NAME}-writer-errors")
    cloudwatch = boto3.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=f"{NAME}-dead-letter-queue",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=f"{NAME}-dead-letter-queue", StateValue="ALARM", StateReason="test")


def _failed_verify(_m: Manifest) -> None:
    mark_done(last_verify={"at": datetime.now(UTC).timestamp(), "equal": False, "missing": 3})


def _capture_paused(m: Manifest) -> None:
    boto3.client("lambda").update_event_source_mapping(
        UUID=m.source.require("event_source_mapping_uuid"), Enabled=False
    )


@pytest.mark.parametrize(
    ("plant", "named"),
    [
        (_dead_letter_message, "dead-letter queue"),
        (_parked_object, "parked changes"),
        (_stream_lag, "stream lag"),
        (_queue_age, "change queue"),
        (_writer_errors, "writer errors"),
        (_alarm, "alarms"),
        (_failed_verify, "last verify"),
        (_capture_paused, "capture mapping"),
    ],
)
def test_given_a_planted_problem_then_status_names_it_alone_and_the_cli_exits_1(
    manifest: Manifest, plant: Any, named: str, tmp_path: Path
) -> None:
    mark_done("preflight", "capture")
    plant(manifest)
    report = status(manifest, store().load(), account(), account())
    assert [c.name for c in report.attention] == [named]
    assert report.attention[0].hint  # says what to do
    path = tmp_path / "migration.json"
    path.write_text(json.dumps({"migration": {"sensitive": False, "type": "object", "value": raw(manifest)}}))
    result = CliRunner().invoke(app, ["status", "--migration-file", str(path), "--json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["attention"] == [named]


def raw(m: Manifest) -> dict[str, Any]:
    return {"name": m.name, "version_attribute": m.version_attribute, "source": m.source.raw, "target": m.target.raw}


# --------------------------------------------------------------- preflight --


def test_given_a_ready_migration_then_preflight_passes(manifest: Manifest) -> None:
    enable_pitr()
    report = preflight(manifest, account(), account())
    assert report.attention == [], report.as_dict()
    allowed = {c.name for c in report.checks if c.value == "allowed"}
    assert {"source read permission", "target write permission", "ledger write permission"} <= allowed
    assert boto3.client("dynamodb").scan(TableName=TARGET_TABLE)["Items"] == []  # the write probe wrote nothing


def test_given_each_missing_precondition_then_preflight_names_it(manifest: Manifest) -> None:
    assert [c.name for c in preflight(manifest, account(), account()).attention] == ["source point-in-time recovery"]
    enable_pitr()
    stream_arn = boto3.client("dynamodb").describe_table(TableName=SOURCE_TABLE)["Table"]["LatestStreamArn"]
    for extra in ("audit", "search"):
        deploy_function(extra, "x.handler", {}, event_source_arn=stream_arn)
    create_table("keyed-otherwise", {"id": "S"})
    other = Manifest.from_output({**raw(manifest), "target": {**manifest.target.raw, "table_name": "keyed-otherwise"}})
    report = preflight(other, account(), account())
    assert [c.name for c in report.attention] == ["stream consumers", "key schemas"]
    assert "3 per shard" in report.attention[0].value


class Denied:
    """An account whose identity may describe but not scan (the edge of the test: IAM is not modelled by moto)."""

    def __init__(self, inner: Account) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def dynamodb(self) -> Any:
        client = self._inner.dynamodb()

        class Proxy:
            def __getattr__(self, op: str) -> Any:
                if op == "scan":

                    def deny(**_kwargs: Any) -> Any:
                        error = {"Code": "AccessDeniedException", "Message": "not authorized to perform: dynamodb:Scan"}
                        raise ClientError({"Error": error}, "Scan")

                    return deny
                return getattr(client, op)

        return Proxy()


def test_given_a_missing_permission_then_preflight_names_the_action(manifest: Manifest) -> None:
    enable_pitr()
    report = preflight(manifest, Denied(account()), account())  # type: ignore[arg-type]
    denied = [c for c in report.attention if c.name == "source read permission"]
    assert denied and "dynamodb:Scan" in denied[0].hint


# ----------------------------------------------------------------- cutover --


def cutover(manifest: Manifest, **options: Any) -> Cutover:
    def replayer() -> Replayer:
        return Replayer(ChangeWriter(writer_config(boto3.client("lambda"), WRITER)), lambda: boto3.client("s3"))

    return Cutover(manifest, store(), account(), account(), CutoverOptions(**options), by="tester", replayer=replayer)


def test_given_the_runbook_then_each_step_refuses_until_its_checks_hold_and_the_state_follows(
    manifest: Manifest, tmp_path: Path
) -> None:
    with pytest.raises(StepRefusedError, match="point-in-time recovery"):
        cutover(manifest).run("preflight")
    with pytest.raises(StepRefusedError, match="the next step is preflight"):
        cutover(manifest).run("switch")
    enable_pitr()
    cutover(manifest).run("preflight")
    cutover(manifest).run("capture")

    boto3.client("dynamodb").put_item(TableName=SOURCE_TABLE, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    report = tmp_path / "bulk.json"
    report.write_text(json.dumps({"source_table": SOURCE_TABLE, "target_table": TARGET_TABLE, "failed": 1}))
    with pytest.raises(StepRefusedError, match="1 items failed"):
        cutover(manifest, report=report).run("bulk-copy")
    report.write_text(
        json.dumps(
            {
                "source_table": SOURCE_TABLE,
                "target_table": TARGET_TABLE,
                "failed": 0,
                "parked": 0,
                "reconciled": True,
                "read": 1,
                "written": 1,
                "seconds": 2,
            }
        )
    )
    cutover(manifest, report=report).run("bulk-copy")
    with pytest.raises(StepRefusedError, match="the next step is replay"):
        cutover(manifest).run("verify")  # not before the replay
    cutover(manifest).run("replay")

    with pytest.raises(StepRefusedError, match="1 missing"):
        cutover(manifest).run("verify")
    assert store().load().last_verify["missing"] == 1  # type: ignore[index]  # a failed verify is recorded too
    boto3.client("dynamodb").put_item(TableName=TARGET_TABLE, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    assert cutover(manifest).run("verify")["equal"] is True

    with pytest.raises(StepRefusedError, match="--no-rollback"):
        cutover(manifest).run("reverse")
    cutover(manifest, no_rollback="rehearsal without a rollback path").run("reverse")
    with pytest.raises(StepRefusedError, match="nothing to roll back"):
        cutover(manifest).run("rollback")
    cutover(manifest).run("switch")
    with pytest.raises(StepRefusedError, match="no rollback pipeline"):
        cutover(manifest).run("rollback")
    with pytest.raises(StepRefusedError, match="watch for 24 h"):
        cutover(manifest).run("watch")
    cutover(manifest, min_watch_hours=0).run("watch")
    cutover(manifest).run("decommission")

    state = store().load()
    assert list(state.done) == list(STEPS)
    assert state.current is None and all(entry["by"] == "tester" for entry in state.done.values())
    assert cutover(manifest).next_action(state) == "the migration is finished"


def test_given_two_operators_then_the_second_write_of_the_same_revision_is_refused(manifest: Manifest) -> None:
    first, second = store().load(), store().load()
    first.record("preflight", {}, by="a")
    store().save(first)
    second.record("preflight", {}, by="b")
    with pytest.raises(StateConflictError, match="another operator"):
        store().save(second)
    assert store().load().done["preflight"]["by"] == "a"


def test_given_a_migration_file_that_is_not_the_output_then_the_error_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="terraform output -json migration"):
        Manifest.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"source": {}}')
    with pytest.raises(ManifestError, match="not the module's `migration` output"):
        Manifest.load(tmp_path / "bad.json")


def test_given_the_cli_then_cutover_records_a_step_and_prints_the_next_action(
    manifest: Manifest, tmp_path: Path
) -> None:
    enable_pitr()
    path = tmp_path / "migration.json"
    path.write_text(json.dumps(raw(manifest)))
    result = CliRunner().invoke(app, ["cutover", "preflight", "--migration-file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["next"], list(summary["done"])) == ("capture", ["preflight"])
    assert "dynamigrate cutover capture" in summary["next_action"]
    refused = CliRunner().invoke(app, ["cutover", "verify", "--migration-file", str(path)])
    assert refused.exit_code == 1
    assert "the next step is capture" in refused.output


def test_given_the_direct_transport_then_status_reads_the_writers_stream_lag_and_expects_no_queue(
    manifest: Manifest,
) -> None:
    direct = Manifest.from_output(
        {**raw(manifest), "transport": "direct", "source": {**manifest.source.raw, "function_name": None}}
    )
    mark_done("preflight", "capture")
    report = status(direct, store().load(), account(), account())
    names = [c.name for c in report.checks]
    assert "capture mapping" not in names and "dead-letter queue" not in names
    assert report.attention == []
    put_metric("AWS/Lambda", "IteratorAge", {"FunctionName": WRITER}, 3 * 3600 * 1000)
    lagging = status(direct, store().load(), account(), account())
    assert [c.name for c in lagging.attention] == ["stream lag"] and WRITER in lagging.attention[0].hint
    boto3.client("s3").put_object(Bucket=BUCKET, Key="aws/lambda/uuid/shard/2026/12/03/failed", Body=b"{}")
    failing = status(direct, store().load(), account(), account())
    assert [c.name for c in failing.attention] == ["stream lag", "failed stream batches"]


def test_given_the_direct_transport_then_preflight_probes_only_the_functions_that_exist(manifest: Manifest) -> None:
    enable_pitr()
    direct = Manifest.from_output(
        {**raw(manifest), "transport": "direct", "source": {**manifest.source.raw, "function_name": None}}
    )
    report = preflight(direct, account(), account())
    assert report.attention == [], report.as_dict()
    assert f"{WRITER} readable" in {c.name for c in report.checks}
