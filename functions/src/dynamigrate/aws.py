"""AWS clients for the Lambda handlers, configured in one place.

Clients are created lazily, on first use (so tests can start moto's mock
before any client exists; ``reset()`` drops them), and cached. They are
botocore clients (what boto3 hands out, too) made without importing boto3:
boto3 pulls in s3transfer, about 130 ms of every cold start for nothing a
handler uses. The CLI's per-account sessions live in ``dynamigrate.accounts``.

Endpoints: botocore honours ``AWS_ENDPOINT_URL`` (and per-service
``AWS_ENDPOINT_URL_<SERVICE>``), which is how the emulator and LocalStack are
reached; nothing here hard-codes an endpoint.

DynamoDB clients send and parse items through ``sdkcodec``: the same bytes
and results as botocore's own model walk, at a fraction of the CPU.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config

from dynamigrate import __version__
from dynamigrate.sdkcodec import fast

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# Adaptive retries: exponential backoff with jitter plus client-side rate
# limiting when DynamoDB throttles, which is what a bulk writer needs.
RETRY_ATTEMPTS = 10
BOTO_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": RETRY_ATTEMPTS},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=64,
    user_agent_extra=f"dynamigrate/{__version__}",
)

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _cached(service: str) -> Any:
    client = _clients.get(service)
    if client is None:
        with _lock:
            client = _clients.get(service)
            if client is None:
                client = botocore.session.get_session().create_client(service, config=BOTO_CONFIG)
                _clients[service] = fast(client) if service == "dynamodb" else client
    return client


def dynamodb() -> DynamoDBClient:
    return _cached("dynamodb")  # type: ignore[no-any-return]


def s3() -> S3Client:
    return _cached("s3")  # type: ignore[no-any-return]


def sqs() -> SQSClient:
    return _cached("sqs")  # type: ignore[no-any-return]


def reset() -> None:
    """Forget cached clients (tests call this after starting a new mock)."""
    with _lock:
        _clients.clear()
