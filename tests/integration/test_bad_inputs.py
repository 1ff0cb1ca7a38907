"""Bad input is stopped at `terraform plan` with a message that names the problem and the fix."""

from __future__ import annotations

import io
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from dynamigrate.cli import sample
from dynamigrate.cli.demo import DemoOptions, Deployment, Rehearsal
from dynamigrate.cli.terraform import Terraform, TerraformError
from dynamigrate.emulator import Emulator
from tests.integration.conftest import EXAMPLE, LAMBDA_ZIP

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


class Planner:
    """One emulator and one initialised working copy; each test plans with its own tables and variables."""

    def __init__(self, rehearsal: Rehearsal, emulator: Emulator, deployment: Deployment, terraform: Terraform) -> None:
        self.rehearsal = rehearsal
        self.emulator = emulator
        self.deployment = deployment
        self.terraform = terraform

    def table(self, account: str, name: str, *, stream: str | None = None, key: str = "orders") -> None:
        client = self.emulator.session(account).client("dynamodb")
        extra: dict[str, Any] = {}
        if stream:
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
        schema, attributes = sample.KEY_SCHEMA, sample.ATTRIBUTE_DEFINITIONS
        if key == "guid":
            schema = [{"AttributeName": "guid", "KeyType": "HASH"}]
            attributes = [{"AttributeName": "guid", "AttributeType": "S"}]
        client.create_table(
            TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST", **extra
        )

    def plan(self, **overrides: Any) -> str:
        variables = {**self.rehearsal.terraform_variables(self.deployment), **overrides}
        terraform = Terraform.prepare(
            EXAMPLE,
            self.terraform.workdir,
            variables,
            (self.terraform.workdir / "emulator_override.tf").read_text(),
            env=self.terraform.env,
        )
        with pytest.raises(TerraformError) as failure:
            terraform.plan()
        return " ".join(str(failure.value).split())  # error text is wrapped at terminal width


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planner]:
    work = tmp_path_factory.mktemp("bad-inputs")
    options = DemoOptions(work_dir=work, example_dir=EXAMPLE, lambda_zip=LAMBDA_ZIP, json_output=True)
    rehearsal = Rehearsal(options, Console(file=io.StringIO()))
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator(work_dir=work / "emulator"))
        roles = [rehearsal._bootstrap_account(emulator, a) for a in (options.source_account, options.target_account)]
        deployment = Deployment(
            source_role_arn=roles[0],
            target_role_arn=roles[1],
            source=emulator.session(options.source_account).client("dynamodb"),
            target=emulator.session(options.target_account).client("dynamodb"),
        )
        terraform = rehearsal.terraform(emulator, deployment)
        terraform.init()
        planner = Planner(rehearsal, emulator, deployment, terraform)
        planner.table(options.target_account, "orders")
        yield planner


def test_given_source_table_without_stream_when_planned_then_error_says_how_to_enable_it(planner: Planner) -> None:
    planner.table(planner.rehearsal.options.source_account, "no-stream")
    message = planner.plan(source_table_name="no-stream")
    assert "must have a DynamoDB stream with view type NEW_AND_OLD_IMAGES" in message
    assert "update-table --table-name no-stream --stream-specification" in message


def test_given_keys_only_stream_when_planned_then_error_names_the_view_type(planner: Planner) -> None:
    planner.table(planner.rehearsal.options.source_account, "keys-only", stream="KEYS_ONLY")
    message = planner.plan(source_table_name="keys-only")
    assert 'stream_view_type = "KEYS_ONLY"' in message
    assert "NEW_AND_OLD_IMAGES" in message


def test_given_missing_source_table_when_planned_then_error_names_the_table(planner: Planner) -> None:
    message = planner.plan(source_table_name="does-not-exist")
    assert "does-not-exist" in message
    assert "couldn't find resource" in message


def test_given_source_provider_in_wrong_account_when_planned_then_error_names_both_accounts(planner: Planner) -> None:
    planner.table(planner.rehearsal.options.source_account, "orders-ok", stream="NEW_AND_OLD_IMAGES")
    message = planner.plan(source_table_name="orders-ok", source_account_id="333333333333")
    assert "works in account 111111111111" in message
    assert "source_account_id is 333333333333" in message


def test_given_target_with_another_key_schema_when_planned_then_error_points_to_transforms(planner: Planner) -> None:
    planner.table(planner.rehearsal.options.source_account, "orders-src", stream="NEW_AND_OLD_IMAGES")
    planner.table(planner.rehearsal.options.target_account, "articles", key="guid")
    message = planner.plan(source_table_name="orders-src", target_table_name="articles")
    assert "key schema" in message and "differs from the source table's" in message
