"""Loading an Export to S3 into a live table: manifests, the version rule, resume, integrity checks."""

from __future__ import annotations

import gzip
import json
import random
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from typer.testing import CliRunner

from dynamigrate.cli import sample
from dynamigrate.cli.main import app
from dynamigrate.ddbjson import key_of, ledger_id
from dynamigrate.exportload import ExportFormatError, load_export, manifest_key, read_manifest
from dynamigrate.rule import APPLIED, EXISTS, TableSchema, VersionRule

from .conftest import create_table

if TYPE_CHECKING:
    from pathlib import Path

KEY = {"pk": "S", "sk": "N"}
ITEMS = 2100


def exported(client: Any, s3: Any) -> str:
    """A source table of ITEMS items exported to S3; returns the export ARN once COMPLETED."""
    create_table("src", KEY)
    client.update_continuous_backups(
        TableName="src", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    rng = random.Random(4)
    for start in range(0, ITEMS, 25):
        puts = [{"PutRequest": {"Item": sample.make_item(i, rng, version=i)}} for i in range(start, start + 25)]
        client.batch_write_item(RequestItems={"src": puts})
    s3.create_bucket(Bucket="exports")
    arn = client.describe_table(TableName="src")["Table"]["TableArn"]
    export = client.export_table_to_point_in_time(TableArn=arn, S3Bucket="exports", S3Prefix="migration")
    export_arn = export["ExportDescription"]["ExportArn"]
    for _ in range(600):
        described = client.describe_export(ExportArn=export_arn)["ExportDescription"]
        if described["ExportStatus"] != "IN_PROGRESS":
            assert described["ExportStatus"] == "COMPLETED", described
            return str(export_arn)
        time.sleep(0.05)
    raise AssertionError("export did not complete")


@pytest.fixture
def export(moto_aws: None) -> tuple[Any, Any, str, VersionRule]:
    client, s3 = boto3.client("dynamodb"), boto3.client("s3")
    export_arn = exported(client, s3)
    create_table("dst", KEY)
    create_table("ledger", {"pk": "S"}, ttl="expires_at")
    rule = VersionRule(TableSchema.from_description(client.describe_table(TableName="dst")["Table"]), "ledger")
    return client, s3, export_arn, rule


def test_given_an_export_when_its_manifest_is_read_then_files_and_counts_match(export) -> None:
    client, s3, export_arn, _ = export
    described = client.describe_export(ExportArn=export_arn)["ExportDescription"]
    manifest = read_manifest(s3, "exports", manifest_key(described["S3Prefix"], export_arn))
    assert manifest.item_count == ITEMS
    assert len(manifest.files) == 3  # the emulator writes 1,000 items per data file
    assert all(f.key.startswith("migration/AWSDynamoDB/") and f.key.endswith(".json.gz") for f in manifest.files)
    assert abs(manifest.export_time - time.time()) < 60


def test_given_replication_ran_before_the_load_when_loaded_then_newer_changes_and_deletes_win(
    export, tmp_path: Path
) -> None:
    client, s3, export_arn, rule = export
    described = client.describe_export(ExportArn=export_arn)["ExportDescription"]
    manifest = read_manifest(s3, "exports", manifest_key(described["S3Prefix"], export_arn))
    # After the export time, replication applied a newer version of item 7 and a delete of item 8.
    newer = {**sample.make_item(7, random.Random(99), version=10**9), "note": {"S": "newer"}}
    client.put_item(TableName="dst", Item=newer)
    deleted = key_of(sample.make_item(8, random.Random(1), version=0), ("pk", "sk"))
    client.put_item(
        TableName="ledger",
        Item={
            "pk": {"S": ledger_id(deleted)},
            "seq": {"S": "9" * 40},
            "deleted": {"BOOL": True},
            "expires_at": {"N": str(int(time.time()) + 3600)},
        },
    )

    report = load_export(s3, client, manifest, rule, checkpoint=tmp_path / "load.json")

    assert report.read == ITEMS and report.reconciled and report.ok
    assert report.tally.counts[APPLIED] == ITEMS - 2 and report.tally.counts[EXISTS] == 2
    assert client.get_item(TableName="dst", Key=key_of(newer, ("pk", "sk")))["Item"]["note"] == {"S": "newer"}
    assert "Item" not in client.get_item(TableName="dst", Key=deleted)
    pages = client.get_paginator("scan").paginate(TableName="dst", Select="COUNT")
    assert sum(page["Count"] for page in pages) == ITEMS - 1

    again = load_export(s3, client, manifest, rule, checkpoint=tmp_path / "load.json")
    assert again.resumed_from == ITEMS and again.read == ITEMS  # every file is done: nothing is loaded twice


def test_given_an_altered_data_file_when_loaded_then_it_refuses_and_names_the_file(export) -> None:
    client, s3, export_arn, rule = export
    described = client.describe_export(ExportArn=export_arn)["ExportDescription"]
    manifest = read_manifest(s3, "exports", manifest_key(described["S3Prefix"], export_arn))
    victim = manifest.files[1].key
    lines = gzip.decompress(s3.get_object(Bucket="exports", Key=victim)["Body"].read()).splitlines()
    s3.put_object(Bucket="exports", Key=victim, Body=gzip.compress(b"\n".join(lines[:-1]) + b"\n"))
    with pytest.raises(ExportFormatError, match=f"{victim} holds 999 items but the manifest says 1000"):
        load_export(s3, client, manifest, rule, files_at_once=1)


def test_given_an_export_arn_when_the_cli_loads_it_then_it_reports_reconciled_json(export, tmp_path: Path) -> None:
    _, _, export_arn, _ = export
    args = ["load-export", "--export-arn", export_arn, "--target-table", "dst", "--ledger-table", "ledger"]
    result = CliRunner().invoke(app, [*args, "--checkpoint", str(tmp_path / "c.json"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["read"] == ITEMS and summary["written"] == ITEMS and summary["reconciled"] is True
    assert summary["source_table"] == export_arn


def test_given_a_missing_manifest_when_the_cli_loads_then_it_says_what_to_check(export) -> None:
    args = ["load-export", "--bucket", "exports", "--manifest", "nope/manifest-summary.json"]
    result = CliRunner().invoke(app, [*args, "--target-table", "dst", "--ledger-table", "ledger"])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "COMPLETED" in result.output
