"""Where and how the CLI writes.

- stdout carries the result of a command (tables, logs, YAML, JSON, URLs, one-line confirmations).
- stderr carries errors, warnings and progress; chatter (`note`) only when stdout is a terminal or with
  `--verbose`, so piped output stays quiet and scriptable.
- Colours only reach a terminal: `typer.echo` strips ANSI codes elsewhere.
"""

from __future__ import annotations

import sys

import typer

__all__ = ["state", "stdout_is_tty", "stderr_is_tty", "echo", "note", "warn", "error", "bold"]


class _State:
    """Per-process flags set by the root callback."""

    verbose: bool = False


state = _State()


def stdout_is_tty() -> bool:
    """Whether stdout is a terminal; tests replace this function to see the interactive output."""
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    """Whether stderr is a terminal (decides between a live progress display and plain lines)."""
    return sys.stderr.isatty()


def echo(message: str = "") -> None:
    """Print a result line to stdout."""
    typer.echo(message)


def note(message: str) -> None:
    """Print chatter to stderr, only on a terminal or with --verbose."""
    if state.verbose or stdout_is_tty():
        typer.echo(typer.style(message, dim=True), err=True)


def warn(message: str) -> None:
    """Print a warning to stderr, always."""
    typer.echo(typer.style("Warning: ", fg="yellow", bold=True) + message, err=True)


def error(message: str, hint: str | None = None) -> None:
    """Print an error (and what to do about it) to stderr."""
    typer.echo(typer.style("Error: ", fg="red", bold=True) + message, err=True)
    if hint:
        typer.echo(hint, err=True)


def bold(text: str) -> str:
    return typer.style(text, bold=True)
