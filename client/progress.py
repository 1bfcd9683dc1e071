"""Waiting for a long operation (deploy, preview, rollback) and showing how it goes.

The operation is polled at `GET /api/v1/deploy/{id}` with a Fibonacci backoff capped at 3 s, as
upstream does. On a terminal a live line shows the phase, the elapsed time and the last build-log
line; otherwise each phase (and each new warning) is one plain line on stderr.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from client import output
from client.errors import ClientError, Interrupted, ServerError, ServerUnreachable, Unavailable

if TYPE_CHECKING:
    from client.http import Session

__all__ = [
    "wait_for_operation",
    "failure",
    "telling_lines",
    "build_failure_fix",
    "sleep",
    "monotonic",
    "TIMEOUT_SECONDS",
]

TIMEOUT_SECONDS = 60 * 60
MAX_DELAY = 3.0
MAX_POLL_FAILURES = 5  # consecutive transient failures (server restarting, 5xx) tolerated while waiting

# seams for tests
sleep: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic


def _delays() -> Any:
    a, b = 1.0, 1.0
    while True:
        yield min(a, MAX_DELAY)
        a, b = b, a + b


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return line.strip()
    return ""


class _PlainDisplay:
    """One line per phase change, for logs and pipes."""

    def __init__(self, title: str) -> None:
        self.started = monotonic()
        typer.echo(title, err=True)
        self.build_lines = 0

    def phase(self, phase: str) -> None:
        typer.echo(f"[{monotonic() - self.started:5.0f}s] {phase}", err=True)

    def build_log(self, text: str) -> None:
        lines = text.splitlines()
        new = [line for line in lines[self.build_lines :] if line.strip()]
        # Every line with --verbose; else the newest one per poll, so a long build shows it moves.
        for line in new if output.state.verbose else new[-1:]:
            typer.echo(f"        | {line}", err=True)
        self.build_lines = len(lines)

    def tick(self) -> None:
        pass

    def stop(self, ok: bool | None) -> None:
        pass


class _LiveDisplay:
    """A spinner with the phase, elapsed time and the build log's last line; finished phases stay above."""

    def __init__(self, title: str) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self.console.print(title, markup=False, soft_wrap=True)
        self.started = monotonic()
        self.phase_started = self.started
        self.current: str | None = None
        self.build_line = ""
        self.build_count = 0
        self.status = self.console.status("waiting for the server…")
        self.status.start()

    def _render(self) -> None:
        from rich.text import Text

        elapsed = monotonic() - self.phase_started
        text = Text(f"{self.current or 'waiting'}… {elapsed:.0f}s")
        if self.build_line:
            text.append(f"  build log ({self.build_count} lines): ", style="dim")
            text.append(self.build_line[: max(10, self.console.width - len(text) - 4)], style="dim")
        self.status.update(text)

    def phase(self, phase: str) -> None:
        now = monotonic()
        if self.current:
            self.console.print(
                f"[green]✓[/green] {self.current} [dim]({now - self.phase_started:.0f}s)[/dim]"
            )
        self.current = phase
        self.phase_started = now
        self._render()

    def build_log(self, text: str) -> None:
        self.build_count = len(text.splitlines())
        self.build_line = _last_line(text)
        self._render()

    def tick(self) -> None:
        self._render()

    def stop(self, ok: bool | None) -> None:
        """Close the live line; the last phase is marked ✓ (done), ✗ (failed) or • (interrupted)."""
        self.status.stop()
        if self.current:
            mark = "[dim]•[/dim]" if ok is None else "[green]✓[/green]" if ok else "[red]✗[/red]"
            self.console.print(f"{mark} {self.current} [dim]({monotonic() - self.phase_started:.0f}s)[/dim]")


_STEP_PREFIX = re.compile(r"^#\d+ (\d+\.\d+ )?")
_TELLING = re.compile(
    r"error|failed|fatal|denied|not found|no matching distribution|certificate|x509|traceback|exception",
    re.IGNORECASE,
)
_CERTIFICATE = re.compile(
    r"certificate verify failed|x509:|SSL certificate problem|server certificate verification failed",
    re.IGNORECASE,
)


def telling_lines(build_log: str, limit: int = 12) -> list[str]:
    """The lines of a failed build's log that say why (BuildKit's step prefixes removed), else its end."""
    lines = [_STEP_PREFIX.sub("", line).rstrip() for line in build_log.splitlines() if line.strip()]
    picked: list[str] = []
    for line in lines[-400:]:
        if _TELLING.search(line) and line not in picked and not line.startswith("------"):
            picked.append(line)
    return (picked or lines)[-limit:]


