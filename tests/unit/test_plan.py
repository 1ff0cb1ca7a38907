"""The time and cost model of the bulk paths (docs/bulk-paths.md)."""

from __future__ import annotations

import json

import boto3
import pytest
from typer.testing import CliRunner

from dynamigrate.cli.main import app
from dynamigrate.plan import GB, estimate

from .conftest import create_table


def test_given_a_10_gb_table_of_1_kb_items_when_estimated_then_each_path_follows_the_published_prices() -> None:
    items = 10 * GB // 1024
    paths = {p.path: p for p in estimate(10 * GB, items, write_rate=2000, read_rate=6000, target_exists=False)}
    scan = paths["scan"]
    assert scan.write_units == items * 4  # transactional put (2) + ledger check (2) per 1 KB item
    assert scan.read_units == 10 * GB / 4096 * 0.5
    assert scan.dollars == pytest.approx(items * 4 / 1e6 * 0.625 + scan.read_units / 1e6 * 0.125)
    assert scan.hours == pytest.approx(items * 4 / 2000 / 3600)
    assert paths["export-load"].read_units == 0 and paths["export-load"].dollars == pytest.approx(
        1.0 + items * 4 / 1e6 * 0.625
    )
    assert paths["export-import"].dollars == pytest.approx(10 * 0.10 + 10 * 0.15)
    assert paths["export-import"].hours is None


def test_given_an_existing_target_when_estimated_then_import_is_not_offered() -> None:
    assert [p.path for p in estimate(GB, 1000, write_rate=100, read_rate=100)] == ["scan", "export-load"]


def test_given_a_table_when_the_cli_plans_then_it_prints_every_path_as_json(moto_aws: None) -> None:
    create_table("orders", {"pk": "S"})
    boto3.client("dynamodb").put_item(TableName="orders", Item={"pk": {"S": "a"}, "v": {"S": "x" * 2000}})
    result = CliRunner().invoke(app, ["plan", "--source-table", "orders", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [p["path"] for p in summary["paths"]] == ["scan", "export-load", "export-import"]
    assert summary["write_units_per_second"] == 2000.0  # half of a new on-demand table's 4,000
