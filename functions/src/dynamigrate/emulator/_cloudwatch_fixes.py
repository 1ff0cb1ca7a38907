"""CloudWatch as AWS answers it: GetMetricStatistics matches a metric's exact dimension set.

moto returns every datum whose dimensions *include* the requested ones; AWS
returns only data published with exactly the requested dimensions (a metric is
identified by namespace, name and its full dimension set). The difference hides
a real bug class: Powertools adds a ``service`` dimension to every metric, and a
query or alarm naming only ``Migration`` finds nothing in AWS while it finds the
data in moto. ListMetrics keeps moto's (and AWS's) include-matching.
"""

from __future__ import annotations

import threading
from functools import wraps
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, MetricDatumBase

_PATCHED = "_dynamigrate_exact_dimensions"
_exact = threading.local()


def install() -> None:
    """Patch moto's CloudWatch once (idempotent)."""
    if getattr(CloudWatchBackend, _PATCHED, False):
        return
    original_statistics = CloudWatchBackend.get_metric_statistics
    original_filter = MetricDatumBase.filter

    @wraps(original_statistics)
    def get_metric_statistics(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Any:
        _exact.on = True
        try:
            return original_statistics(self, *args, **kwargs)
        finally:
            _exact.on = False

    @wraps(original_filter)
    def filter_(self: MetricDatumBase, namespace: Any, name: Any, dimensions: Any, *args: Any, **kwargs: Any) -> bool:
        if getattr(_exact, "on", False) and len(dimensions or []) != len(self.dimensions or []):
            return False
        return bool(original_filter(self, namespace, name, dimensions, *args, **kwargs))

    CloudWatchBackend.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
    MetricDatumBase.filter = filter_  # type: ignore[method-assign]
    setattr(CloudWatchBackend, _PATCHED, True)
