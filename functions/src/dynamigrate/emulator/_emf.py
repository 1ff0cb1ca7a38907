"""CloudWatch Embedded Metric Format (EMF) log lines to ``PutMetricData`` requests (pure, no AWS calls).

On AWS, CloudWatch Logs extracts metrics from log events that are EMF documents:
JSON objects whose ``_aws.CloudWatchMetrics`` lists metric directives. Each directive
names a namespace, dimension sets (lists of keys whose values sit at the root of the
document) and metric definitions (name, optional unit and storage resolution); each
metric's value sits at the root under its name, as a number or a list of numbers
(Powertools ``Metrics`` writes lists). One datum is produced per metric and dimension
set. See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

_UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
_MAX_VALUES_PER_DATUM = 150  # PutMetricData limit for Values/Counts
MAX_DATA_PER_REQUEST = 1000  # PutMetricData limit for MetricData


def _numbers(value: Any) -> list[float]:
    items = value if isinstance(value, list) else [value]
    return [float(v) for v in items if isinstance(v, int | float) and not isinstance(v, bool)]


def parse_emf(line: str) -> dict[str, list[dict[str, Any]]]:
    """Metric data per namespace for one log line; empty when the line is not an EMF document."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return {}
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    meta = document.get("_aws") if isinstance(document, dict) else None
    directives = meta.get("CloudWatchMetrics") if isinstance(meta, dict) else None
    if not isinstance(directives, list):
        return {}
    timestamp_ms = meta.get("Timestamp") if isinstance(meta, dict) else None
    timestamp = (
        datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        if isinstance(timestamp_ms, int | float) and not isinstance(timestamp_ms, bool)
        else datetime.now(UTC)
    )
    result: dict[str, list[dict[str, Any]]] = {}
    for directive in directives:
        if not isinstance(directive, dict) or not isinstance(directive.get("Namespace"), str):
            continue
        dimension_sets = directive.get("Dimensions") or [[]]
        data = result.setdefault(directive["Namespace"], [])
        for metric in directive.get("Metrics") or []:
            if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
                continue
            values = _numbers(document.get(metric["Name"]))
            if not values:
                continue
            unit = metric.get("Unit") if metric.get("Unit") in _UNITS else "None"
            for dimension_set in dimension_sets:
                dimensions = [
                    {"Name": key, "Value": str(document[key])}
                    for key in (dimension_set if isinstance(dimension_set, list) else [])
                    if isinstance(key, str) and key in document
                ]
                for start in range(0, len(values), _MAX_VALUES_PER_DATUM):
                    chunk = values[start : start + _MAX_VALUES_PER_DATUM]
                    datum: dict[str, Any] = {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Timestamp": timestamp,
                        "Unit": unit,
                    }
                    if len(chunk) == 1:
                        datum["Value"] = chunk[0]
                    else:
                        datum["Values"] = chunk
                        datum["Counts"] = [1.0] * len(chunk)
                    if metric.get("StorageResolution") == 1:
                        datum["StorageResolution"] = 1
                    data.append(datum)
    return {namespace: data for namespace, data in result.items() if data}
