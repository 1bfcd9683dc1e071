"""Options and helpers shared by the commands."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from client import output

__all__ = [
    "RemoteOpt",
    "JobNameArg",
    "VersionOpt",
    "OutputFormat",
    "OutputOpt",
    "complete_job_name",
    "remote_flag",
    "print_json",
    "format_time",
    "print_table",
    "read_secret_argument",
]


def read_secret_argument(value: str | None) -> str | None:
    """A token given as `-` is read from the first line of stdin: another user on the machine can read a
    process's arguments (`ps`), never its stdin."""
    if value != "-":
        return value
    return typer.get_text_stream("stdin").readline().strip() or None


def complete_job_name(incomplete: str) -> list[str]:
    """Shell completion of job names from `GET /api/v1/job` on the current remote; silent on any failure."""
    from client.http import close_all, open_session

    try:
        session = open_session(None)
        jobs = session.api.get("job")
        names = sorted({str(j.get("name")) for j in jobs if isinstance(j, dict)})
        return [n for n in names if n.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the user's shell
        return []
    finally:
        close_all()


def complete_remote(incomplete: str) -> list[str]:
    """Shell completion of --remote: alias names, then the servers you are logged in to."""
    from client.config import load_config

    try:
        config = load_config()
    except Exception:  # noqa: BLE001 - a broken config file must not break the user's shell
        return []
    candidates = list(config.lifecycle_url_aliases) + sorted(config.user_auths)
    return [c for c in dict.fromkeys(candidates) if c.startswith(incomplete)]


RemoteOpt = Annotated[
    str | None,
    typer.Option(
        "--remote",
        autocompletion=complete_remote,
        help="Racetrack server's URL or alias name (default: the current remote, see `racetrack get remote`)",
        show_default=False,
    ),
]
JobNameArg = Annotated[
    str, typer.Argument(help="name of the job", autocompletion=complete_job_name, show_default=False)
]
VersionOpt = Annotated[
    str, typer.Option("--version", help="version of the job: exact, 'latest' or a wildcard like 1.x")
]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


OutputOpt = Annotated[
    OutputFormat, typer.Option("--output", "-o", help="output format: text for people, json for scripts")
]


def remote_flag(remote: str | None) -> str:
    """` --remote X` when the user gave one, so printed commands can be pasted as they are."""
    return f" --remote {remote}" if remote else ""


def print_json(data: Any) -> None:
    output.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def _to_datetime(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def format_time(value: Any, *, now: dt.datetime | None = None) -> str:
    """`2026-11-28 07:12 (5 min ago)` from an epoch number or an ISO string; '-' when absent."""
    moment = _to_datetime(value)
    if moment is None:
        return "-" if value in (None, "") else str(value)
    now = now or dt.datetime.now(dt.UTC)
    seconds = int((now - moment).total_seconds())
    if seconds < 0:
        ago = "in the future"
    elif seconds < 60:
        ago = f"{seconds}s ago"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} days ago"
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} ({ago})"


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """A plain, aligned table (easy to grep and cut)."""
    cells = [header] + [["-" if c is None or c == "" else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        output.echo(output.bold(line) if index == 0 else line)
