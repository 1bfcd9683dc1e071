"""Async job calls: accepted at once, run in the background, results kept through the lifecycle.

Records live in the lifecycle's database (`/job/async/call` CRUD, internal token), so a task
outlives the pub that took it. The pub running a task refreshes `heartbeat_at` every
`async_heartbeat` seconds; a task still `ongoing` whose heartbeat is three periods old belongs to a
pub that died, and the next pub asked about it takes it over and runs it again. A call that cannot
connect to its job is retried once after `async_retry_interval`. Records older than
`async_retention` are deleted when met.

Record fields (JSON): id, status (ongoing|completed|failed), job_name, job_version (as asked),
job_exact_version, job_internal_name, job_path, request_method, request_url (path and query on the
job), request_headers {name: value}, request_body (base64), caller, request_tracing_id, started_at,
ended_at, heartbeat_at (ISO 8601, UTC), attempts, pub_instance_addr (the owner pub's id),
error_message, response_status_code, response_headers {name: value}, response_body (base64).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from ._config import PubConfig
from ._headers import HOP_BY_HOP, read_incoming
from ._metrics import PubMetrics
from ._proxy import JobCall, JobProxy, forward_headers
from ._responses import REQUEST_ID_KEY, send_error, send_json

__all__ = ["AsyncCalls", "AsyncCallStore", "StoreError"]

log = logging.getLogger("racetrack.pub")

_MAX_TAKEOVERS = 3  # a call that kills its pub every time is not run forever
_KEEP_LOCAL = 60.0  # seconds a finished task stays in memory (later polls read the lifecycle)


class StoreError(Exception):
    """The lifecycle did not store or return an async call record."""


class AsyncCallStore:
    """The lifecycle's `/job/async/call` endpoints."""

    def __init__(self, client: httpx.AsyncClient, config: PubConfig) -> None:
        self._client = client
        self._base = f"{config.lifecycle_url}/api/v1/job/async/call"
        self._headers = {"X-Racetrack-Internal-Auth": config.internal_token}

    async def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        try:
            response = await self._client.request(method, url, json=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach the lifecycle: {exc.__class__.__name__}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise StoreError(f"the lifecycle answered {response.status_code} to {method} {url}")
        return response

    async def create(self, record: dict[str, Any]) -> dict[str, Any]:
        response = await self._request("POST", self._base, record)
        if response.status_code not in (200, 201):
            raise StoreError(f"the lifecycle refused the async call record: {response.status_code}")
        stored = response.json()
        return stored if isinstance(stored, dict) and stored.get("id") else record

    async def get(self, task_id: str) -> dict[str, Any] | None:
        response = await self._request("GET", f"{self._base}/{task_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise StoreError(f"the lifecycle answered {response.status_code} for task {task_id}")
        return response.json()

    async def put(self, record: dict[str, Any]) -> None:
        response = await self._request("PUT", f"{self._base}/{record['id']}", record)
        if response.status_code not in (200, 201, 204):
            raise StoreError(f"the lifecycle refused to update task {record['id']}: {response.status_code}")

    async def delete(self, task_id: str) -> None:
        await self._request("DELETE", f"{self._base}/{task_id}")


@dataclass
class _Task:
    record: dict[str, Any]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    finished_at: float | None = None
    runner: asyncio.Task[None] | None = None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _age(value: Any) -> float:
    """Seconds since an ISO timestamp (or epoch number); infinite when unreadable."""
    try:
        if isinstance(value, (int, float)):
            return time.time() - float(value)
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return (datetime.now(UTC) - moment).total_seconds()
    except (TypeError, ValueError):
        return float("inf")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _headers_dict(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        out[name] = f"{out[name]}, {text}" if name in out else text
    return out


class AsyncCalls:
    """Serves `/pub/async/new/job/...`, `/pub/async/task/{id}/poll` and `/status`."""

    def __init__(
        self,
        config: PubConfig,
        proxy: JobProxy,
        jobs: httpx.AsyncClient,
        store: AsyncCallStore,
        metrics: PubMetrics,
    ) -> None:
        self._config = config
        self._proxy = proxy
        self._jobs = jobs
        self._store = store
        self._metrics = metrics
        self.instance_id = uuid.uuid4().hex
        self._tasks: dict[str, _Task] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def stop(self) -> None:
        """Stops beating and running: unfinished tasks are taken over by the next pub."""
        for task in [self._heartbeat, *(t.runner for t in self._tasks.values())]:
            if task is not None:
                task.cancel()
        self._tasks.clear()

    # Endpoints ------------------------------------------------------------------------------

    async def new(self, scope: Scope, receive: Receive, send: Send, call: JobCall) -> None:
        request_id: str = scope[REQUEST_ID_KEY]
        incoming = read_incoming(scope["headers"])
        decision = await self._proxy.authorize(call, incoming.token, request_id, send)
        if decision is None:
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        address, upstream_prefix = self._proxy.target(call, decision)
        url = upstream_prefix + ("/" + call.rest if call.has_rest else "")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        headers = forward_headers(
            scope,
            incoming.headers,
            host=incoming.host,
            forwarded_for=incoming.forwarded_for,
            forwarded_proto=incoming.forwarded_proto,
            request_id=request_id,
            caller=decision.caller,
        )
        now = _now_iso()
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": "ongoing",
            "job_name": call.name,
            "job_version": call.version,
            "job_exact_version": decision.job_version,
            "job_internal_name": address,
            "job_path": call.path,
            "request_method": scope["method"],
            "request_url": url,
            "request_headers": _headers_dict(headers),
            "request_body": _b64(b"".join(chunks)),
            "caller": decision.caller,
            "request_tracing_id": request_id,
            "started_at": now,
            "ended_at": None,
            "heartbeat_at": now,
            "attempts": 0,
            "pub_instance_addr": self.instance_id,
            "error_message": None,
            "response_status_code": None,
            "response_headers": None,
            "response_body": None,
        }
        try:
            record = await self._store.create(record)
        except StoreError as exc:
            await send_error(
                send, 503, f"Proxy request error: cannot store the async call: {exc}", request_id
            )
            return
        self._metrics.async_started.inc()
        self._launch(record)
        await send_json(send, 201, {"task_id": record["id"], "status": "ongoing"})

    async def poll(self, scope: Scope, send: Send, task_id: str) -> None:
        request_id: str = scope[REQUEST_ID_KEY]
        deadline = time.monotonic() + self._config.async_poll_timeout
        while True:
            try:
                task, record = await self._find(task_id)
            except StoreError as exc:
                await send_error(
                    send, 503, f"Proxy request error: cannot read the async call: {exc}", request_id
                )
                return
            if record is None:
                await send_error(
                    send, 404, f"Async call {task_id} was not found (unknown or expired)", request_id
                )
                return
            if record["status"] != "ongoing":
                await self._answer(send, record, request_id)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await send_json(send, 202, {"task_id": task_id, "status": "ongoing"})
                return
            if task is not None:
                try:
                    await asyncio.wait_for(task.done.wait(), timeout=remaining)
                except TimeoutError:
                    pass
            else:  # another pub runs it: ask the lifecycle again soon
                await asyncio.sleep(min(remaining, max(0.2, self._config.async_heartbeat / 2)))

    async def status(self, scope: Scope, send: Send, task_id: str) -> None:
        request_id: str = scope[REQUEST_ID_KEY]
        try:
            _, record = await self._find(task_id)
        except StoreError as exc:
            await send_error(send, 503, f"Proxy request error: cannot read the async call: {exc}", request_id)
            return
        if record is None:
            await send_error(
                send, 404, f"Async call {task_id} was not found (unknown or expired)", request_id
            )
            return
        await send_json(send, 200, {"task_id": task_id, "status": record["status"]})

    # Internals ------------------------------------------------------------------------------

    async def _find(self, task_id: str) -> tuple[_Task | None, dict[str, Any] | None]:
        task = self._tasks.get(task_id)
        if task is not None:
            return task, task.record
        record = await self._store.get(task_id)
        if record is None:
            return None, None
        if _age(record.get("started_at")) > self._config.async_retention:
            await self._store.delete(task_id)
            return None, None
        if record.get("status") == "ongoing" and self._owner_dead(record):
            return self._take_over(record)
        return None, record

    def _owner_dead(self, record: dict[str, Any]) -> bool:
        if record.get("pub_instance_addr") == self.instance_id:
            return True  # ours, yet not in memory: this pub forgot it, nobody else runs it
        last = record.get("heartbeat_at") or record.get("started_at")
        return _age(last) > 3 * self._config.async_heartbeat

    def _take_over(self, record: dict[str, Any]) -> tuple[_Task | None, dict[str, Any]]:
        takeovers = int(record.get("takeovers") or 0) + 1
        record = {
            **record,
            "pub_instance_addr": self.instance_id,
            "heartbeat_at": _now_iso(),
            "takeovers": takeovers,
        }
        if takeovers > _MAX_TAKEOVERS:
            record.update(
                status="failed",
                ended_at=_now_iso(),
                error_message=f"the pub running this call stopped {takeovers - 1} times; not run again",
            )
            task = _Task(record)
            task.done.set()
            task.finished_at = time.monotonic()
            self._tasks[record["id"]] = task
            asyncio.ensure_future(self._save(record))
            return task, record
        log.info("taking over async call %s from a pub that stopped", record["id"])
        self._metrics.async_retried.inc()
        task = self._launch(record)
        return task, record

    def _launch(self, record: dict[str, Any]) -> _Task:
        task = _Task(record)
        self._tasks[record["id"]] = task
        task.runner = asyncio.ensure_future(self._run(task))
        return task

    async def _run(self, task: _Task) -> None:
        record = task.record
        url = f"http://{record['job_internal_name']}{record['request_url']}"
        body = base64.b64decode(record.get("request_body") or "")
        headers = list((record.get("request_headers") or {}).items())
        timeout = httpx.Timeout(self._config.job_timeout, connect=self._config.job_connect_timeout)
        for attempt in (1, 2):
            record["attempts"] = int(record.get("attempts") or 0) + 1
            try:
                request = self._jobs.build_request(
                    record["request_method"], url, headers=headers, content=body, timeout=timeout
                )
                response = await self._jobs.send(request, stream=True)
                try:  # raw bytes: the stored headers keep any Content-Encoding the job chose
                    content = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt == 1:
                    self._metrics.async_retried.inc()
                    log.warning("async call %s could not connect (%r); retrying once", record["id"], exc)
                    await asyncio.sleep(self._config.async_retry_interval)
                    continue
                self._finish(
                    task, error=f"connection refused: the job is not listening ({exc.__class__.__name__})"
                )
                break
            except httpx.TimeoutException:
                self._finish(
                    task, error=f"request to a job timed out: no answer within {self._config.job_timeout:g} s"
                )
                break
            except httpx.HTTPError as exc:
                self._finish(task, error=f"connection broken: {exc.__class__.__name__}: {exc}")
                break
            raw = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
            record.update(
                status="completed",
                response_status_code=response.status_code,
                response_headers=_headers_dict(raw),
                response_body=_b64(content),
            )
            self._finish(task, error=None)
            break
        await self._save(record)

    def _finish(self, task: _Task, *, error: str | None) -> None:
        if error is not None:
            task.record.update(status="failed", error_message=error)
            self._metrics.async_errors.inc()
        self._metrics.async_done.inc()
        task.record["ended_at"] = _now_iso()
        task.finished_at = time.monotonic()
        task.done.set()

    async def _save(self, record: dict[str, Any]) -> None:
        """Stores a result, retrying while the lifecycle is away (served from memory meanwhile)."""
        delay = 0.2
        for _ in range(12):
            try:
                await self._store.put(record)
                return
            except StoreError as exc:
                log.warning("cannot store async call %s yet: %s", record["id"], exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._config.async_heartbeat)
            now = time.monotonic()
            for task_id, task in list(self._tasks.items()):
                if task.finished_at is not None:
                    if now - task.finished_at > _KEEP_LOCAL:
                        del self._tasks[task_id]
                    continue
                task.record["heartbeat_at"] = _now_iso()
                try:
                    await self._store.put(task.record)
                except StoreError as exc:
                    log.warning("heartbeat of async call %s failed: %s", task_id, exc)

    async def _answer(self, send: Send, record: dict[str, Any], request_id: str) -> None:
        if record["status"] == "failed":
            await send_error(
                send,
                500,
                f"Async call failed: {record.get('error_message')}",
                request_id,
                task_id=record["id"],
            )
            return
        body = base64.b64decode(record.get("response_body") or "")
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in (record.get("response_headers") or {}).items()
            if k not in ("content-length", "x-request-tracing-id")
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": int(record["response_status_code"]), "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})
