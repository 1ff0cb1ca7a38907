"""examples/per-account on the embedded emulator: each account applied on its own, target first.

Two separate Terraform roots with one default provider each, applied with each
account's own credentials, as two pipelines would: the target side needs
nothing from the source account (the bucket trusts the stream role by the ARN
its name gives), then the source side points its function at the target's
bucket. A change then replicates through both.
"""

from __future__ import annotations

import io
import random
from typing import TYPE_CHECKING, Any

import pytest
from rich.console import Console

from dynamigrate.cli import sample
from dynamigrate.cli.demo import DemoOptions, Rehearsal
from dynamigrate.cli.terraform import Terraform, emulator_override
from dynamigrate.emulator import Emulator
from tests.integration.conftest import LAMBDA_ZIP, REPO

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration
EXAMPLE = REPO / "examples" / "per-account"
SOURCE, TARGET = "111111111111", "222222222222"


def apply(emulator: Emulator, root: str, work: Path, account: str, variables: dict[str, Any]) -> dict[str, Any]:
    """terraform apply of one account's root with that account's own credentials."""
    credentials = emulator.credentials(account)
    terraform = Terraform.prepare(
        EXAMPLE / root,
        work / root,
        {"region": emulator.region, "force_destroy": True, "lambda_package_path": str(LAMBDA_ZIP), **variables},
        emulator_override(emulator.endpoint_url, (None,)),
        env={
            "AWS_ACCESS_KEY_ID": credentials["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": credentials["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": credentials["aws_session_token"],
            "AWS_REGION": emulator.region,
        },
    )
    terraform.init()
    terraform.apply()
    return terraform.outputs()


def test_given_each_account_applied_on_its_own_when_the_source_changes_then_the_target_follows(
    tmp_path: Path,
) -> None:
    rehearsal = Rehearsal(DemoOptions(items=20, work_dir=tmp_path, lambda_zip=LAMBDA_ZIP), Console(file=io.StringIO()))
    with Emulator(work_dir=tmp_path / "emulator") as emulator:
        source = emulator.session(SOURCE).client("dynamodb")
        target = emulator.session(TARGET).client("dynamodb")
        rehearsal._create_source_table(source, "orders")
        rehearsal._create_table(target, "orders")
        common = {"name": "orders-split", "source_account_id": SOURCE, "target_account_id": TARGET}

        target_side = apply(emulator, "target", tmp_path, TARGET, {**common, "target_table_name": "orders"})
        source_side = apply(
            emulator,
            "source",
            tmp_path,
            SOURCE,
            {**common, "source_table_name": "orders", "change_bucket_name": target_side["change_bucket_name"]},
        )
        assert source_side["role_arn"] == target_side["source_writer_role_arn"]  # what the bucket trusts

        item = sample.make_item(700_001, random.Random(3), version=sample.version_now())
        source.put_item(TableName="orders", Item=item)
        source.delete_item(TableName="orders", Key=sample.item_key(1))
        assert emulator.wait_idle(timeout=120), emulator.stats()
        assert target.get_item(TableName="orders", Key=sample.item_key(700_001), ConsistentRead=True)["Item"] == item
        assert "Item" not in target.get_item(TableName="orders", Key=sample.item_key(1), ConsistentRead=True)
        assert all(s["errors"] == 0 for s in emulator.stats().values()), emulator.stats()
