"""Source account: DynamoDB stream batch -> ONE change object in the target account's bucket.

One object per batch (not per record) keeps S3 requests and notifications
hundreds of times lower than the seed article's one-object-per-change design.
The object key is deterministic, so a retried batch overwrites its own object.

Failure handling: a record that cannot be encoded is reported as a batch item
failure (Powertools' batch processor, used only when a batch holds such a
record: the common path converts records directly), so the event source mapping retries
from it and finally sends it to the on-failure S3 destination with its
payload; an S3 error fails the whole invocation, which the mapping retries,
bisects and, when retries run out, parks in the same destination. Nothing is
dropped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from dynamigrate import aws
from dynamigrate.changes import encode_object, object_key
from dynamigrate.config import StreamToS3Config
from dynamigrate.handlers._stream import encode_batch

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
config = StreamToS3Config.from_env()
metrics.set_default_dimensions(Migration=config.migration)


def put_change_object(lines: list[dict[str, Any]], source: str) -> str:
    """Write the lines as one object; return its key. Raises on any S3 error, with the fix in the message."""
    key = object_key(config.prefix, config.source_table, lines[0], lines[-1])
    body = encode_object(lines, source=source)
    params: dict[str, Any] = {
        "Bucket": config.bucket,
        "Key": key,
        "Body": body,
        "ContentType": "application/x-ndjson",
        "Metadata": {"record-count": str(len(lines)), "first-seq": lines[0]["seq"], "last-seq": lines[-1]["seq"]},
    }
    if config.bucket_owner:
        params["ExpectedBucketOwner"] = config.bucket_owner
    if config.kms_key_arn:
        params["ServerSideEncryption"] = "aws:kms"
        params["SSEKMSKeyId"] = config.kms_key_arn
    try:
        aws.s3().put_object(**params)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        hint = {
            "NoSuchBucket": "the change bucket does not exist: apply modules/target in the target account first",
            "AccessDenied": (
                "the bucket policy must allow this function's role (modules/target source_writer_role_arn) "
                "and the bucket must be owned by CHANGE_BUCKET_OWNER"
            ),
        }.get(code, "the event source mapping will retry, bisect and park the batch in its on-failure bucket")
        logger.error("cannot write change object", extra={"bucket": config.bucket, "key": key, "error": code})
        raise RuntimeError(f"PutObject s3://{config.bucket}/{key} failed with {code}: {hint}") from exc
    metrics.add_metric(name="ObjectsWritten", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="BytesWritten", unit=MetricUnit.Bytes, value=len(body))
    return key


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = event.get("Records") or []
    lines, failures = encode_batch(records)
    if lines:
        source = str(records[0].get("eventSourceARN", config.source_table))
        key = put_change_object(lines, source)
        oldest = min(line["ts"] for line in lines)
        metrics.add_metric(name="RecordsCaptured", unit=MetricUnit.Count, value=len(lines))
        metrics.add_metric(name="CaptureLag", unit=MetricUnit.Milliseconds, value=max(0.0, time.time() - oldest) * 1000)
        ttl_deletes = sum(1 for line in lines if line.get("ttl"))
        if ttl_deletes:
            metrics.add_metric(name="TtlDeletesCaptured", unit=MetricUnit.Count, value=ttl_deletes)
        logger.info("captured batch", extra={"key": key, "records": len(lines)})
    if failures["batchItemFailures"]:
        metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=len(failures["batchItemFailures"]))
    return failures
