"""Auth decisions: asked of the lifecycle (`GET /auth/can-call-job/...`), cached in memory.

A decision is reused for `auth_cache_ttl` seconds. Refusals are reused for the shorter
`auth_negative_cache_ttl`. When the lifecycle cannot be reached (connection error, timeout, 5xx that
is not a maintenance answer) an allowing decision up to `auth_cache_ttl_max` seconds old is reused;
a refusal never is, and a fresh refusal always replaces an older permission.
Concurrent misses for one key share one lifecycle request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from ._config import PubConfig
from ._metrics import PubMetrics

__all__ = ["Decision", "Authorizer", "LifecycleUnreachable"]

_MAX_ENTRIES = 50_000


@dataclass(frozen=True, slots=True)
class Decision:
    """What the lifecycle said about one (job, version, path, token)."""

    status: int  # 200 allows; 401, 403, 404, 503 ... refuse
    job_name: str = ""
    job_version: str = ""  # the exact version `latest` or a wildcard resolved to
    job_status: str = ""
    internal_name: str = ""  # "host:port" to forward to
    caller: str | None = None
    error: str = ""  # the lifecycle's message when refused
    error_type: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


class LifecycleUnreachable(Exception):
    """Raised when the lifecycle gives no usable answer and no cached permission may stand in."""


class Authorizer:
    """Asks the lifecycle whether a token may call a job's path, and caches the answers.

    Usage: `decision = await authorizer.decide("adder", "latest", "api/v1/perform", token)`.
    """

    def __init__(self, config: PubConfig, client: httpx.AsyncClient, metrics: PubMetrics) -> None:
        self._config = config
        self._client = client
        self._metrics = metrics
        self._base = f"{config.lifecycle_url}/api/v1/auth/can-call-job/"
        self._internal = config.internal_token
        # key -> (decision, time it was received)
        self._cache: dict[tuple[str, str, str, str], tuple[Decision, float]] = {}
        self._inflight: dict[tuple[str, str, str, str], asyncio.Future[Decision]] = {}

    async def decide(self, name: str, version: str, path: str, token: str | None) -> Decision:
        digest = hashlib.sha256(token.encode()).hexdigest() if token else ""
        key = (name, version, path, digest)
        entry = self._cache.get(key)
        now = time.monotonic()
        if entry is not None:
            decision, received = entry
            ttl = (
                self._config.auth_cache_ttl
                if decision.status == 200
                else self._config.auth_negative_cache_ttl
            )
            if now - received < ttl:
                self._metrics.cache_hits.inc()
                return decision
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            decision = await self._ask(key, token, entry, now)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters may be none
            raise
        else:
            future.set_result(decision)
            return decision
        finally:
            del self._inflight[key]

    async def _ask(
        self,
        key: tuple[str, str, str, str],
        token: str | None,
        entry: tuple[Decision, float] | None,
        now: float,
    ) -> Decision:
        name, version, path, _ = key
        headers = {"X-Racetrack-Internal-Auth": self._internal}
        if token:
            headers["X-Racetrack-Auth"] = token
        url = self._base + quote(name, safe="") + "/" + quote(version, safe="") + "/" + quote(path, safe="/")
        self._metrics.lifecycle_calls.inc()
        reason = ""
        try:
            response = await self._client.get(url, headers=headers)
        except httpx.TimeoutException:
            reason = "the lifecycle did not answer in time"
        except httpx.TransportError as exc:
            reason = f"cannot reach the lifecycle: {exc.__class__.__name__}"
        else:
            decision = _parse(response)
            if decision is not None:
                if len(self._cache) >= _MAX_ENTRIES:
                    self._evict(now)
                self._cache[key] = (decision, time.monotonic())
                return decision
            reason = f"the lifecycle answered {response.status_code}"
        self._metrics.lifecycle_errors.inc()
        if entry is not None:
            stale, received = entry
            if stale.status == 200 and now - received < self._config.auth_cache_ttl_max:
                self._metrics.cache_recovered.inc()
                return stale
        raise LifecycleUnreachable(reason)

    def _evict(self, now: float) -> None:
        horizon = self._config.auth_cache_ttl_max
        for k in [k for k, (_, t) in self._cache.items() if now - t >= horizon]:
            del self._cache[k]
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.clear()

    def clear(self) -> None:
        self._cache.clear()


def _parse(response: httpx.Response) -> Decision | None:
    """Turns a lifecycle answer into a decision; None when the answer is not one (lifecycle broken)."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if status == 200:
        job = body.get("job")
        if not isinstance(job, dict) or not job.get("version"):
            return None
        return Decision(
            status=200,
            job_name=str(job.get("name", "")),
            job_version=str(job["version"]),
            job_status=str(job.get("status", "")),
            internal_name=str(job.get("internal_name") or ""),  # none until the job is deployed
            caller=body.get("caller"),
        )
    if status in (400, 401, 403, 404, 503) and "error" in body:
        return Decision(status=status, error=str(body["error"]), error_type=str(body.get("type", "")))
    return None
