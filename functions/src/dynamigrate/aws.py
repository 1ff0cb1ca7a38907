"""boto3 clients and sessions, configured in one place.

Lambda handlers use the module-level cached clients (created lazily, on first
use, so tests can start moto's mock before any client exists; ``reset()``
drops them). The CLI builds one session per account, optionally assuming a
role (with ExternalId) and refreshing the credentials before they expire, so
a bulk copy that runs for hours does not die when a 1-hour session ends.

Endpoints: boto3 honours ``AWS_ENDPOINT_URL`` (and per-service
``AWS_ENDPOINT_URL_<SERVICE>``), which is how the emulator and LocalStack are
reached; nothing here hard-codes an endpoint.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from dynamigrate import __version__

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
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
                client = boto3.session.Session().client(service, config=BOTO_CONFIG)  # type: ignore[call-overload]
                _clients[service] = client
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


class Account:
    """Clients for one AWS account, from a profile or an assumed role."""

    def __init__(
        self,
        *,
        role_arn: str | None = None,
        external_id: str | None = None,
        profile: str | None = None,
        region: str | None = None,
        session_name: str = "dynamigrate",
        base: boto3.Session | None = None,
    ) -> None:
        self.role_arn = role_arn
        base = base or boto3.Session(profile_name=profile, region_name=region)
        self.region = region or base.region_name or "us-east-1"
        if role_arn is None:
            self.session = base
        else:
            self.session = _assumed_session(base, role_arn, external_id, session_name, self.region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self.session.client(service, region_name=self.region, config=BOTO_CONFIG)  # type: ignore[call-overload]
                self._clients[service] = client
            return client

    def dynamodb(self) -> DynamoDBClient:
        return self.client("dynamodb")  # type: ignore[no-any-return]

    def s3(self) -> S3Client:
        return self.client("s3")  # type: ignore[no-any-return]

    def sqs(self) -> SQSClient:
        return self.client("sqs")  # type: ignore[no-any-return]

    def lambda_(self) -> LambdaClient:
        return self.client("lambda")  # type: ignore[no-any-return]

    def cloudwatch(self) -> CloudWatchClient:
        return self.client("cloudwatch")  # type: ignore[no-any-return]

    def account_id(self) -> str:
        return str(self.client("sts").get_caller_identity()["Account"])


def _assumed_session(
    base: boto3.Session, role_arn: str, external_id: str | None, session_name: str, region: str
) -> boto3.Session:
    """A session whose credentials come from AssumeRole and refresh themselves."""
    extra: dict[str, Any] = {"RoleSessionName": session_name}
    if external_id:
        extra["ExternalId"] = external_id
    source = base.get_credentials()
    if source is None:
        raise RuntimeError(
            f"no AWS credentials to assume {role_arn} with: configure a profile or environment credentials"
        )
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=base._session.create_client,
        source_credentials=source,
        role_arn=role_arn,
        extra_args=extra,
    )
    core = botocore.session.Session()
    # botocore has no public setter for a refreshable credentials object; this
    # is the documented-by-practice way its own assume-role provider is wired.
    core._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
        method="assume-role", refresh_using=fetcher.fetch_credentials
    )
    return boto3.Session(botocore_session=core, region_name=region)
