"""Runs Pulumi operations on job-family stacks, each in a worker process.

The Python SDK keeps global state per inline program, so two programs cannot run in one process at
once; each operation therefore runs in a fresh worker process (spawned, not forked, so no gRPC state
is inherited). Operations on one stack are serialised by a lock per stack; operations on different
stacks run in parallel up to `max_parallel`.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from prometheus_client import Histogram

from core.errors import InvalidInput, NotFound, PlatformError
from stacks.engine import EngineConfig, open_stack, remove_stack, translate_errors
from stacks.errors import StackError
from stacks.plan import PlanCollector
from stacks.spec import FamilySpec

__all__ = ["Operation", "OperationResult", "StackRunner", "stack_name", "PROJECT"]

PROJECT = "racetrack-jobs"

# In the process-wide registry: the lifecycle serves it at /metrics.
STACK_OPERATION_SECONDS = Histogram(
    "racetrack_stack_operation_duration_seconds",
    "Duration of Pulumi operations on job-family stacks (up, preview, refresh, reconcile, destroy), "
    "by target and outcome (ok or failed), including the wait for the stack's lock",
    ["operation", "target", "outcome"],
    buckets=(1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
Operation = Literal["up", "preview", "refresh", "reconcile", "destroy"]


def stack_name(family: str, target: str) -> str:
    return f"{family}-{target}"


@dataclass
class OperationResult:
    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    summary: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    details: str | None = None


class StackRunner:
    """Runs operations for the lifecycle; `run` blocks the calling thread until the operation ends."""

    def __init__(self, engine: EngineConfig, *, max_parallel: int = 4) -> None:
        self._engine = engine
        self._pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=max_parallel,
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=1,
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock(self, stack: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(stack, threading.Lock())

    def run(self, operation: Operation, spec: FamilySpec, *, log_path: str | None = None) -> OperationResult:
        stack = stack_name(spec.family, spec.target)
        started = time.monotonic()
        outcome = "failed"
        try:
            with self._lock(stack):
                future = self._pool.submit(run_in_worker, self._engine, operation, spec.to_json(), log_path)
                result = future.result()
            outcome = "ok" if result.ok else "failed"
            return result
        finally:
            elapsed = time.monotonic() - started
            STACK_OPERATION_SECONDS.labels(operation, spec.target, outcome).observe(elapsed)

    def history(self, family: str, target: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The stack's Pulumi updates, newest first (no program runs, so this stays in-process)."""
        try:
            stack = open_stack(
                self._engine,
                project=PROJECT,
                stack=stack_name(family, target),
                program=lambda: None,
                existing=True,
            )
        except NotFound:
            return []
        with translate_errors(stack.name):
            updates = stack.history(page_size=limit, page=1, show_secrets=False)
        return [
            {
                "version": update.version,
                "kind": update.kind,
                "result": update.result,
                "start_time": update.start_time.isoformat() if update.start_time else None,
                "end_time": update.end_time.isoformat() if update.end_time else None,
                "resource_changes": dict(update.resource_changes or {}),
            }
            for update in updates
        ]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_busy = threading.Event()


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: an idle worker whose lifecycle died (a crash, SIGKILL) exits instead of
    waiting forever on a queue nobody writes to. A busy one finishes its operation first, so a Pulumi
    update is never abandoned half-way by its worker."""

    def watch() -> None:
        while True:
            time.sleep(1)
            if os.getppid() != parent and not _busy.is_set():
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_in_worker(
    engine: EngineConfig, operation: Operation, spec_json: str, log_path: str | None
) -> OperationResult:
    """The body of one operation, executed inside a worker process."""
    _busy.set()
    spec = FamilySpec.from_json(spec_json)
    log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115 - closed below

    def on_output(line: str) -> None:
        if log is not None:
            log.write(line + "\n")
            log.flush()

    errors = _ErrorCollector()
    try:
        stack = open_stack(
            engine,
            project=PROJECT,
            stack=stack_name(spec.family, spec.target),
            program=_program(spec),
            providers=("kubernetes",) if spec.target == "kubernetes" else (),
        )
        clear_pending_operations(stack)
        with translate_errors(stack.name):
            if operation == "preview":
                collector = PlanCollector()
                preview = stack.preview(on_output=on_output, on_event=collector.on_event, diff=False)
                return OperationResult(
                    ok=True, plan=collector.plan().to_dict(), summary=_counts(preview.change_summary)
                )
            if operation == "up":
                result = stack.up(on_output=on_output, on_event=errors.on_event)
                return OperationResult(
                    ok=True,
                    outputs={key: value.value for key, value in result.outputs.items()},
                    summary=_counts(result.summary.resource_changes),
                )
            if operation == "refresh":
                # Only a report: what runs is compared with the state, and neither is changed.
                collector = PlanCollector()
                refreshed = stack.refresh(on_output=on_output, on_event=collector.on_event, preview_only=True)
                return OperationResult(
                    ok=True,
                    plan=collector.plan().to_dict(),
                    summary=_counts(refreshed.summary.resource_changes),
                )
            if operation == "reconcile":
                collector = PlanCollector()
                stack.refresh(on_output=on_output, on_event=collector.on_event)
                result = stack.up(on_output=on_output, on_event=errors.on_event)
                return OperationResult(
                    ok=True,
                    plan=collector.plan().to_dict(),
                    outputs={key: value.value for key, value in result.outputs.items()},
                    summary=_counts(result.summary.resource_changes),
                )
            if operation == "destroy":
                destroyed = stack.destroy(on_output=on_output, on_event=errors.on_event)
                summary = _counts(destroyed.summary.resource_changes)
        remove_stack(engine, project=PROJECT, stack=stack_name(spec.family, spec.target))
        return OperationResult(ok=True, summary=summary)
    except PlatformError as exc:
        if errors.messages:
            return OperationResult(ok=False, error="; ".join(errors.messages), details=_user_details(exc))
        return OperationResult(ok=False, error=exc.message, details=_user_details(exc))
    finally:
        if log is not None:
            log.close()


class _ErrorCollector:
    """Keeps the engine's error diagnostics, reduced to what a user can act on."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def on_event(self, event: Any) -> None:
        diagnostic = event.diagnostic_event
        if diagnostic is None or diagnostic.severity != "error":
            return
        text = diagnostic.message.strip()
        if not text or text in ("update failed",) or text.startswith("Resource monitor has terminated"):
            return
        if "Traceback (most recent call last)" in text:
            # A provider written in Python raised: its last line is the reason.
            text = text.strip().splitlines()[-1]
            text = text.split(": ", 1)[1] if text.split(": ", 1)[0].endswith(("Error", "Exception")) else text
        name = (diagnostic.urn or "").rsplit("::", 1)[-1]
        message = f"{name}: {text}" if name and not name.endswith("-docker") else text
        if message not in self.messages:
            self.messages.append(message)