def build_failure_fix(build_log: str, error: str) -> str | None:
    """What to do about a failed build, when the log says what kind of failure it is."""
    if _CERTIFICATE.search(build_log) or _CERTIFICATE.search(error):
        return (
            "The image build could not verify a TLS certificate (a proxy or registry whose CA the build "
            "did not trust; the error names the CA bundle it used). Give builds that CA: start the "
            "platform with RACETRACK_EXTRA_CA_BUNDLE=<PEM bundle file> (by default builds get the host's "
            "bundle, from SSL_CERT_FILE or /etc/ssl/certs/ca-certificates.crt), then deploy again."
        )
    return None


_RESOURCE_STEP = re.compile(r"Resource (\S+) (creating|updating|replacing|creating replacement)\b")
STARTING = "starting the job, waiting until it answers /live and /ready"


def detailed_phase(phase: str | None, build_log: str) -> str | None:
    """The server's one long phase ("building image and creating resources") split by what its log
    shows Pulumi doing: building a job image, or starting a job's container (which counts as created
    once the job answers /live and /ready)."""
    if not phase or not phase.startswith("building image"):
        return phase
    detail = phase
    for line in build_log.splitlines():
        step = _RESOURCE_STEP.search(line)
        if step is not None:
            name = step.group(1)
            if name.endswith("-image"):
                detail = "building image"
            elif name not in ("network",) and not name.startswith("racetrack-"):
                detail = STARTING
        elif line.startswith("building image "):
            detail = "building image"
    return detail


def failure(action: str, record: dict[str, Any]) -> str:
    """`<action> failed during phase "<phase>": <error>` (without the phase part when none was reached)."""
    phase = record.get("phase")
    where = f' during phase "{phase}"' if phase else ""
    return f"{action} failed{where}: {record.get('error') or 'no reason given'}"


def wait_for_operation(
    session: Session, op_id: str, *, title: str, what: str = "deployment"
) -> dict[str, Any]:
    """Poll an operation until it is done or failed and return its last record."""
    display: _PlainDisplay | _LiveDisplay = (
        _LiveDisplay(title) if output.stderr_is_tty() else _PlainDisplay(title)
    )
    deadline = monotonic() + TIMEOUT_SECONDS
    last_phase: str | None = None
    seen_warnings: set[str] = set()
    last_build = ""
    delays = _delays()
    outcome: bool | None = None
    failures = 0
    try:
        while True:
            try:
                record = session.api.get(f"deploy/{op_id}")
            except (ServerUnreachable, ServerError, Unavailable) as exc:
                failures += 1
                if failures > MAX_POLL_FAILURES:
                    raise
                output.warn(f"polling {what} {op_id} failed ({exc.message}); retrying")
                sleep(next(delays))
                continue
            failures = 0
            if not isinstance(record, dict):
                raise ClientError(f"unexpected answer while polling {what} {op_id}: {str(record)[:200]}")
            warnings = record.get("warnings")
            if warnings:
                for warning in warnings if isinstance(warnings, list) else [warnings]:
                    if str(warning) not in seen_warnings:
                        seen_warnings.add(str(warning))
                        output.warn(str(warning))
            build_logs = record.get("build_logs")
            log_grew = isinstance(build_logs, str) and build_logs != last_build
            if log_grew:
                last_build = str(build_logs)
            phase = detailed_phase(record.get("phase"), last_build)
            if phase and phase != last_phase:
                last_phase = str(phase)
                display.phase(last_phase)
            if log_grew:
                display.build_log(last_build)
            status = str(record.get("status", "")).lower()
            if status in ("done", "failed"):
                outcome = status == "done"
                return record
            if monotonic() > deadline:
                raise ClientError(
                    f"gave up waiting for {what} {op_id} after {TIMEOUT_SECONDS // 60} minutes",
                    hint="It may still finish; check it with: racetrack list",
                )
            display.tick()
            sleep(next(delays))
    except KeyboardInterrupt as exc:
        raise Interrupted(
            f"stopped waiting; {what} {op_id} goes on at {session.lifecycle_url}",
            hint="Check on it later with: racetrack list",
        ) from exc
    finally:
        display.stop(outcome)
