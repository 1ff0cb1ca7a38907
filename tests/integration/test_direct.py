"""examples/direct on the embedded emulator: the writer reads the source stream across accounts.

The emulator maps a function onto another account's stream only when the
stream's resource policy lets the function's role read it, as AWS does, so the
apply itself proves modules/stream-access grants what modules/target needs.
"""

from __future__ import annotations

import io
import json
import random
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dynamigrate.cli import sample
from dynamigrate.cli.demo import DemoOptions, Deployment, Rehearsal
from dynamigrate.cli.main import app
from dynamigrate.emulator import Emulator
from tests.integration.conftest import LAMBDA_ZIP, REPO

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration
EXAMPLE = REPO / "examples" / "direct"


class Direct:
    def __init__(self, emulator: Emulator, deployment: Deployment, rehearsal: Rehearsal) -> None:
        self.emulator = emulator
        self.deployment = deployment
        self.rehearsal = rehearsal
        self.outputs: dict[str, Any] = deployment.outputs

    def target_item(self, index: int) -> dict[str, Any] | None:
        key = sample.item_key(index)
        return self.deployment.target.get_item(TableName="orders", Key=key, ConsistentRead=True).get("Item")


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Direct]:
    work: Path = tmp_path_factory.mktemp("direct")
    options = DemoOptions(items=30, work_dir=work, example_dir=EXAMPLE, lambda_zip=LAMBDA_ZIP, json_output=True)
    rehearsal = Rehearsal(options, Console(file=io.StringIO()))
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator(work_dir=work / "emulator"))
        roles = {acct: rehearsal._bootstrap_account(emulator, acct) for acct in ("111111111111", "222222222222")}
        deployment = Deployment(
            source_role_arn=roles["111111111111"],
            target_role_arn=roles["222222222222"],
            source=emulator.session("111111111111").client("dynamodb"),
            target=emulator.session("222222222222").client("dynamodb"),
        )
        rehearsal._create_source_table(deployment.source, "orders")
        rehearsal._create_table(deployment.target, "orders")
        variables = {
            "name": "orders-direct",
            "region": options.region,
            "source_account_id": "111111111111",
            "target_account_id": "222222222222",
            "source_role_arn": deployment.source_role_arn,
            "target_role_arn": deployment.target_role_arn,
            "external_id": options.external_id,
            "source_table_name": "orders",
            "target_table_name": "orders",
            "lambda_package_path": str(LAMBDA_ZIP),
            "force_destroy": True,
        }
        deployment.terraform = rehearsal.terraform(emulator, deployment, variables)
        deployment.terraform.init()
        deployment.terraform.apply()
        deployment.outputs = deployment.terraform.outputs()
        yield Direct(emulator, deployment, rehearsal)


def test_given_the_direct_transport_then_existing_and_new_changes_reach_the_target_without_a_change_log(
    direct: Direct,
) -> None:
    # TRIM_HORIZON: the stream holds no seed records (it was enabled after the load), so copy as a bulk copy would.
    source = direct.deployment.source
    item = sample.make_item(500_001, random.Random(1), version=sample.version_now())
    source.put_item(TableName="orders", Item=item)
    source.delete_item(TableName="orders", Key=sample.item_key(3))  # never copied: the delete must not fail
    updated = sample.make_item(500_002, random.Random(2), version=sample.version_now())
    source.put_item(TableName="orders", Item=updated)
    source.update_item(
        TableName="orders",
        Key=sample.item_key(500_002),
        UpdateExpression="SET note = :n",
        ExpressionAttributeValues={":n": {"S": "updated"}},
    )
    assert direct.emulator.wait_idle(timeout=120), direct.emulator.stats()
    assert direct.target_item(500_001) == item
    assert direct.target_item(500_002)["note"] == {"S": "updated"}  # type: ignore[index]

    source.delete_item(TableName="orders", Key=sample.item_key(500_001))
    assert direct.emulator.wait_idle(timeout=120), direct.emulator.stats()
    assert direct.target_item(500_001) is None

    s3 = direct.emulator.session("222222222222").client("s3")
    listed = s3.list_objects_v2(Bucket=direct.outputs["change_bucket_name"])
    assert [o["Key"] for o in listed.get("Contents", [])] == []  # no change log, nothing parked or failed
    stats = direct.emulator.stats()
    assert all(s["errors"] == 0 for s in stats.values()), stats


def test_given_a_role_the_stream_policy_does_not_name_then_the_mapping_is_refused(direct: Direct) -> None:
    lam = direct.emulator.session("222222222222").client("lambda")
    writer = lam.get_function_configuration(FunctionName=direct.outputs["writer_function_name"])
    other_role = (
        direct.emulator.session("222222222222")
        .client("iam")
        .create_role(
            RoleName="not-the-writer",
            AssumeRolePolicyDocument='{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},'
            '"Action":"sts:AssumeRole"}]}',
        )["Role"]["Arn"]
    )
    lam.create_function(
        FunctionName="eavesdropper",
        Runtime=writer["Runtime"],
        Role=other_role,
        Handler=writer["Handler"],
        Code={"ZipFile": LAMBDA_ZIP.read_bytes()},
    )
    started = time.monotonic()
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="Cannot access stream"):
        lam.create_event_source_mapping(
            EventSourceArn=direct.outputs["stream_arn"], FunctionName="eavesdropper", StartingPosition="LATEST"
        )
    assert time.monotonic() - started < 30


def test_given_the_migration_output_then_status_and_preflight_read_the_direct_pipeline(
    direct: Direct, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI points the process at --endpoint-url (AWS_ENDPOINT_URL); monkeypatch restores it afterwards,
    # so the next test module's emulator is not shadowed by this one's address.
    base = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    for name, value in {**base, "AWS_ENDPOINT_URL": direct.emulator.endpoint_url}.items():
        monkeypatch.setenv(name, value)
    migration = tmp_path / "migration.json"
    migration.write_text(json.dumps(direct.outputs["migration"]))
    accounts = [
        "--migration-file", str(migration),
        "--endpoint-url", direct.emulator.endpoint_url,
        "--source-role-arn", direct.deployment.source_role_arn,
        "--target-role-arn", direct.deployment.target_role_arn,
        "--external-id", direct.rehearsal.options.external_id,
        "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(app, ["status", *accounts])
    report = json.loads(result.stdout)
    assert result.exit_code == 0, report
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["writer mapping"]["value"].endswith("Enabled")
    assert checks["change queue"]["value"].startswith("none")
    assert checks["parked changes"]["ok"] is True

    result = CliRunner().invoke(app, ["preflight", *accounts])
    assert result.stdout, (result.output, result.exception)
    report = json.loads(result.stdout)
    failing = {c["name"] for c in report["checks"] if c["ok"] is False}
    assert failing == {"source point-in-time recovery"}, report  # the rehearsal's source table has no PITR
