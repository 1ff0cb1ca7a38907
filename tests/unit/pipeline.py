"""A whole replication pipeline in one process, for model-based and type tests.

Real parts: a moto source table with its stream, the real stream-to-S3 and
writer handlers, a moto bucket and target/ledger tables. What Lambda and SQS
would do around them (batching the stream, retrying and bisecting failed
batches, delivering S3 notifications at least once, in any order, in batches,
redelivering failed messages) is done here, under the test's control, so a
test can choose every ordering, duplicate and failure.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import boto3
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

# The handler modules read their configuration at import, as on a cold start; the
# pipeline then gives each instance its own tables through the modules' globals.
for _name in ("CHANGE_BUCKET_NAME", "SOURCE_TABLE_NAME", "TARGET_TABLE_NAME", "LEDGER_TABLE_NAME"):
    os.environ.setdefault(_name, "configured-per-pipeline")

from dynamigrate import aws  # noqa: E402
from dynamigrate.apply import execute  # noqa: E402
from dynamigrate.batchcopy import TransactBatcher  # noqa: E402
from dynamigrate.config import StreamToS3Config, WriterConfig  # noqa: E402
from dynamigrate.ddbjson import canonical_key, items_equal, key_of  # noqa: E402
from dynamigrate.handlers import s3_to_table, stream_to_s3  # noqa: E402
from dynamigrate.rule import APPLIED, EXISTS, FAILED, STALE, TOMBSTONED, TableSchema, VersionRule  # noqa: E402
from dynamigrate.writer import ChangeWriter  # noqa: E402
from tests.unit.conftest import FakeContext, create_table, load_event  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

    from dynamigrate.rule import Write

ACCOUNT, REGION = "123456789012", "us-east-1"
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_names = itertools.count()


class InjectedError(ClientError):
    """A failure the test injected (throttling after botocore's retries, a server error)."""


def throttle(operation: str) -> InjectedError:
    error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"}}
    return InjectedError(error, operation)  # type: ignore[arg-type]


class Flaky:
    """A client proxy that raises on the calls a test chose (by call number)."""

    def __init__(self, client: Any, fail_calls: set[int], error: Callable[[str], Exception]) -> None:
        self._client = client
        self._fail = fail_calls
        self._error = error
        self._calls = itertools.count()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method) or name.startswith("_") or name in ("describe_table", "get_object", "meta"):
            return method

        def call(**kwargs: Any) -> Any:
            if next(self._calls) in self._fail:
                raise self._error(name)
            return method(**kwargs)

        return call


@dataclass
class Stats:
    stream_retries: int = 0
    writer_failures: int = 0
    deliveries: int = 0
    copies: dict[str, int] = field(default_factory=dict)