def clear_pending_operations(stack: Any) -> None:
    """Drops operations a killed process left pending, so the next update can run.

    What they were doing is then found by the refresh the caller runs or by the update itself:
    a resource half-created is either recorded (and diffed) or absent (and created again).
    """
    state = stack.export_stack()
    deployment = state.deployment or {}
    if deployment.get("pending_operations"):
        deployment["pending_operations"] = []
        state.deployment = deployment
        stack.import_stack(state)
        stack.refresh()


def _counts(changes: Mapping[Any, int] | None) -> dict[str, int]:
    """Pulumi's change counts keyed by plain operation names ("create", ...), as they are stored."""
    return {
        str(op.value) if isinstance(op, Enum) else str(op): count for op, count in (changes or {}).items()
    }


def _program(spec: FamilySpec) -> Callable[[], None]:
    from stacks.target import target_class

    try:
        program: Callable[[], None] = target_class(spec.target).program(spec)
    except InvalidInput as exc:
        raise StackError(exc.message) from None
    return program


def _user_details(exc: PlatformError) -> str | None:
    """The engine's diagnostics without Python tracebacks from provider processes."""
    if not exc.details:
        return None
    kept = [
        line
        for line in exc.details.splitlines()
        if not line.lstrip().startswith(('File "', "^", "Traceback"))
    ]
    return "\n".join(kept[-20:])
