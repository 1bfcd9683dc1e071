"""Calling the user's functions: argument checks, sync code on or off the event loop, concurrency.

Everything a request needs from a function's signature is computed once, when the job starts.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["ArgumentCheck", "FunctionRunner", "ConcurrencyLimit", "BadArguments"]

# A sync function whose calls take on average less than this runs directly on the event loop:
# handing it to a thread would cost more than the call. Slower ones run in the thread pool so
# the loop keeps answering (health checks, other requests).
INLINE_THRESHOLD_S = 0.0005
_EWMA_WEIGHT = 0.2
_PROBE_CALLS = 3  # calls measured in the pool before a function may run inline

_TYPE_CHECKS: dict[Any, tuple[tuple[type, ...], str]] = {
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
    bool: ((bool,), "a boolean"),
    list: ((list,), "a list"),
    dict: ((dict,), "an object"),
}


class BadArguments(Exception):
    """The caller's arguments do not fit the function; the message names the argument."""


class ArgumentCheck:
    """Checks a JSON object against a function's signature before the call."""

    def __init__(self, func: Callable[..., Any], what: str = "perform") -> None:
        self.what = what
        params = inspect.signature(func).parameters.values()
        self.accepts_any = any(p.kind is p.VAR_KEYWORD for p in params)
        named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        self.names = frozenset(p.name for p in named)
        self.required = tuple(p.name for p in named if p.default is p.empty)
        try:
            hints = typing.get_type_hints(func)
        except Exception:  # noqa: BLE001 - unresolvable annotations: no type checks
            hints = {}
        self.types: dict[str, tuple[tuple[type, ...], str]] = {}
        for name in self.names:
            hint = hints.get(name)
            check = _TYPE_CHECKS.get(hint) or _TYPE_CHECKS.get(typing.get_origin(hint))  # list[int] -> list
            if check is not None:
                self.types[name] = check

    def check(self, payload: dict[str, Any]) -> None:
        for key, value in payload.items():
            if key not in self.names:
                if self.accepts_any:
                    continue
                accepted = ", ".join(sorted(self.names)) or "no arguments"
                raise BadArguments(f"unexpected argument '{key}' for {self.what}; it accepts: {accepted}")
            expected = self.types.get(key)
            if expected is not None and value is not None:
                # JSON true/false arrive as bool, a subclass of int: not a number for our purposes.
                wrong_bool = isinstance(value, bool) and bool not in expected[0]
                if wrong_bool or not isinstance(value, expected[0]):
                    raise BadArguments(
                        f"argument '{key}' of {self.what} must be {expected[1]}, got {_json_type(value)}"
                    )
        for name in self.required:
            if name not in payload:
                raise BadArguments(f"missing required argument '{name}' for {self.what}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class FunctionRunner:
    """Runs one user function: awaited if async, else inline or in the pool depending on its speed."""

    def __init__(
        self, func: Callable[..., Any], pool: ThreadPoolExecutor, inline_threshold: float = INLINE_THRESHOLD_S
    ) -> None:
        self.func = func
        self.pool = pool
        self.inline_threshold = inline_threshold  # 0 keeps every call in the pool
        self.is_async = inspect.iscoroutinefunction(func)
        self.average = 1.0
        self.calls = 0
        self.inline = False

    def _observe(self, elapsed: float) -> None:
        self.calls += 1
        if self.calls <= 1:
            self.average = elapsed
        else:
            self.average += _EWMA_WEIGHT * (elapsed - self.average)
        self.inline = self.calls >= _PROBE_CALLS and self.average < self.inline_threshold

    def _timed(self, kwargs: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return self.func(**kwargs)
        finally:
            self._observe(time.perf_counter() - started)

    async def __call__(self, kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return await self.func(**kwargs)
        if self.inline:
            return self._timed(kwargs)
        context = contextvars.copy_context()  # the request's tracing headers go along to the thread
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, context.run, self._timed, kwargs)


class ConcurrencyLimit:
    """At most `limit` calls at once; at most `queue` more may wait, beyond that callers get 429."""

    def __init__(self, limit: int, queue: int | None) -> None:
        self.limit = limit
        self.queue = queue
        self.waiting = 0
        self._semaphore: asyncio.Semaphore | None = None

    async def acquire(self) -> bool:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.limit)
        if not self._semaphore.locked():
            await self._semaphore.acquire()
            return True
        if self.queue is not None and self.waiting >= self.queue:
            return False
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        return True

    def release(self) -> None:
        assert self._semaphore is not None
        self._semaphore.release()
