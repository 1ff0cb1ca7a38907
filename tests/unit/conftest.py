"""Fixtures for unit tests: moto's in-process mock and tables built like the module builds them."""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from dynamigrate import aws
from dynamigrate.emulator import _cloudwatch_fixes, _dynamodb_fixes

# moto's TransactWriteItems is neither isolated nor cheap; the emulator's fix applies to unit tests too.
_dynamodb_fixes.install()
# CloudWatch matches a metric's exact dimension set, as AWS does.
_cloudwatch_fixes.install()

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

EVENTS = Path(__file__).resolve().parent.parent / "events"
BUCKET = "changes-bucket"
SOURCE_TABLE = "orders"
TARGET_TABLE = "orders-target"
LEDGER_TABLE = "orders-ledger"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def moto_aws() -> Iterator[None]:
    with mock_aws():
        aws.reset()
        yield
        aws.reset()


def create_table(name: str, key: dict[str, str], *, stream: bool = False, ttl: str | None = None) -> None:
    client = boto3.client("dynamodb")
    types = list(key.items())
    schema = [{"AttributeName": types[0][0], "KeyType": "HASH"}]
    if len(types) > 1:
        schema.append({"AttributeName": types[1][0], "KeyType": "RANGE"})
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    client.create_table(
        TableName=name,
        KeySchema=schema,  # type: ignore[arg-type]
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in types],  # type: ignore[misc]
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})


@pytest.fixture
def tables(moto_aws: None) -> dict[str, str]:
    """Source, target and ledger tables (pk S + sk N) and the change bucket, in one account."""
    create_table(SOURCE_TABLE, {"pk": "S", "sk": "N"}, stream=True)
    create_table(TARGET_TABLE, {"pk": "S", "sk": "N"})
    create_table(LEDGER_TABLE, {"pk": "S"}, ttl="expires_at")
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return {"source": SOURCE_TABLE, "target": TARGET_TABLE, "ledger": LEDGER_TABLE, "bucket": BUCKET}


WRITER_ENV = {
    "TARGET_TABLE_NAME": TARGET_TABLE,
    "LEDGER_TABLE_NAME": LEDGER_TABLE,
    "CHANGE_BUCKET_NAME": BUCKET,
    "MIGRATION_NAME": "unit",
}
STREAM_ENV = {
    "CHANGE_BUCKET_NAME": BUCKET,
    "SOURCE_TABLE_NAME": SOURCE_TABLE,
    "MIGRATION_NAME": "unit",
}


def load_handler(module: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """(Re)import a handler module with ``env``, as a Lambda cold start would."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return importlib.reload(importlib.import_module(module))


class FakeContext:
    function_name = "unit-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:unit-test"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/unit-test"
    log_stream_name = "unit"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def deploy_function(name: str, handler: str, env: dict[str, str], *, event_source_arn: str | None = None) -> str:
    """A function as the Terraform modules deploy it (its environment and event source), with a stub package:
    moto runs no code without Docker, and the tests using this read the deployment, not the code."""
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    }
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    client = boto3.client("lambda")
    arn = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Arn"],
        Handler=handler,
        Code={"ZipFile": package.getvalue()},
        Environment={"Variables": env},
    )["FunctionArn"]
    if event_source_arn:
        extra: dict[str, Any] = {"StartingPosition": "LATEST"} if ":sqs:" not in event_source_arn else {}
        client.create_event_source_mapping(EventSourceArn=event_source_arn, FunctionName=name, **extra)
    return str(arn)
