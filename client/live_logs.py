"""Following a job's runtime logs as the lifecycle streams them over Socket.IO (`<lifecycle>/socket.io`).

The server pushes each new line; nothing is asked again and again. The token goes in the
X-Racetrack-Auth header of the connection, as with every other request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import socketio

from client.errors import ClientError, Interrupted

__all__ = ["follow_logs"]

AUTH_HEADER = "X-Racetrack-Auth"
CONNECT_TIMEOUT = 15.0


def _endpoint(lifecycle_url: str) -> tuple[str, str]:
    """The server's origin and the Socket.IO path under the lifecycle URL (`lifecycle/socket.io`)."""
    parts = urlsplit(lifecycle_url)
    prefix = parts.path.strip("/")
    return f"{parts.scheme}://{parts.netloc}", f"{prefix}/socket.io" if prefix else "socket.io"


def follow_logs(
    lifecycle_url: str,
    token: str | None,
    name: str,
    version: str,
    tail: int,
    on_line: Callable[[str], None],
) -> None:
    """Prints lines through `on_line` until the server ends the stream or the user presses Ctrl-C."""
    origin, path = _endpoint(lifecycle_url)
    client = socketio.Client(reconnection=True, reconnection_attempts=5, request_timeout=CONNECT_TIMEOUT)
    refused: list[str] = []
    lock = threading.Lock()
    early: list[str] | None = []  # lines that came before the answer to the subscription

    @client.on("connect_error")
    def _refused(data: object) -> None:
        refused.append(str(data.get("message") if isinstance(data, dict) else data))

    @client.on("logs_nextline")
    def _line(data: object) -> None:
        line = str(data.get("line", "")) if isinstance(data, dict) else str(data)
        with lock:
            if early is not None:
                early.append(line)
                return
        on_line(line)

    try:
        client.connect(
            origin,
            socketio_path=path,
            headers={AUTH_HEADER: token} if token else {},
            wait_timeout=CONNECT_TIMEOUT,
        )
    except socketio.exceptions.ConnectionError as exc:
        reason = refused[-1] if refused else str(exc)
        raise ClientError(
            f"cannot follow the logs of job {name} v{version}: {reason}",
            hint="Without --follow, `racetrack logs` shows the recent lines.",
        ) from exc
    try:
        answer = str(
            client.call(
                "subscribe_for_logs",
                {"resource_properties": {"job_name": name, "job_version": version, "tail": str(tail)}},
                timeout=CONNECT_TIMEOUT,
            )
        )
        with lock:
            pending, early = early or [], None
        if answer.startswith("error: "):
            raise ClientError(f"cannot follow the logs of job {name} v{version}: {answer[len('error: ') :]}")
        for line in pending:
            on_line(line)
        client.wait()
    except KeyboardInterrupt as exc:
        raise Interrupted("stopped following the logs") from exc
    except socketio.exceptions.TimeoutError as exc:
        raise ClientError(
            f"the lifecycle did not answer the request to follow job {name} v{version}"
        ) from exc
    finally:
        client.disconnect()
