"""Turning a bare 404 about a job into "not found, did you mean ..."."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from client.errors import ClientError, NotFound

if TYPE_CHECKING:
    from client.http import Session

__all__ = ["job_lookup", "closest_names"]


def _is_exact(version: str) -> bool:
    return version != "latest" and "x" not in version.split(".") and "*" not in version


def closest_names(name: str, names: list[str]) -> list[str]:
    return difflib.get_close_matches(name, sorted(set(names)), n=3, cutoff=0.5)


def _enrich(session: Session, name: str, version: str | None, original: NotFound) -> NotFound:
    try:
        jobs = session.api.get("job")
    except ClientError:
        return original
    if not isinstance(jobs, list):
        return original
    names = [str(j.get("name")) for j in jobs if isinstance(j, dict)]
    if name in names:
        versions = sorted({str(j.get("version")) for j in jobs if j.get("name") == name})
        if version is None or version in versions or not _is_exact(version):
            return original  # the job is there: the 404 is about something else, say it as the server did
        return NotFound(
            f'job "{name}" has no version {version} at {session.lifecycle_url} ({original.message})',
            hint=f"Versions deployed: {', '.join(versions)}",
            status_code=404,
        )
    close = closest_names(name, names)
    hint = f"Did you mean: {', '.join(close)}?" if close else "See the deployed jobs with: racetrack list"
    return NotFound(f'job "{name}" not found at {session.lifecycle_url}', hint=hint, status_code=404)


@contextmanager
def job_lookup(session: Session, name: str, version: str | None = None) -> Iterator[None]:
    """Inside this block a 404 becomes a NotFound naming the closest job names or the versions deployed."""
    try:
        yield
    except NotFound as exc:
        raise _enrich(session, name, version, exc) from exc
