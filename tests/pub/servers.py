"""Real servers on free 127.0.0.1 ports: uvicorn in a thread, or pub as a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """Serves an ASGI app with uvicorn in a daemon thread, on its own event loop."""

    def __init__(self, app, port: int | None = None, **options) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets-sansio", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class PubProcess:
    """`python -m api.pub` as a real process, with RACETRACK_* settings from `env`."""

    def __init__(self, env: dict[str, str], *, port: int | None = None, sidecar: bool = False) -> None:
        self.port = port or free_port()
        args = [sys.executable, "-m", "api.pub", "--port", str(self.port), "--log-level", "warning"]
        if sidecar:
            args.append("--sidecar")
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        self.proc = subprocess.Popen(args, cwd=ROOT, env=full_env)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.url}/live", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("pub process did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """Stops it the hard way, as a crash would: no shutdown code runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
