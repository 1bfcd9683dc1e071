"""Calling another job through pub, with this job's own token.

    from racetrack_job_wrapper.call import call_job
    total = call_job('adder', payload={'numbers': [1, 2]})

Both upstream forms work: `call_job(job_name, ...)` and `call_job(self, job_name, ...)` where `self`
is the calling job. The request's tracing id, caller name and Recordkeeper predecessor id are passed on.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from typing import Any

from .context import current_request
from .recordkeeper import RECORDKEEPER_HEADER, read_predecessor_id

__all__ = ["call_job", "call_job_async", "call_job_coroutine", "JobCallError"]


class JobCallError(RuntimeError):
    """The called job answered with an error status, or could not be reached."""


def call_job(
    *args: Any,
    path: str = "/api/v1/perform",
    payload: Any = None,
    version: str = "latest",
    method: str = "POST",
    timeout: float = 600.0,
    **kwargs: Any,
) -> Any:
    """Calls `path` of job `job_name` through pub and returns its decoded JSON result."""
    job_name, path, payload, version, method = _positional(args, path, payload, version, method, kwargs)
    src_job = os.environ.get("JOB_NAME", "")
    pub_url = os.environ.get("PUB_URL")
    if not pub_url:
        raise JobCallError("PUB_URL is not set: this job was started without the pub address")
    url = f"{pub_url.rstrip('/')}/job/{job_name}/{version}{path}"
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Racetrack-Auth": os.environ.get("AUTH_TOKEN", ""),
    }
    headers.update(_passed_on_headers())
    data = None if payload is None and method.upper() == "GET" else json.dumps(payload).encode()
    http_request = urllib.request.Request(url, data=data, headers=headers, method=method.upper())
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:1000]
        raise JobCallError(
            f'failed to call job "{job_name} {version}" by {src_job}: HTTP {exc.code}: {detail}'
        ) from None
    except OSError as exc:
        raise JobCallError(f'failed to call job "{job_name} {version}" by {src_job}: {exc}') from None
    return json.loads(body) if body else None


async def call_job_async(*args: Any, **kwargs: Any) -> Any:
    """`call_job` for async code: the call runs in a thread (the request's context goes along)."""
    return await asyncio.to_thread(call_job, *args, **kwargs)


call_job_coroutine = call_job_async  # upstream's name


def _passed_on_headers() -> dict[str, str]:
    """The headers of the request being served that a chain call carries on."""
    request = current_request()
    if request is None:
        return {}
    passed: dict[str, str] = {}
    for name in (
        os.environ.get("REQUEST_TRACING_HEADER", "X-Request-Tracing-Id"),
        os.environ.get("CALLER_NAME_HEADER", "X-Caller-Name"),
    ):
        value = request.headers.get(name)
        if value:
            passed[name] = value
    predecessor = read_predecessor_id()
    if predecessor:
        passed[RECORDKEEPER_HEADER] = predecessor
    return passed


def _positional(
    args: tuple[Any, ...], path: str, payload: Any, version: str, method: str, kwargs: dict[str, Any]
) -> tuple[str, str, Any, str, str]:
    if args and not isinstance(args[0], str):
        args = args[1:]  # the calling job's entrypoint object (upstream's newer signature)
    job_name = kwargs.pop("job_name", None)
    if args:
        job_name, *rest = args
        for name, value in zip(("path", "payload", "version", "method"), rest, strict=False):
            if name == "path":
                path = value
            elif name == "payload":
                payload = value
            elif name == "version":
                version = value
            else:
                method = value
    if kwargs:
        raise TypeError(f"call_job got unexpected arguments: {', '.join(kwargs)}")
    if not job_name:
        raise TypeError("call_job needs the name of the job to call")
    return job_name, path, payload, version, method
