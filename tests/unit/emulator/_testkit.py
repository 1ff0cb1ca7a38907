"""Helpers for the embedded emulator's tests: tiny handler zips, account clients, polling with deadlines."""

from __future__ import annotations

import io
import json
import textwrap
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dynamigrate.emulator import Emulator

# Shared by every test in the process: loading service models is what makes client creation slow.
_BOTO = boto3.session.Session(region_name="us-east-1")

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"

# A handler that appends what it saw to the file named by RECORD_FILE, one JSON line per invocation.
RECORDER = """
import json, os

def record(event, **extra):
    line = json.dumps({"pid": os.getpid(), "event": event, **extra}) + "\\n"
    fd = os.open(os.environ["RECORD_FILE"], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
"""


def make_zip(files: dict[str, str]) -> bytes:
    """A deployment package with the given files (dedented)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in sorted(files.items()):
            archive.writestr(name, textwrap.dedent(source))
    return buffer.getvalue()


def handler_zip(source: str) -> bytes:
    """``handler.py`` with ``source`` plus ``recorder.py`` (``from recorder import record``)."""
    return make_zip({"handler.py": source, "recorder.py": RECORDER})


def poll(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Return the first truthy value of ``predicate()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s (last value: {value!r})")
        time.sleep(interval)


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Account:
    """boto3 clients of one emulated account."""

    emu: Emulator
    account_id: str
    _clients: dict[str, Any] = field(default_factory=dict)
    _role_arn: str | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = _BOTO.client(  # type: ignore[call-overload]
                service, endpoint_url=self.emu.endpoint_url, **self.emu.credentials(self.account_id)
            )
        return self._clients[service]

    @property
    def role_arn(self) -> str:
        if self._role_arn is None:
            role = self.client("iam").create_role(RoleName=unique("fn-role"), AssumeRolePolicyDocument="{}")
            self._role_arn = role["Role"]["Arn"]
        return self._role_arn

    def create_function(
        self,
        source: str,
        *,
        name: str | None = None,
        timeout: int = 5,
        env: dict[str, str] | None = None,
        handler: str = "handler.handler",
        code: bytes | None = None,
    ) -> str:
        """Create a Python function from handler source; returns its name."""
        name = name or unique("fn")
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=self.role_arn,
            Handler=handler,
            Code={"ZipFile": code if code is not None else handler_zip(source)},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": env or {}},
        )
        return name

    def invoke(self, name: str, event: Any = None) -> tuple[Any, str | None]:
        response = self.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}))
        return json.loads(response["Payload"].read()), response.get("FunctionError")

    def create_stream_table(self, view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
        """A table keyed by ``pk`` (S) with a stream; returns (name, stream ARN)."""
        name = unique("table")
        table = self.client("dynamodb").create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )
        return name, table["TableDescription"]["LatestStreamArn"]

    def create_queue(self, name: str | None = None, **attributes: str) -> tuple[str, str]:
        """Returns (queue URL, queue ARN)."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name or unique("queue"), Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn
