"""Old table's stream: count and log every write made after the application's writes were declared moved.

Step 3 of the seed's rekey: once every writer uses the new table
(``dynamigrate.dual``), nothing but Time to Live should change the old one. The
Terraform variable ``writes_moved_at`` declares when that is. For each stream
record the guard decides:

* made before ``writes_moved_at`` (or none declared yet): ``OldTableWrites``,
  expected while the application moves over;
* a Time to Live delete (``userIdentity`` is DynamoDB's service principal):
  ``OldTableTtlDeletes``, the table's own housekeeping, never an alarm;
* anything else: a **foreign write**, counted as ``ForeignWrites`` (the module's
  alarm watches it; ``dynamigrate retire-table`` requires none for its quiet
  period) and logged with the table, operation, key, sequence number and time.

The bulk copy and ``dynamigrate.dual`` only read the old table, so a migration
that works leaves ``ForeignWrites`` at zero. A record the guard cannot read is
counted and logged as foreign too: evidence is never dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from dynamigrate.changes import TTL_PRINCIPAL
from dynamigrate.config import WriteGuardConfig
from dynamigrate.ddbjson import describe_key

if TYPE_CHECKING:
    from collections.abc import Iterable

    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
config = WriteGuardConfig.from_env()
metrics.set_default_dimensions(Migration=config.migration)

BEFORE, TTL, FOREIGN = "OldTableWrites", "OldTableTtlDeletes", "ForeignWrites"


def classify(record: dict[str, Any], moved_at: float | None) -> tuple[str, dict[str, Any]]:
    """(metric name, what to log) for one raw stream record, of any stream view type."""
    try:
        ddb = record["dynamodb"]
        at = float(ddb["ApproximateCreationDateTime"])
        details = {"op": record["eventName"], "key": describe_key(ddb["Keys"]), "seq": str(ddb["SequenceNumber"])}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return FOREIGN, {
            "problem": f"unreadable stream record (missing or bad {exc})",
            "event_id": record.get("eventID"),
        }
    identity = record.get("userIdentity")
    if isinstance(identity, dict) and identity.get("principalId") == TTL_PRINCIPAL:
        return TTL, {}
    if moved_at is None or at < moved_at:
        return BEFORE, {}
    return FOREIGN, {**details, "at": at}


def guard(records: Iterable[dict[str, Any]], moved_at: float | None) -> dict[str, int]:
    counts = {BEFORE: 0, TTL: 0, FOREIGN: 0}
    for record in records:
        metric, details = classify(record, moved_at)
        counts[metric] += 1
        if metric == FOREIGN:
            logger.warning("foreign write to the old table", extra={"table": config.table, **details})
    return counts


@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    counts = guard(event.get("Records", []), config.writes_moved_at)
    for name, count in counts.items():
        if count or name == FOREIGN:  # ForeignWrites always reported, so its alarm sees zeros, not gaps
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    if counts[FOREIGN]:
        logger.error(
            "writes reached the old table after they were declared moved",
            extra={"table": config.table, "foreign_writes": counts[FOREIGN], "writes_moved_at": config.writes_moved_at},
        )
    return counts
