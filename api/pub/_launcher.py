"""`python -m api.pub`: resolves pub's settings, then runs the Go gateway (racetrack-pub) with them.

Gateway form: the async-call service (Python, `._app`) serves on a loopback port this process binds,
and the gateway runs as a child that hands it `/pub/async/` calls. Both stop together: a signal to
the launcher stops both, and a gateway that dies takes the launcher down with a non-zero status, so
a supervisor (`make run`, Docker's restart policy) sees pub as one process.

Sidecar form: no async service; the launcher becomes the gateway (exec), leaving one process in the pod.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Generator, Mapping
from pathlib import Path

import uvicorn

from api.errors import PlatformError
from api.settings import get_settings

from ._app import create_app
from ._config import PubConfig, gateway_env

__all__ = ["BinaryNotFound", "find_binary", "main"]

BINARY = "racetrack-pub"
log = logging.getLogger("racetrack.pub")


class BinaryNotFound(Exception):
    """No gateway binary where pub looks for it."""


def find_binary(given_environ: Mapping[str, str] | None = None) -> str:
    """RACETRACK_PUB_BINARY, else racetrack-pub next to this Python (the virtualenv, where
    `make setup` links it), else on PATH."""
    environ = os.environ if given_environ is None else given_environ
    given = environ.get("RACETRACK_PUB_BINARY")
    if given:
        if os.access(given, os.X_OK) and Path(given).is_file():
            return given
        raise BinaryNotFound(
            f"RACETRACK_PUB_BINARY={given} is not an executable file (`make setup` builds pub's gateway)"
        )
    beside = Path(sys.executable).parent / BINARY
    if os.access(beside, os.X_OK) and beside.is_file():
        return str(beside)
    on_path = shutil.which(BINARY, path=environ.get("PATH"))
    if on_path:
        return on_path
    raise BinaryNotFound(
        f"pub's gateway ({BINARY}) is not built: run `make setup` (or scripts/build-pub.sh), "
        "or set RACETRACK_PUB_BINARY"
    )


def _die_with_parent() -> None:
    """Runs in the child before exec: a launcher killed outright (SIGKILL, OOM) must not leave a
    gateway holding pub's port and pointing at an async service that is gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Server(uvicorn.Server):
    """uvicorn for the async service, with the launcher's signal handling: a signal also reaches the
    gateway, and is not raised again afterwards (uvicorn's default), so the launcher can wait for it."""

    child: subprocess.Popen[bytes] | None = None
    signalled = False

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def stop(signum: int, _frame: object) -> None:
            self.signalled = True
            self.should_exit = True
            if self.child is not None and self.child.poll() is None:
                self.child.send_signal(signum)

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _serve(config: PubConfig, binary: str, listen: list[str], log_level: str) -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    upstream = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = _Server(
        uvicorn.Config(
            create_app(config),
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            server_header=False,
            date_header=False,
            proxy_headers=False,  # the gateway's X-Forwarded-* are the caller's, recorded as they are
            log_level=log_level,
            timeout_graceful_shutdown=5,
        )
    )
    env = gateway_env(config, listen, upstream, os.environ)
    # Requests reaching the async port before uvicorn runs wait in the socket's backlog.
    child = subprocess.Popen([binary], env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
    server.child = child

    def watch() -> None:
        child.wait()
        server.should_exit = True

    threading.Thread(target=watch, name="gateway-watch", daemon=True).start()
    died = False
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        died = child.poll() is not None
        if not died:
            child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if server.signalled:
        return 0
    if not died:  # the async service could not start; uvicorn has said why
        print("Error: pub's async-call service stopped; stopping pub", file=sys.stderr)
        return 1
    code = child.returncode
    print(f"Error: pub's gateway ({binary}) exited with status {code}; stopping pub", file=sys.stderr)
    return code if code and code > 0 else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api.pub", description="Racetrack pub gateway")
    parser.add_argument(
        "--sidecar",
        action="store_true",
        help="guard one job at RACETRACK_PUB_SIDECAR_TARGET (job RACETRACK_PUB_SIDECAR_JOB_NAME)",
    )
    parser.add_argument(
        "--host",
        action="append",
        help="address to listen on, repeatable (default RACETRACK_PUB_HOST, 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        help="port (default RACETRACK_PUB_PORT=7005; a sidecar takes RACETRACK_PUB_SIDECAR_PORT when set)",
    )
    parser.add_argument("--log-level", default="info", help="the async service's log level")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        config = PubConfig.from_settings(settings, sidecar=args.sidecar)
        binary = find_binary()
    except PlatformError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None
    except BinaryNotFound as exc:
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    port = args.port or (config.sidecar and settings.pub_sidecar_port) or settings.pub_port
    listen = [_join(host, port) for host in (args.host or [settings.pub_host])]
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if config.sidecar is not None:
        # One job, no async calls: nothing of Python's needs to stay, so the gateway takes this process.
        os.execve(binary, [binary], gateway_env(config, listen, None, os.environ))
    raise SystemExit(_serve(config, binary, listen, args.log_level))


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
