"""The lifecycle's Socket.IO endpoint for live logs, served by uvicorn, spoken to as upstream's client speaks:
who may connect, and what a client that may not follow a job is told. (Lines of a running job reaching both
CLIs are in tests/deployer/test_live_logs.py.)"""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest
import socketio

from api.auth import Scope, grant, subject_for_esc
from api.db import Esc
from api.db.repository import get_family
from tests.api.conftest import Api, World


def _url(api: Api) -> str:
    return str(api.client.base_url) + "/lifecycle"


class LogClient:
    """Upstream's client's exchange: connect, `subscribe_for_logs`, receive `logs_nextline` events."""

    def __init__(self, api: Api, headers: dict[str, str] | None = None, auth: Any = None) -> None:
        self.sio = socketio.Client(reconnection=False, request_timeout=60)  # a loaded machine is slow
        self.lines: list[str] = []
        self.refusal: str | None = None
        self.gone = threading.Event()
        self.sio.on("logs_nextline", lambda data: self.lines.append(data["line"]))
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", lambda *_: self.gone.set())
        self.url, self.headers, self.auth = _url(api), headers or {}, auth

    def _refused(self, data: Any) -> None:
        self.refusal = data.get("message") if isinstance(data, dict) else str(data)

    def connect(self) -> None:
        self.sio.connect(
            self.url,
            socketio_path="lifecycle/socket.io",
            headers=self.headers,
            auth=self.auth,
            wait_timeout=60,
        )

    def subscribe(self, job: str, version: str = "latest") -> str:
        answer = self.sio.call(
            "subscribe_for_logs",
            {"resource_properties": {"job_name": job, "job_version": version, "tail": "20"}},
            timeout=30,
        )
        return str(answer)


@pytest.fixture
def close_clients() -> Any:
    clients: list[LogClient] = []
    yield clients.append
    for client in clients:
        client.sio.disconnect()


def test_connecting_without_a_token_is_refused_with_how_to_give_one(
    live_api: Api, close_clients: Any
) -> None:
    client = LogClient(live_api)
    close_clients(client)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect()
    assert client.refusal is not None
    assert client.refusal.startswith("no token: send it in the X-Racetrack-Auth header"), client.refusal
    assert "~/.netrc" in client.refusal

    forged = LogClient(live_api, headers={"X-Racetrack-Auth": "not-a-token"})
    close_clients(forged)
    with pytest.raises(socketio.exceptions.ConnectionError):
        forged.connect()
    assert forged.refusal == "invalid JWT token"


@pytest.mark.parametrize("how", ["header", "auth payload", "basic (netrc)"])
def test_a_token_opens_the_stream_and_a_missing_job_is_named(
    live_api: Api, world: World, close_clients: Any, how: str
) -> None:
    token = world.user("user@example.com")
    options: dict[str, Any] = {
        "header": {"headers": {"X-Racetrack-Auth": token}},
        "auth payload": {"auth": {"token": token}},
        "basic (netrc)": {
            "headers": {"Authorization": "Basic " + base64.b64encode(f"racetrack:{token}".encode()).decode()}
        },
    }[how]
    client = LogClient(live_api, **options)
    close_clients(client)
    client.connect()
    assert client.subscribe("ghost") == "error: job ghost version latest was not found"
    assert client.gone.wait(30), "the server lets a client it cannot serve go"
    assert client.lines == ["Error: job ghost version latest was not found"]


def test_following_needs_read_access_on_the_job(live_api: Api, world: World, close_clients: Any) -> None:
    world.job("adder", "1.0.0")
    world.job("summer", "1.0.0")
    esc_id, esc_token = world.esc("billing")
    with world.session() as session:
        esc = subject_for_esc(session, session.get(Esc, esc_id))
        grant(session, esc, Scope.read_job, family=get_family(session, "summer"))
    client = LogClient(live_api, headers={"X-Racetrack-Auth": esc_token})
    close_clients(client)
    client.connect()
    assert client.subscribe("adder", "1.0.0") == "error: no permission to read the logs of job adder v1.0.0"

    reader = LogClient(live_api, headers={"X-Racetrack-Auth": esc_token})
    close_clients(reader)
    reader.connect()
    # Allowed; this lifecycle runs without a deploy engine, which it says instead of streaming nothing.
    assert (
        reader.subscribe("summer") == "error: runtime logs are not available: no deploy engine is configured"
    )
