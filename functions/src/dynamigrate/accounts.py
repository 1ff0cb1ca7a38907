"""Per-account boto3 sessions for the CLI: a profile or an assumed role (with ExternalId).

Assumed-role credentials refresh themselves before they expire, so a bulk
copy that runs for hours does not die when a one-hour session ends.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from dynamigrate.aws import BOTO_CONFIG
from dynamigrate.sdkcodec import fast

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


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
                if service == "dynamodb":
                    client = fast(client)  # items parsed and sent without botocore's per-attribute walk
                self._clients[service] = client
            return client

    def dynamodb(self) -> DynamoDBClient:
        return self.client("dynamodb")  # type: ignore[no-any-return]

    def bulk_writer(self) -> DynamoDBClient:
        """A DynamoDB client for the bulk paths' batched transactions, without client-side validation.

        botocore validates every parameter of a request against the service
        model before sending it: a quarter of the client's time for a
        100-action transaction. The bulk paths send requests they built
        themselves from items DynamoDB returned; DynamoDB validates them again
        and a ValidationException parks the item with DynamoDB's message.
        Like every DynamoDB client here, it sends and parses items through
        ``sdkcodec`` (the same bytes as botocore's own walk, a fraction of its CPU).
        """
        with self._lock:
            client = self._clients.get("dynamodb-bulk")
            if client is None:
                config = BOTO_CONFIG.merge(Config(parameter_validation=False))
                client = fast(self.session.client("dynamodb", region_name=self.region, config=config))
                self._clients["dynamodb-bulk"] = client
            return client

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
