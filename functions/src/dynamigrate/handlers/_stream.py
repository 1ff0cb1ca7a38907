"""Stream batch -> change lines, shared by the two stream consumers (stream_to_s3, stream_to_table).

The fast path converts every record directly. Only when one is malformed does
Powertools' batch processor go over the batch, to isolate the bad records and
report them as batch item failures (the mapping retries from the first of
them, and finally parks them in its on-failure destination).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from dynamigrate.changes import MalformedStreamRecordError, line_from_stream_record

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

_lines: list[dict[str, Any]] = []


@functools.cache
def processor() -> BatchProcessor:
    """Powertools' batch processor, built the first time a batch holds a bad record.

    Importing it (with every event source data class) costs about a third of a
    stream function's cold start, and the common path never needs it.
    """
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType  # noqa: PLC0415

    return BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=True)


def record_handler(record: DynamoDBRecord) -> None:
    _lines.append(line_from_stream_record(record.raw_event))


def encode_batch(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], PartialItemFailureResponse]:
    """Change lines for a batch, and the records that could not be encoded."""
    try:
        return [line_from_stream_record(record) for record in records], {"batchItemFailures": []}
    except MalformedStreamRecordError:
        batch = processor()
        _lines.clear()
        with batch(records=records, handler=record_handler):
            batch.process()
        lines = list(_lines)
        _lines.clear()
        return lines, batch.response()
