"""Copying what a running operation writes to its log file into the deployment's build logs."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from api.db import session_scope
from api.db.repository import append_build_logs, get_deployment

__all__ = ["LogPump", "append_line"]


def append_line(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


class LogPump:
    """Copies what a running operation writes to its log file into the deployment's build logs."""

    def __init__(
        self, sessions: sessionmaker[Session], deployment_id: str, path: Path, interval: float = 1.0
    ) -> None:
        self._sessions, self._id, self._path, self._interval = sessions, deployment_id, path, interval
        self._stop = threading.Event()
        self._offset = path.stat().st_size if path.exists() else 0
        self._thread = threading.Thread(target=self._loop, daemon=True)
        with session_scope(sessions) as session:
            if path.exists():
                deployment = get_deployment(session, deployment_id)
                deployment.build_logs = path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> LogPump:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._copy()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._copy()

    def _copy(self) -> None:
        if not self._path.exists():
            return
        with open(self._path, encoding="utf-8", errors="replace") as handle:
            handle.seek(self._offset)
            text = handle.read()
            self._offset = handle.tell()
        if text:
            with session_scope(self._sessions) as session:
                append_build_logs(session, self._id, text)
