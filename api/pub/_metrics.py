"""Prometheus metrics of one pub instance, in a registry of its own (several apps may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["PubMetrics", "CONTENT_TYPE_LATEST"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class PubMetrics:
    """Counters and histograms named after upstream pub's (`pub_job_proxy_requests_started`, ...)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests_started = Counter("pub_job_proxy_requests_started", "Job calls received", registry=r)
        self.requests_done = Counter("pub_job_proxy_requests_done", "Job calls answered", registry=r)
        self.response_codes = Counter(
            "pub_job_proxy_response_codes", "Job calls by response status", ["status"], registry=r
        )
        self.response_time = Histogram(
            "pub_job_call_response_time", "Seconds from receiving a call to the response headers",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.auth_successful = Counter("pub_auth_successful", "Calls let through", registry=r)
        self.auth_failed = Counter("pub_auth_failed", "Calls refused by the lifecycle", registry=r)
        self.lifecycle_calls = Counter("pub_lifecycle_calls", "Requests pub made to the lifecycle", registry=r)
        self.lifecycle_errors = Counter(
            "pub_lifecycle_errors", "Lifecycle requests that failed (unreachable or broken)", registry=r
        )
        self.cache_hits = Counter(
            "pub_lifecycle_cache_retrieved_responses", "Auth decisions served from the cache", registry=r
        )
        self.cache_recovered = Counter(
            "pub_lifecycle_cache_recovered_failed_responses",
            "Stale auth decisions reused because the lifecycle could not be reached", registry=r,
        )
        self.proxy_errors = Counter(
            "pub_job_proxy_errors", "Calls a job did not answer, by kind", ["kind"], registry=r
        )
        self.async_started = Counter("pub_async_job_calls_started", "Async calls accepted", registry=r)
        self.async_done = Counter("pub_async_job_calls_done", "Async calls finished", registry=r)
        self.async_errors = Counter("pub_async_job_calls_errors", "Async calls that failed", registry=r)
        self.async_retried = Counter(
            "pub_async_retried_calls", "Async calls retried after a connection error or a dead pub", registry=r
        )
        self._codes: dict[int, Counter] = {}

    def count_status(self, status: int) -> None:
        child = self._codes.get(status)
        if child is None:  # labels() costs a lock and a dict lookup; keep the children
            child = self._codes[status] = self.response_codes.labels(str(status))
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
