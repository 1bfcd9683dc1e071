"""A throwaway PostgreSQL server for tests: its own data folder, a free 127.0.0.1 port, trust auth."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """Runs `initdb` and `postgres` from Debian's binaries; as root, they run as the `postgres` user.

    `root` must be reachable by that user, e.g. a fresh folder made by `tempfile.mkdtemp()` in /tmp.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        bin_dir = (
            subprocess.run(
                [str(REPO / "scripts" / "ensure-postgres.sh")], check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        self.bin = Path(bin_dir)
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            self._prefix = ["runuser", "-u", "postgres", "--"]
            entry = pwd.getpwnam("postgres")
            root.mkdir(parents=True, exist_ok=True)
            os.chown(root, entry.pw_uid, entry.pw_gid)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> None:
        data = self.root / "data"
        subprocess.run(
            [
                *self._prefix,
                str(self.bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        log = open(self.root / "postgres.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                *self._prefix,
                str(self.bin / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log_text = (self.root / "postgres.log").read_text()
                    raise RuntimeError(f"PostgreSQL did not start: {log_text}") from exc
                time.sleep(0.1)  # polling a readiness condition with a deadline, not a fixed wait

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
