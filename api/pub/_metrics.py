"""The async service's Prometheus metrics, named after upstream pub's (`pub_async_job_calls_started`, ...).

The Go gateway counts job calls, auth and the lifecycle; it serves these next to its own on pub's
/metrics. Calls only add to plain Python numbers (one event loop thread, so no locks are needed); a
collector turns them into metric families when `/metrics` is scraped.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = ["PubMetrics", "CONTENT_TYPE_LATEST"]


class _Counter:
    __slots__ = ("name", "doc", "value")

    def __init__(self, name: str, doc: str) -> None:
        self.name = name
        self.doc = doc
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def family(self) -> Metric:
        return CounterMetricFamily(self.name, self.doc, value=self.value)


class PubMetrics(Collector):
    """Counters of one async service, in a registry of its own."""

    def __init__(self) -> None:
        c = _Counter
        self.async_started = c("pub_async_job_calls_started", "Async calls accepted")
        self.async_done = c("pub_async_job_calls_done", "Async calls finished")
        self.async_errors = c("pub_async_job_calls_errors", "Async calls that failed")
        self.async_retried = c(
            "pub_async_retried_calls", "Async calls retried after a connection error or a dead pub"
        )
        self._all: list[_Counter] = [v for v in vars(self).values() if isinstance(v, _Counter)]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        for metric in self._all:
            yield metric.family()

    def render(self) -> bytes:
        return generate_latest(self.registry)