class Pipeline:
    """Source table + stream handler + bucket + writer handler + target and ledger tables."""

    def __init__(self, version_attribute: str | None, *, key: dict[str, str] | None = None) -> None:
        n = next(_names)
        self.source, self.target, self.ledger, self.bucket = f"src-{n}", f"tgt-{n}", f"ledger-{n}", f"bucket-{n}"
        self.version_attribute = version_attribute
        key = key or {"pk": "S", "sk": "N"}
        create_table(self.source, key, stream=True)
        create_table(self.target, key)
        create_table(self.ledger, {"pk": "S"}, ttl="expires_at")
        self.ddb = boto3.client("dynamodb")
        self.s3 = boto3.client("s3")
        self.s3.create_bucket(Bucket=self.bucket)
        self.stream_config = StreamToS3Config(
            bucket=self.bucket,
            prefix="changes/",
            bucket_owner=None,
            source_table=self.source,
            kms_key_arn=None,
            migration="model",
        )
        self.writer_config = WriterConfig.from_env(
            {
                "TARGET_TABLE_NAME": self.target,
                "LEDGER_TABLE_NAME": self.ledger,
                "CHANGE_BUCKET_NAME": self.bucket,
                "VERSION_ATTRIBUTE": version_attribute or "",
                "WRITER_THREADS": "4",
            }
        )
        self.captured = 0  # stream records already handed to the stream handler
        self.ttl_records: set[int] = set()  # shard positions of deletes made by TTL
        self.stats = Stats()
        self.rule = VersionRule(
            TableSchema.from_description(dict(self.ddb.describe_table(TableName=self.target)["Table"])),
            self.ledger,
            version_attribute,
        )

    # --------------------------------------------------------------- source --

    def shard_items(self) -> list[Any]:
        from moto.dynamodb.models import dynamodb_backends

        return list(dynamodb_backends[ACCOUNT][REGION].get_table(self.source).stream_shard.items)

    def fix_moto_upsert_records(self) -> None:
        """moto records an UpdateItem that creates an item as two INSERTs, the first with only the key.

        DynamoDB records one INSERT with the whole new item. Give the first
        record the final image too, keeping both sequence numbers (removing a
        record would make moto reuse a sequence number), so the stream says
        what DynamoDB's would, once plus a harmless duplicate.
        """
        first, second = self.shard_items()[-2:]
        if first.record["eventName"] == second.record["eventName"] == "INSERT":
            first.record["dynamodb"]["NewImage"] = second.record["dynamodb"]["NewImage"]

    def mark_last_as_ttl(self) -> None:
        """The source delete just made was a TTL expiry: its stream record will say so."""
        self.ttl_records.add(len(self.shard_items()) - 1)

    def source_items(self) -> dict[str, dict[str, Any]]:
        return {json.dumps(i["pk"]) + json.dumps(i.get("sk")): i for i in self.scan(self.source)}

    def scan(self, table: str) -> list[dict[str, Any]]:
        return [i for page in self.ddb.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]

    # --------------------------------------------------------------- capture --

    def pending_records(self) -> list[dict[str, Any]]:
        """Stream records not yet captured, as Lambda delivers them."""
        from moto.dynamodb.models.utilities import dynamo_json_dump

        arn = self.ddb.describe_table(TableName=self.source)["Table"]["LatestStreamArn"]
        out = []
        for position, record in enumerate(self.shard_items()[self.captured :], start=self.captured):
            event = json.loads(dynamo_json_dump(record.to_json()))
            event["dynamodb"]["ApproximateCreationDateTime"] = time.time()
            event["eventSourceARN"] = arn
            if position in self.ttl_records:
                event["userIdentity"] = TTL_IDENTITY
            out.append(event)
        return out

    def capture(self, batch_sizes: list[int], s3_failures: set[int], *, bisect: bool = True) -> list[str]:
        """Hand pending stream records to the stream handler in order, in batches; retry failures.

        ``s3_failures`` are PutObject call numbers that fail (the handler then
        raises, as on an S3 outage); the batch is retried, split in halves as
        with BisectBatchOnFunctionError. Returns the keys of new objects.
        """
        records = self.pending_records()
        self.captured += len(records)
        stream_to_s3.config = self.stream_config
        real = boto3.client("s3")
        aws._clients["s3"] = Flaky(real, s3_failures, throttle)
        before = set(self.object_keys())
        sizes = itertools.cycle(batch_sizes or [100])
        queue: list[list[dict[str, Any]]] = []
        while records:
            size = max(1, next(sizes))
            queue.append(records[:size])
            records = records[size:]
        while queue:
            batch = queue.pop(0)
            try:
                response = stream_to_s3.lambda_handler({"Records": batch}, FakeContext())
            except RuntimeError:
                self.stats.stream_retries += 1
                halves = [batch[: len(batch) // 2], batch[len(batch) // 2 :]] if bisect and len(batch) > 1 else [batch]
                queue[:0] = [h for h in halves if h]
                continue
            assert response == {"batchItemFailures": []}, response
        aws._clients["s3"] = real
        return sorted(set(self.object_keys()) - before)

    def object_keys(self, prefix: str = "changes/") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    # --------------------------------------------------------------- deliver --

    def sqs_event(self, keys: list[str]) -> dict[str, Any]:
        template = load_event("sqs_s3_notification.json")["Records"][0]
        records = []
        for index, key in enumerate(keys):
            record = copy.deepcopy(template)
            body = json.loads(record["body"])
            body["Records"][0]["s3"]["bucket"]["name"] = self.bucket
            body["Records"][0]["s3"]["object"]["key"] = quote_plus(key)
            record["body"] = json.dumps(body)
            record["messageId"] = str(index)
            records.append(record)
        return {"Records": records}

    def deliver(self, keys: list[str], dynamodb_failures: set[int]) -> list[str]:
        """One writer invocation for these objects; returns the keys whose messages failed."""
        real = boto3.client("dynamodb")
        flaky = Flaky(real, dynamodb_failures, throttle)
        s3_to_table.writer = ChangeWriter(self.writer_config, dynamodb=lambda: flaky)  # type: ignore[arg-type,return-value]
        self.stats.deliveries += 1
        try:
            response = s3_to_table.lambda_handler(self.sqs_event(keys), FakeContext())
        except BatchProcessingError:
            self.stats.writer_failures += len(keys)
            return list(keys)
        failed = [keys[int(f["itemIdentifier"])] for f in response["batchItemFailures"]]
        self.stats.writer_failures += len(failed)
        return failed

    # ------------------------------------------------------------------ copy --

    def copy_item(self, item: dict[str, Any]) -> str:
        """The bulk copy of one item read from the source (the same plan `dynamigrate backfill` sends)."""
        result = execute(self.ddb, self.rule.plan_copy(item))
        assert result.outcome in (APPLIED, EXISTS, TOMBSTONED, STALE, FAILED), result
        self.stats.copies[result.outcome] = self.stats.copies.get(result.outcome, 0) + 1
        return result.outcome

    def copy_items(self, items: list[dict[str, Any]], failures: set[int]) -> list[str]:
        """Copy items as `dynamigrate backfill` does (batched transactions), throttling the chosen calls."""
        batcher = TransactBatcher(Flaky(self.ddb, failures, throttle), self.target, retries=1, sleep=lambda _: None)  # type: ignore[arg-type]
        outcomes = [r.outcome for r in batcher.run([self.rule.plan_copy(item) for item in items])]
        for outcome in outcomes:
            assert outcome in (APPLIED, EXISTS, TOMBSTONED, STALE, FAILED), outcome
            self.stats.copies[outcome] = self.stats.copies.get(outcome, 0) + 1
        return outcomes

    def planned_copy(self, item: dict[str, Any]) -> Write:
        return self.rule.plan_copy(item)

    # ---------------------------------------------------------------- checks --

    def differences(self) -> list[str]:
        """Keys whose item differs between source and target (by DynamoDB equality)."""
        names = self.rule.target.key_names
        source = {canonical_key(key_of(i, names)): i for i in self.scan(self.source)}
        target = {canonical_key(key_of(i, names)): i for i in self.scan(self.target)}
        return sorted(k for k in source.keys() | target.keys() if not items_equal(source.get(k), target.get(k)))

    def parked(self) -> list[str]:
        return self.object_keys("dead-letter/")
