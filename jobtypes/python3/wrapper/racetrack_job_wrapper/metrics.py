"""Prometheus metrics of a job, kept in plain numbers and rendered in the text exposition format.

Counting is on the request path, so it is done with integer additions on one event loop thread
(no locks, no client library); rendering happens only when /metrics is scraped.
"""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

__all__ = ["JobMetrics", "render_user_metrics"]

logger = logging.getLogger("racetrack_job_wrapper")

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(str(value))}"' for key, value in labels.items())
    return "{" + inner + "}"


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class JobMetrics:
    """Request counters, a duration histogram and the time of the last call."""

    def __init__(self) -> None:
        self.requests_started = 0
        self.requests_done = 0
        self.internal_errors: dict[str, int] = {}  # by endpoint, as upstream labels them
        self.last_call_timestamp = 0.0
        self.endpoint_started: dict[str, int] = {}
        self.errors_by_status: dict[int, int] = {}
        self._bucket_counts = [0] * (len(_BUCKETS) + 1)
        self._duration_sum = 0.0

    def started(self, endpoint: str) -> None:
        self.requests_started += 1
        self.endpoint_started[endpoint] = self.endpoint_started.get(endpoint, 0) + 1
        self.last_call_timestamp = time.time()

    def done(self, status: int, duration: float, endpoint: str) -> None:
        self.requests_done += 1
        self._bucket_counts[bisect_left(_BUCKETS, duration)] += 1
        self._duration_sum += duration
        if status >= 400:
            self.errors_by_status[status] = self.errors_by_status.get(status, 0) + 1
            if status >= 500:
                self.internal_errors[endpoint] = self.internal_errors.get(endpoint, 0) + 1

    def render(self, user_metrics: Iterable[dict[str, Any]] = ()) -> str:
        out: list[str] = []

        def counter(name: str, doc: str, samples: list[tuple[dict[str, Any], float]]) -> None:
            out.append(f"# HELP {name}_total {doc}")
            out.append(f"# TYPE {name}_total counter")
            for labels, value in samples:
                out.append(f"{name}_total{_labels(labels)} {_number(value)}")

        counter("requests_started", "Requests started by the job", [({}, self.requests_started)])
        counter("requests_done", "Requests finished by the job", [({}, self.requests_done)])
        counter(
            "endpoint_requests_started",
            "Requests started, by endpoint",
            [({"endpoint": key}, value) for key, value in sorted(self.endpoint_started.items())],
        )
        counter(
            "request_internal_errors",
            "Requests answered with a 5xx status, by endpoint",
            [({"endpoint": key}, value) for key, value in sorted(self.internal_errors.items())],
        )
        counter(
            "request_errors",
            "Requests answered with an error status, by status",
            [({"status": key}, value) for key, value in sorted(self.errors_by_status.items())],
        )
        out.append("# HELP request_duration Duration of calls to job endpoints in seconds")
        out.append("# TYPE request_duration histogram")
        cumulative = 0
        for bound, count in zip(_BUCKETS, self._bucket_counts, strict=False):
            cumulative += count
            out.append(f'request_duration_bucket{{le="{bound}"}} {cumulative}')
        cumulative += self._bucket_counts[-1]
        out.append(f'request_duration_bucket{{le="+Inf"}} {cumulative}')
        out.append(f"request_duration_count {cumulative}")
        out.append(f"request_duration_sum {_number(self._duration_sum)}")
        out.append("# HELP last_call_timestamp Unix time of the last call to a job endpoint")
        out.append("# TYPE last_call_timestamp gauge")
        out.append(f"last_call_timestamp {_number(self.last_call_timestamp)}")
        out.extend(render_user_metrics(user_metrics))
        return "\n".join(out) + "\n"


def render_user_metrics(metrics: Iterable[dict[str, Any]]) -> list[str]:
    """Renders the list a job's `metrics()` returns: `{name, value, description?, labels?}` each.

    As upstream, an entry without a name or a value is left out with an error in the log, and one
    whose value is None is left out silently.
    """
    out: list[str] = []
    seen: set[str] = set()
    for metric in metrics:
        if not isinstance(metric, dict):
            logger.error("the job's metrics() returned %r, not a dict {name, value, ...}", metric)
            continue
        name = str(metric.get("name") or "")
        if not name:
            logger.error("a metric returned by the job's metrics() has no name: %r", metric)
            continue
        if "value" not in metric:
            logger.error("metric %s returned by the job's metrics() has no value", name)
            continue
        if metric["value"] is None:
            continue
        if name not in seen:
            seen.add(name)
            if metric.get("description"):
                out.append(f"# HELP {name} {_escape(str(metric['description']))}")
            out.append(f"# TYPE {name} gauge")
        out.append(f"{name}{_labels(metric.get('labels') or {})} {_number(metric['value'])}")
    return out
