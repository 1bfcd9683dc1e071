"""Real servers on free 127.0.0.1 ports: uvicorn in a thread, the Go gateway as a process, or pub as
`python -m api.pub` (launcher, gateway and async service)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from functools import cache
from pathlib import Path

import httpx
import uvicorn

from api.pub import PubConfig, create_app, gateway_env

ROOT = Path(__file__).resolve().parents[2]


@cache
def gateway_binary() -> str:
    """The gateway built from this checkout's sources (cached by their hash, so about a second when
    unchanged), also exported as RACETRACK_PUB_BINARY for the `python -m api.pub` processes tests start:
    a stale binary elsewhere must never be what a test exercises."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-pub.sh"), "--print"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-pub.sh failed:\n{done.stderr}")
    binary = done.stdout.strip().splitlines()[-1]
    os.environ["RACETRACK_PUB_BINARY"] = binary
    return binary


def _wait_live(url: str, proc: subprocess.Popen, what: str, stop) -> None:
    # A start slower than this on a loaded machine is not a hang; a process that exits ends the wait at once.
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/live", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop()
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OnLoopback:
    """A server listening on 127.0.0.1:`port`."""

    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ServerThread(OnLoopback):
    """Serves an ASGI app with uvicorn in a daemon thread, on its own event loop."""

    def __init__(self, app, port: int | None = None, **options) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="websockets-sansio", **options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

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


class GatewayServer(OnLoopback):
    """Pub as the tests see it: the Go gateway (a process) on a free port, configured from a
    `PubConfig` exactly as the launcher does it, in front of the async service (uvicorn in a thread,
    so tests can give it short heartbeats and retention). A sidecar config gets no async service."""

    def __init__(self, config: PubConfig, port: int | None = None) -> None:
        self.port = port or free_port()
        self.async_service: ServerThread | None = None
        upstream = None
        if config.sidecar is None:
            self.async_service = ServerThread(
                create_app(config), lifespan="on", server_header=False, date_header=False, proxy_headers=False
            ).start()
            upstream = self.async_service.url
        env = gateway_env(config, [self.address], upstream, os.environ)
        self.proc = subprocess.Popen([gateway_binary()], env=env)
        _wait_live(self.url, self.proc, "the pub gateway", self.stop)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.async_service is not None:
            self.async_service.stop()
            self.async_service = None


class PubProcess(OnLoopback):
    """`python -m api.pub` as a real process, with RACETRACK_* settings from `env`."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        port: int | None = None,
        sidecar: bool = False,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        args = (sys.executable, "-m", "api.pub", "--port", str(self.port), "--log-level", "warning", *args)
        if sidecar:
            args = (*args, "--sidecar")
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), "RACETRACK_PUB_BINARY": gateway_binary(), **env}
        self.proc = subprocess.Popen(args, cwd=ROOT, env=full_env)
        _wait_live(self.url, self.proc, "pub process", self.kill)

    def children(self) -> list[int]:
        """Process ids of the launcher's children (the gateway, in the gateway form)."""
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

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
