"""Time and cost of each bulk path for a table, from AWS's published prices and limits.

The model behind ``dynamigrate plan`` and ``docs/bulk-paths.md``. Every
figure is a formula of the table's size, item count and the capacity the copy
may use; the request units are printed next to the dollars so a team can
apply its own region's prices.

Paths:

* ``scan``: ``dynamigrate backfill`` (parallel Scan, batched conditional
  transactions). Reads: eventually consistent Scan, 0.5 RRU per 4 KB.
  Writes: a transactional put (2 WRU per KB) plus the ledger ConditionCheck,
  counted as a transactional write of a 1 KB row (2 WRU; conservative).
  Time is bounded by the write rate the copy may use.
* ``export-load``: Export to S3 (no read capacity, priced per GB), then the
  loader (``dynamigrate load-export`` or the Distributed Map) with the same
  conditional writes as ``scan``. Export time is not published by AWS; it is
  shown as not included.
* ``export-import``: Export to S3 + ImportTable into a NEW table (priced per
  GB of uncompressed data, no write capacity). Only when the target table does
  not exist yet; the pipeline's writer is switched on after the import, and the
  change log (SQS retention, 14 days by default) holds what happened meanwhile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GB = 1024**3

# us-east-1 list prices (USD), on-demand, DynamoDB Standard table class.
# Check https://aws.amazon.com/dynamodb/pricing/ for your region before relying on them.
PRICE_PER_MILLION_WRU = 0.625
PRICE_PER_MILLION_RRU = 0.125
PRICE_EXPORT_PER_GB = 0.10
PRICE_IMPORT_PER_GB = 0.15


@dataclass(frozen=True)
class PathEstimate:
    path: str
    read_units: float
    write_units: float
    per_gb_charges: float
    dollars: float
    hours: float | None  # None: bounded by AWS-side work that AWS does not publish a rate for
    note: str

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "read_request_units": round(self.read_units),
            "write_request_units": round(self.write_units),
            "dollars": round(self.dollars, 2),
            "hours": round(self.hours, 2) if self.hours is not None else None,
            "note": self.note,
        }


def estimate(
    size_bytes: int, item_count: int, *, write_rate: float, read_rate: float, target_exists: bool = True
) -> list[PathEstimate]:
    """Estimates for each path; ``write_rate``/``read_rate`` are the units per second the copy may use."""
    items = max(1, item_count)
    average = max(1.0, size_bytes / items)
    gigabytes = size_bytes / GB
    write_units_per_item = 2 * math.ceil(average / 1024) + 2  # transactional put + ledger check
    writes = items * write_units_per_item
    reads = math.ceil(size_bytes / 4096) * 0.5
    write_dollars = writes / 1e6 * PRICE_PER_MILLION_WRU
    read_dollars = reads / 1e6 * PRICE_PER_MILLION_RRU
    write_hours = writes / max(write_rate, 1e-9) / 3600
    read_hours = reads / max(read_rate, 1e-9) / 3600
    export = gigabytes * PRICE_EXPORT_PER_GB
    paths = [
        PathEstimate(
            "scan",
            reads,
            writes,
            0.0,
            read_dollars + write_dollars,
            max(write_hours, read_hours),
            "dynamigrate backfill; time at the rate limits given",
        ),
        PathEstimate(
            "export-load",
            0.0,
            writes,
            export,
            export + write_dollars,
            write_hours,
            "Export to S3 + load-export / Distributed Map; export time (AWS-side) not included",
        ),
    ]
    if not target_exists:
        imported = gigabytes * PRICE_IMPORT_PER_GB
        paths.append(
            PathEstimate(
                "export-import",
                0.0,
                0.0,
                export + imported,
                export + imported,
                None,
                "Export to S3 + ImportTable into a new table; AWS-side time, not published",
            )
        )
    return paths
