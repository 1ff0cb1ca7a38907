"""Target account: SQS (S3 event notifications) -> change objects -> target table.

Each SQS message names one or more change objects. For each object the writer
reads and validates it as a whole (a malformed object is never half-applied:
its message fails and, after the queue's maxReceiveCount, lands in the DLQ),
keeps the newest change per key, and applies each through the version rule
with conditional writes, in parallel threads. Outcomes:

* applied / stale / tombstoned: done (stale and tombstoned are conflicts,
  counted as metrics, not errors);
* parked: a record that can never apply (bad key, oversize, no version) is
  written to ``dead-letter/`` in the bucket with its reason, for replay;
* failed: throttling or server errors that outlived retries fail the message,
  so SQS redelivers the object; re-applying is harmless.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from dynamigrate.writer import ChangeWriter, NotAChangeObjectError, object_refs

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
writer = ChangeWriter.from_env(logger=logger)
metrics.set_default_dimensions(Migration=writer.config.migration)


def record_handler(record: SQSRecord) -> None:
    body = record.json_body
    if not isinstance(body, dict):
        raise NotAChangeObjectError(f"message {record.message_id} is not an S3 event notification")
    if body.get("Event") == "s3:TestEvent":
        logger.info("ignoring S3 test event", extra={"bucket": body.get("Bucket")})
        return
    refs = object_refs(body)
    if not refs:
        raise NotAChangeObjectError(f"message {record.message_id} names no S3 object")
    for bucket, key, version_id, _size in refs:
        summary = writer.apply_object(bucket, key, version_id)
        for name, value in summary.metrics().items():
            if value:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if summary.lag_seconds is not None:
            metrics.add_metric(name="ReplicationLag", unit=MetricUnit.Milliseconds, value=summary.lag_seconds * 1000)
        summary.raise_if_failed()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    started = time.monotonic()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    logger.debug("batch done", extra={"seconds": round(time.monotonic() - started, 3)})
    return response
