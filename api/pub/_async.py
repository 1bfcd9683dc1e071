"""Async job calls: accepted at once, run in the background, results kept through the lifecycle.

The Go gateway authorised the call and resolved its version before handing it here; it sends the
job's exact URL and version in X-Racetrack-Async-Job-Url and X-Racetrack-Async-Job-Version, with the
internal token, and the caller's headers already as a job must see them (credentials stripped,
X-Caller-Name, X-Request-Tracing-Id and X-Forwarded-* set).

Records live in the lifecycle's database (`/job/async/call`, internal token; schema in
`api/lifecycle/routes/async_calls.py`), so a task outlives the pub that took it. What pub writes:

- on create: `id`, `status`, `job_name`, `job_version` (the exact version the call resolved to),
  `job_path`, `request_method`, `request_url` (the absolute URL on the job), `request_headers` (as
  forwarded: caller name and tracing id included, credentials never), `request_body` (base64),
  `pub_instance_addr`, `attempts`, `caller_subject_id` (when the caller had credentials);
- on update (partial PUT): `status`, `error`, `response_status_code`, `response_headers`,
  `response_body` (base64), `attempts`, `pub_instance_addr`, `retriable_error`.

Results are the caller's: the gateway names who makes a new call (X-Racetrack-Async-Caller, the
caller_id it got from can-call-job), recorded as `caller_subject_id`; a task lookup carries the
reader's token (X-Racetrack-Auth), and the lifecycle says whether that reader may see the task
(`?reader=caller`) before anything about it is answered. Bodies are limited to `async_max_body` bytes,
both the call's and the job's answer kept for it.

`pub_instance_addr` is `"<pub instance id>/<unix time of its last heartbeat>"`: the pub running a task
refreshes it every `async_heartbeat` seconds. A task still `ongoing` whose heartbeat is three periods
old belongs to a pub that died; the next pub asked about it takes it over and runs it again. A call
that cannot connect to its job is retried once after `async_retry_interval`. Records older than
`async_call_retention` are deleted when met (the lifecycle also purges them).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from core.protocol import ASYNC_CALLER_HEADER, AUTH_HEADER

from ._config import PubConfig
from ._metrics import PubMetrics
from ._responses import REQUEST_ID_KEY, send_error, send_json

__all__ = ["AsyncCalls", "AsyncCallStore", "StoreError"]

log = logging.getLogger("racetrack.pub")

_MAX_ATTEMPTS = 4  # runs of one call, takeovers included: a call that kills its pub is not run forever
_KEEP_LOCAL = 60.0  # seconds a finished task stays in memory (later polls read the lifecycle)

_INTERNAL_AUTH = b"x-racetrack-internal-auth"
_JOB_URL = b"x-racetrack-async-job-url"
_JOB_VERSION = b"x-racetrack-async-job-version"
_JOB_CALLER = ASYNC_CALLER_HEADER.lower().encode()
_READER_AUTH = AUTH_HEADER.lower().encode()
_CONTENT_LENGTH = b"content-length"
# Connection-level headers, never stored nor passed on (RFC 9110 section 7.6.1).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# What a recorded call must not carry: the gateway's word to this service, and the connection's own
# headers. The caller's credentials never got this far (the gateway strips them); dropped again all the
# same, since records outlive the call in the database.
_NOT_RECORDED = _HOP_BY_HOP | {
    "host",
    "x-racetrack-internal-auth",
    "x-racetrack-async-job-url",
    "x-racetrack-async-job-version",
    "x-racetrack-async-caller",
    "x-racetrack-auth",
    "x-racetrack-user-auth",
    "x-racetrack-esc-auth",
}


class StoreError(Exception):
    """The lifecycle did not store or return an async call record."""


class ReaderRefused(Exception):
    """The lifecycle did not accept the reader's credentials (a 401, with its message)."""


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
        if response.status_code >= 500 or response.status_code in (401, 403, 422):
            raise StoreError(
                f"the lifecycle answered {response.status_code} to {method} {url}: {response.text[:300]}"
            )
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
        task: dict[str, Any] = response.json()
        return task

    async def readable(self, task_id: str, reader_token: str | None) -> bool:
        """Whether the holder of `reader_token` (None: an anonymous reader) may see the task; False also
        when it does not exist, so that others learn nothing about it."""
        headers = dict(self._headers)
        if reader_token:
            headers["X-Racetrack-Auth"] = reader_token
        url = f"{self._base}/{task_id}"
        try:
            response = await self._client.get(url, params={"reader": "caller"}, headers=headers)
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach the lifecycle: {exc.__class__.__name__}") from exc
        if response.status_code == 401:
            try:
                message = str(response.json().get("error") or "unauthenticated")
            except ValueError:
                message = "unauthenticated"
            raise ReaderRefused(message)
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise StoreError(
                f"the lifecycle answered {response.status_code} to GET {url}: {response.text[:300]}"
            )
        return True

    async def update(self, task_id: str, fields: dict[str, Any]) -> None:
        response = await self._request("PUT", f"{self._base}/{task_id}", fields)
        if response.status_code not in (200, 201, 204):
            raise StoreError(f"the lifecycle refused to update task {task_id}: {response.status_code}")

    async def delete(self, task_id: str) -> None:
        await self._request("DELETE", f"{self._base}/{task_id}")


