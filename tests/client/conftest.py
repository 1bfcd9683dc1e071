"""Fixtures for the CLI tests: a fake lifecycle server behind httpx.MockTransport, a private config dir."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from client import http, output, progress
from client.main import app

LIFECYCLE = "http://127.0.0.1:7002/lifecycle"
PUB = "http://127.0.0.1:7005/pub"

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeServer:
    """Routes `(METHOD, path regex)` to canned answers or handlers, and records every request."""

    routes: list[tuple[str, re.Pattern[str], Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    down: bool = False

    def on(self, method: str, path: str, answer: Any = None, *, status: int = 200) -> None:
        """Answer a request with JSON `answer`, an httpx.Response, or a handler(request) -> Response."""
        if not callable(answer) and not isinstance(answer, httpx.Response):
            payload = answer
            answer = lambda request: httpx.Response(status, json=payload)  # noqa: E731
        self.routes.insert(0, (method.upper(), re.compile(path + "$"), answer))

    def on_sequence(self, method: str, path: str, answers: list[Any]) -> None:
        """Answer successive requests with successive JSON answers, repeating the last one."""
        queue = list(answers)

        def serve(request: httpx.Request) -> httpx.Response:
            item = queue.pop(0) if len(queue) > 1 else queue[0]
            return item if isinstance(item, httpx.Response) else httpx.Response(200, json=item)

        self.on(method, path, serve)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        for method, pattern, answer in self.routes:
            if method == request.method and pattern.search(request.url.path):
                return answer if isinstance(answer, httpx.Response) else answer(request)
        return httpx.Response(
            404, json={"error": f"no route {request.method} {request.url.path}", "type": "NotFound"}
        )

    def sent(self, method: str, path_fragment: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and path_fragment in r.url.path]

    def body(self, method: str, path_fragment: str) -> Any:
        found = self.sent(method, path_fragment)
        assert found, (
            f"no {method} request to {path_fragment}: {[(r.method, r.url.path) for r in self.requests]}"
        )
        return json.loads(found[-1].content)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake = FakeServer()
    fake.on("GET", "/api/v1/info", {"auth_required": True, "external_pub_url": PUB})
    monkeypatch.setattr(http, "transport_factory", lambda: httpx.MockTransport(fake.handle))
    return fake


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private config dir and home, no real sleeping, a non-interactive terminal, default verbosity."""
    config_dir = tmp_path / "rtconfig"
    monkeypatch.setenv("RACETRACK_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setattr(progress, "sleep", lambda seconds: None)
    monkeypatch.setattr(output, "stdout_is_tty", lambda: False)
    monkeypatch.setattr(output, "stderr_is_tty", lambda: False)
    output.state.verbose = False
    return config_dir


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI believe stdout is a terminal (chatter is shown)."""
    monkeypatch.setattr(output, "stdout_is_tty", lambda: True)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def rt(runner: CliRunner) -> Callable[..., Any]:
    """Invoke `racetrack ARGS...`; keyword `input` feeds stdin."""

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input)

    return invoke


def write_config(config_dir: Path, text: str, mode: int = 0o600) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.yaml"
    path.write_text(text)
    path.chmod(mode)
    return path


def logged_in(config_dir: Path, url: str = LIFECYCLE, token: str = "tok-123") -> None:
    write_config(config_dir, f"lifecycle_url: http://127.0.0.1:7002\nuser_auths:\n  {url}: {token}\n")


def write_job(
    directory: Path,
    *,
    name: str = "adder",
    version: str = "0.0.1",
    extra: str = "",
    owner: str = "dev@example.com",
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "job.yaml").write_text(
        f"name: {name}\nowner_email: {owner}\nversion: '{version}'\njobtype: python3:latest\n"
        f"git:\n  remote: https://github.com/example/jobs\n  directory: adder\n{extra}"
    )
    (directory / "entrypoint.py").write_text(
        "class Adder:\n    def perform(self, numbers):\n        return sum(numbers)\n"
    )
    return directory
