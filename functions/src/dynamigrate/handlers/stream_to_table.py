"""Target account, direct transport: the source table's stream -> the target table, no change log.

The event source mapping reads the source table's stream across accounts (the
stream's resource policy, modules/stream-access, lets this function's role
read it). Each batch goes through the same writer as the change-log path:
newest change per key, the version rule, parked changes written with their
reason under ``dead-letter/`` in the migration's bucket.

Failure handling: a record that cannot be decoded is reported as a batch item
failure, so the mapping retries from it and finally sends it to its on-failure
destination (the migration's bucket, records included). Changes that failed
transiently fail the invocation: the mapping retries the batch (re-applying
what already applied is harmless) and bisects it. Nothing is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from dynamigrate.changes import change_from_line, object_key
from dynamigrate.handlers._stream import encode_batch
from dynamigrate.writer import ChangeWriter

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
writer = ChangeWriter.from_env(logger=logger)
metrics.set_default_dimensions(Migration=writer.config.migration)


def batch_key(records: list[dict[str, Any]], lines: list[dict[str, Any]]) -> str:
    """A name for the batch, shaped like a change object's key (``<table>/<hour>/<first>-<last>``)."""
    arn = str(records[0].get("eventSourceARN", "arn:aws:dynamodb:::table/source/stream/x"))
    table = arn.split(":table/", 1)[-1].split("/", 1)[0]
    return object_key("", table, lines[0], lines[-1])


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    records = event.get("Records") or []
    lines, failures = encode_batch(records)
    if failures["batchItemFailures"]:
        metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=len(failures["batchItemFailures"]))
    if not lines:
        return failures
    summary = writer.apply_changes([change_from_line(line) for line in lines], batch_key(records, lines))
    for name, value in summary.metrics().items():
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    if summary.lag_seconds is not None:
        metrics.add_metric(name="ReplicationLag", unit=MetricUnit.Milliseconds, value=summary.lag_seconds * 1000)
    logger.info("applied stream batch", extra={"key": summary.key, "records": summary.records})
    summary.raise_if_failed()  # the mapping retries the batch; what applied is skipped as stale
    return failures
