"""LocalStack as the rehearsal's AWS, for machines with Docker.

``LocalStack`` offers the part of :class:`dynamigrate.emulator.Emulator`'s API
the rehearsal and the integration tests use (``endpoint_url``, ``session``,
``credentials``, ``wait_idle``, ``stats``), so the same code rehearses on
either. LocalStack runs the Lambdas itself (in Docker) and selects the account
from the access key id: a 12-digit access key id is that account.

Start one with ``docker run --rm -p 4566:4566 -e LOCALSTACK_AUTH_TOKEN=...
localstack/localstack`` (current releases need an auth token), then
``dynamigrate demo --localstack http://localhost:4566`` or
``LOCALSTACK_ENDPOINT=http://localhost:4566 make test-integration``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import boto3

HEALTH_PATH = "/_localstack/health"


def reachable(endpoint_url: str, timeout: float = 2.0) -> str | None:
    """None when LocalStack answers at ``endpoint_url``, else the reason it does not."""
    try:
        with urllib.request.urlopen(endpoint_url.rstrip("/") + HEALTH_PATH, timeout=timeout) as response:
            body = json.loads(response.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"LocalStack is not reachable at {endpoint_url} ({exc})"
    services = body.get("services", {})
    missing = [s for s in ("dynamodb", "lambda", "s3", "sqs", "iam", "sts") if s not in services]
    if missing:
        return f"LocalStack at {endpoint_url} lacks services {missing}"
    return None


class _EndpointSession(boto3.Session):
    """A boto3 session whose clients default to one endpoint."""

    def __init__(self, endpoint_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self._endpoint_url)
        return super().client(*args, **kwargs)


class LocalStack:
    """A running LocalStack, seen through the emulator's interface."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1", settle_seconds: float = 10.0) -> None:
        problem = reachable(endpoint_url)
        if problem:
            raise RuntimeError(problem)
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region = region
        self.settle_seconds = settle_seconds
        self._queues: list[tuple[str, str]] = []

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def credentials(self, account_id: str) -> dict[str, str]:
        return {"aws_access_key_id": account_id, "aws_secret_access_key": "test"}

    def session(self, account_id: str) -> boto3.Session:
        """A session in ``account_id`` whose clients all talk to LocalStack."""
        return _EndpointSession(self.endpoint_url, region_name=self.region, **self.credentials(account_id))

    def watch_queue(self, account_id: str, queue_url: str) -> None:
        """Let :meth:`wait_idle` wait for this queue to drain."""
        self._queues.append((account_id, queue_url))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every watched queue has stayed empty (visible and in flight) for ``settle_seconds``.

        LocalStack does not expose stream positions, so quiet queues over a
        settle period longer than the stream batching window stand in for
        "nothing left to deliver".
        """
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            busy = any(self._depth(account, url) for account, url in self._queues)
            now = time.monotonic()
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= self.settle_seconds:
                return True
            time.sleep(0.5)
        return False

    def _depth(self, account_id: str, queue_url: str) -> int:
        attributes = (
            self.session(account_id)
            .client("sqs")
            .get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        )
        return sum(int(v) for v in attributes.values())

    def stats(self) -> dict[str, Any]:
        return {}