class _AnswerTooLarge(Exception):
    pass


@dataclass
class _Task:
    record: dict[str, Any]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    finished_at: float | None = None
    runner: asyncio.Task[None] | None = None


def _age(value: Any) -> float:
    """Seconds since a unix time (the lifecycle's `started_at`); infinite when unreadable."""
    try:
        return time.time() - float(value)
    except (TypeError, ValueError):
        return float("inf")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _headers_dict(pairs: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Headers as the record keeps them: repeated ones joined by ", ", except Set-Cookie, whose lines
    cannot be joined that way (a cookie's Expires holds a comma): those are joined by a newline."""
    out: dict[str, str] = {}
    for key, value in pairs:
        name, text = key.decode("latin-1").lower(), value.decode("latin-1")
        separator = "\n" if name == "set-cookie" else ", "
        out[name] = f"{out[name]}{separator}{text}" if name in out else text
    return out


def _header_lines(record: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The recorded headers as lines again (each Set-Cookie line on its own)."""
    lines = []
    for name, value in record.items():
        for part in str(value).split("\n") if name == "set-cookie" else [str(value)]:
            lines.append((name.encode("latin-1"), part.encode("latin-1")))
    return lines


class AsyncCalls:
    """Serves `/pub/async/new/job/...`, `/pub/async/task/{id}/poll` and `/status`."""

    def __init__(
        self,
        config: PubConfig,
        jobs: httpx.AsyncClient,
        store: AsyncCallStore,
        metrics: PubMetrics,
    ) -> None:
        self._config = config
        self._jobs = jobs
        self._store = store
        self._metrics = metrics
        self.instance_id = uuid.uuid4().hex
        self._tasks: dict[str, _Task] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    def _owner_mark(self) -> str:
        return f"{self.instance_id}/{time.time():.3f}"

    async def start(self) -> None:
        self._heartbeat = asyncio.ensure_future(self._beat())

    async def stop(self) -> None:
        """Stops beating and running: unfinished tasks are taken over by the next pub."""
        for task in [self._heartbeat, *(t.runner for t in self._tasks.values())]:
            if task is not None:
                task.cancel()
        self._tasks.clear()

    # Endpoints ------------------------------------------------------------------------------

    async def new(self, scope: Scope, receive: Receive, send: Send, call_path: str) -> None:
        """`call_path` is what follows /pub/async/new/{job|fatman}/: `<name>/<version>/<path>`."""
        request_id: str = scope[REQUEST_ID_KEY]
        token = job_url = job_version = caller = declared = None
        for name, value in scope["headers"]:
            if name == _INTERNAL_AUTH:
                token = value
            elif name == _JOB_URL:
                job_url = value.decode("latin-1")
            elif name == _JOB_VERSION:
                job_version = value.decode("latin-1")
            elif name == _JOB_CALLER:
                caller = value.decode("latin-1")
            elif name == _CONTENT_LENGTH:
                declared = value.decode("latin-1")
        if token is None or not hmac.compare_digest(token, self._config.internal_token.encode()):
            await send_error(
                send,
                401,
                "Proxy request error: Unauthenticated: async calls are accepted from the pub gateway only",
                request_id,
            )
            return
        name, _, rest = call_path.partition("/")
        _, _, job_path = rest.partition("/")
        if not job_url or not job_version or not name:
            await send_error(
                send,
                400,
                "Proxy request error: Invalid request: the gateway sent no X-Racetrack-Async-Job-Url "
                "or X-Racetrack-Async-Job-Version",
                request_id,
            )
            return
        limit = self._config.async_max_body
        too_large = (
            f"Proxy request error: Invalid request: the body of an async call may be at most {limit} bytes "
            "(RACETRACK_MAX_ASYNC_BODY); call the job directly for larger ones"
        )
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, too_large, request_id)
            return
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_error(send, 413, too_large, request_id)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        headers = [
            (key, value) for key, value in scope["headers"] if key.decode("latin-1") not in _NOT_RECORDED
        ]
        record: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "status": "ongoing",
            "job_name": name,
            "job_version": job_version,
            "job_path": "/" + job_path,
            "request_method": scope["method"],
            "request_url": job_url,
            "request_headers": _headers_dict(headers),
            "request_body": _b64(b"".join(chunks)),
            "pub_instance_addr": self._owner_mark(),
            "attempts": 0,
        }
        if caller is not None and caller.isdigit():
            record["caller_subject_id"] = int(caller)
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

    async def _reader_may_see(self, scope: Scope, send: Send, task_id: str) -> bool:
        """Asks the lifecycle whether the caller may see the task; answers the caller itself when not."""
        request_id: str = scope[REQUEST_ID_KEY]
        token = next((v.decode("latin-1") for k, v in scope["headers"] if k == _READER_AUTH), None)
        try:
            if await self._store.readable(task_id, token):
                return True
        except ReaderRefused as exc:
            await send_error(send, 401, f"Proxy request error: Unauthenticated: {exc}", request_id)
            return False
        except StoreError as exc:
            await send_error(send, 503, f"Proxy request error: cannot read the async call: {exc}", request_id)
            return False
        await send_error(send, 404, f"Async call {task_id} was not found (unknown or expired)", request_id)
        return False

    async def poll(self, scope: Scope, send: Send, task_id: str) -> None:
        request_id: str = scope[REQUEST_ID_KEY]
        if not await self._reader_may_see(scope, send, task_id):
            return
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
        if not await self._reader_may_see(scope, send, task_id):
            return
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
            return await self._take_over(record)
        return None, record

    def _owner_dead(self, record: dict[str, Any]) -> bool:
        owner, _, beat = str(record.get("pub_instance_addr") or "").partition("/")
        if owner == self.instance_id:
            return True  # ours, yet not in memory: this pub forgot it, nobody else runs it
        last = beat if beat else record.get("started_at")
        return _age(last) > 3 * self._config.async_heartbeat

    async def _take_over(self, record: dict[str, Any]) -> tuple[_Task | None, dict[str, Any]]:
        record = {**record, "pub_instance_addr": self._owner_mark()}
        if int(record.get("attempts") or 0) >= _MAX_ATTEMPTS:
            error = f"started {record['attempts']} times, its pub stopped each time; not run again"
            record.update(status="failed", error=error)
            await self._store.update(
                record["id"], {"status": "failed", "error": error, "retriable_error": False}
            )
            return None, record
        await self._store.update(record["id"], {"pub_instance_addr": record["pub_instance_addr"]})
        log.info("taking over async call %s from a pub that stopped", record["id"])
        self._metrics.async_retried.inc()
        return self._launch(record), record

    def _launch(self, record: dict[str, Any]) -> _Task:
        task = _Task(record)
        self._tasks[record["id"]] = task
        task.runner = asyncio.ensure_future(self._run(task))
        return task

    async def _run(self, task: _Task) -> None:
        record = task.record
        body = base64.b64decode(record.get("request_body") or "")
        headers = list((record.get("request_headers") or {}).items())
        timeout = httpx.Timeout(self._config.job_timeout, connect=self._config.job_connect_timeout)
        for attempt in (1, 2):
            record["attempts"] = int(record.get("attempts") or 0) + 1
            try:
                request = self._jobs.build_request(
                    record["request_method"],
                    record["request_url"],
                    headers=headers,
                    content=body,
                    timeout=timeout,
                )
                response = await self._jobs.send(request, stream=True)
                try:  # raw bytes: the stored headers keep any Content-Encoding the job chose
                    content = await self._read_answer(response)
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
            except _AnswerTooLarge:
                limit = self._config.async_max_body
                self._finish(
                    task,
                    error=f"the job's answer is larger than {limit} bytes, the most an async call keeps "
                    "(RACETRACK_MAX_ASYNC_BODY); call the job directly for larger answers",
                )
                break
            except httpx.TimeoutException:
                waited = self._config.job_timeout
                self._finish(task, error=f"request to a job timed out: no answer within {waited:g} s")
                break
            except httpx.HTTPError as exc:
                self._finish(task, error=f"connection broken: {exc.__class__.__name__}: {exc}")
                break
            raw = [
                (k.lower(), v)
                for k, v in response.headers.raw
                if k.lower().decode("latin-1") not in _HOP_BY_HOP
            ]
            record.update(
                status="completed",
                response_status_code=response.status_code,
                response_headers=_headers_dict(raw),
                response_body=_b64(content),
            )
            self._finish(task, error=None)
            break
        fields = {
            key: record.get(key)
            for key in (
                "status",
                "attempts",
                "response_status_code",
                "response_headers",
                "response_body",
                "error",
            )
        }
        fields["retriable_error"] = False
        await self._save(record["id"], fields)

    async def _read_answer(self, response: httpx.Response) -> bytes:
        content = bytearray()
        async for chunk in response.aiter_raw():
            content += chunk
            if len(content) > self._config.async_max_body:
                raise _AnswerTooLarge
        return bytes(content)

    def _finish(self, task: _Task, *, error: str | None) -> None:
        if error is not None:
            task.record.update(status="failed", error=error)
            self._metrics.async_errors.inc()
        self._metrics.async_done.inc()
        task.record["ended_at"] = int(time.time())
        task.finished_at = time.monotonic()
        task.done.set()

    async def _save(self, task_id: str, fields: dict[str, Any]) -> None:
        """Stores a result, retrying while the lifecycle is away (served from memory meanwhile)."""
        delay = 0.2
        for _ in range(12):
            try:
                await self._store.update(task_id, fields)
                return
            except StoreError as exc:
                log.warning("cannot store async call %s yet: %s", task_id, exc)
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
                try:
                    await self._store.update(task_id, {"pub_instance_addr": self._owner_mark()})
                except StoreError as exc:
                    log.warning("heartbeat of async call %s failed: %s", task_id, exc)

    async def _answer(self, send: Send, record: dict[str, Any], request_id: str) -> None:
        if record["status"] == "failed":
            await send_error(
                send, 500, f"Async call failed: {record.get('error')}", request_id, task_id=record["id"]
            )
            return
        body = base64.b64decode(record.get("response_body") or "")
        kept = {
            k: v
            for k, v in (record.get("response_headers") or {}).items()
            if k not in ("content-length", "x-request-tracing-id")
        }
        headers = _header_lines(kept)
        headers.append((b"content-length", str(len(body)).encode()))
        status = int(record["response_status_code"])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
