"""The real `racetrack` process on a real terminal (tmux) against a fake lifecycle server over HTTP.

It checks what unit tests cannot: the live progress display on a TTY, the confirmation prompt, shell
completion installed and working, quiet output when piped, and the user guide's commands as typed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.client.conftest import FakeServer, write_job
from tests.client.terminal import Terminal, cli_env


def _serve(fake: FakeServer) -> tuple[ThreadingHTTPServer, int]:
    class Bridge(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = httpx.Request(
                self.command,
                f"http://{self.headers['host']}{self.path}",
                headers=dict(self.headers.items()),
                content=self.rfile.read(length),
            )
            response = fake.handle(request)
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Bridge)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, httpd.server_address[1]


@pytest.fixture
def fake_lifecycle() -> Iterator[tuple[FakeServer, str]]:
    fake = FakeServer()
    httpd, port = _serve(fake)
    base = f"http://127.0.0.1:{port}"
    pub = f"{base}/pub"
    fake.on("GET", "/api/v1/info", {"auth_required": True, "external_pub_url": pub})
    fake.on(
        "GET",
        "/api/v1/users/validate_user_auth",
        lambda r: (
            httpx.Response(200, json={"username": "admin"})
            if r.headers.get("x-racetrack-auth") == "tok-admin"
            else httpx.Response(
                401, json={"error": "wrong credentials: token is unknown", "type": "Unauthenticated"}
            )
        ),
    )

    def authed(answer):
        def handler(request: httpx.Request) -> httpx.Response:
            if request.headers.get("x-racetrack-auth") != "tok-admin":
                return httpx.Response(
                    401,
                    json={"error": "no header X-Racetrack-Auth: not logged in", "type": "Unauthenticated"},
                )
            return answer(request) if callable(answer) else httpx.Response(200, json=answer)

        return handler

    job = {
        "name": "adder",
        "version": "0.0.1",
        "status": "running",
        "pub_url": f"{pub}/job/adder/0.0.1",
        "deployed_by": "admin",
        "infrastructure_target": "docker",
    }
    fake.on("POST", "/api/v1/deploy", authed({"id": "d1"}))
    fake.on_sequence(
        "GET",
        "/api/v1/deploy/d1",
        [
            {"status": "in_progress", "phase": "building image", "build_logs": "Step 1/3 : FROM base\n"},
            {
                "status": "in_progress",
                "phase": "building image",
                "build_logs": "Step 1/3 : FROM base\nStep 2/3 : COPY\n",
            },
            {"status": "in_progress", "phase": "starting Job server"},
            {"status": "done", "job": job},
        ],
    )
    fake.on("GET", "/api/v1/job", authed([job]))
    fake.on("GET", "/api/v1/job/adder/latest", authed(job))
    fake.on("POST", "/pub/job/adder/0.0.1/api/v1/perform", authed(lambda r: httpx.Response(200, json=42)))
    fake.on(
        "POST",
        "/api/v1/job_family/adder/rollback",
        authed(
            lambda r: httpx.Response(200, json={"id": "pv" if json.loads(r.content)["preview"] else "rb"})
        ),
    )
    fake.on(
        "GET",
        "/api/v1/deploy/pv",
        {
            "status": "done",
            "preview": {
                "steps": [
                    {
                        "op": "update",
                        "type": "docker:index/container:Container",
                        "name": "job-adder",
                        "diffs": ["image"],
                        "changes": {"image": {"old": "adder:0.0.2", "new": "adder:0.0.1"}},
                    }
                ],
                "summary": {"update": 1},
            },
        },
    )
    fake.on("GET", "/api/v1/deploy/rb", {"status": "done", "phase": "updating stack"})
    fake.on(
        "GET",
        "/api/v1/job_family/adder/revisions",
        authed(
            [
                {
                    "number": 2,
                    "created_at": "2026-11-28T07:00:00Z",
                    "created_by": "admin",
                    "operation": "deploy",
                    "status": "succeeded",
                    "versions": ["0.0.1"],
                }
            ]
        ),
    )
    fake.on("GET", "/api/v1/job/adder/0.0.1/logs", authed({"logs": "server started\nGET /live 200\n"}))
    fake.on("DELETE", "/api/v1/job/adder/0.0.1", authed(None))
    yield fake, base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    write_job(tmp_path / "work" / "adder")
    term = Terminal(cli_env(tmp_path / "home" / ".racetrack"), cwd=tmp_path / "work")
    yield term
    term.close()


def test_user_guide_workflow_on_a_terminal(terminal: Terminal, fake_lifecycle, tmp_path: Path) -> None:
    fake, base = fake_lifecycle
    t = terminal
    t.run(f"racetrack set alias docker {base}", expect=f'Alias "docker" set to Racetrack URL {base}')
    t.run("racetrack set remote docker", expect=f"resolving to {base}/lifecycle")
    t.run("racetrack get remote", expect=f'Current remote is "docker", resolving to {base}/lifecycle')

    screen = t.run("racetrack list")
    assert f"Error: not logged in to {base}/lifecycle" in screen
    assert f"racetrack login <token> --remote {base}/lifecycle" in screen and t.exit_code(screen) == 1

    t.run("racetrack login tok-admin", expect=f"Logged in as admin to Racetrack: {base}/lifecycle")
    t.run(
        "racetrack set credentials https://github.com/example me@example.com ghp_secret",
        expect="git credentials of me@example.com set for repository https://github.com/example",
    )
    config = tmp_path / "home" / ".racetrack" / "config.yaml"
    assert oct(config.stat().st_mode & 0o777) == "0o600"

    screen = t.run(
        "racetrack deploy adder",
        expect=[
            'Job "adder" v0.0.1 is deployed.',
            f"URL:     {base}/pub/job/adder/0.0.1/",
            f"Swagger: {base}/pub/job/adder/0.0.1/docs",
            "✓ building image",
            "✓ starting Job server",
        ],
        timeout=90,
    )
    assert t.exit_code(screen) == 0
    assert fake.body("POST", "/api/v1/deploy")["git_credentials"] == {
        "username": "me@example.com",
        "password": "ghp_secret",
    }
    assert "ghp_secret" not in screen

    screen = t.run("racetrack list -c deployed_by", expect=["NAME", "DEPLOYED BY"])
    assert any(line.split() == ["adder", "0.0.1", "RUNNING", "admin"] for line in screen.splitlines())
    t.run("racetrack call adder /api/v1/perform '{\"numbers\": [40, 2]}'", expect="42")
    t.run("racetrack history adder", expect=["REV", "deploy", "succeeded"])

    t.clear()
    t.send("racetrack rollback adder --to 2")
    t.wait_for("Do you want to perform this rollback? [y/N]:", timeout=30)
    screen = t.screen()
    assert '~ image: "adder:0.0.2" -> "adder:0.0.1"' in screen
    t.send("y")
    t.wait_for('Rolled back job "adder" to revision 2.', timeout=30)

    t.run("racetrack logs adder", expect=["server started", "GET /live 200"])
    piped = t.run("racetrack list | cat")
    assert "Using current remote" not in piped and "adder" in piped
    t.run("racetrack delete adder --version 0.0.1", expect='Job "adder" v0.0.1 has been deleted')
    t.run("racetrack logout", expect=f"Logged out from Racetrack: {base}/lifecycle")


def test_shell_completion_installs_and_completes_job_names(terminal: Terminal, fake_lifecycle) -> None:
    fake, base = fake_lifecycle
    t = terminal
    t.run(f"racetrack set remote {base}")
    t.run("racetrack login tok-admin", expect="Logged in")
    screen = t.run("racetrack --install-completion bash", expect="completion installed")
    assert t.exit_code(screen) == 0
    t.send("source ~/.bash_completions/racetrack.sh")
    t.clear()
    t.send("racetrack build-l", enter=False)
    t.keys("Tab")
    t.wait_for("racetrack build-logs", timeout=10)
    t.keys("C-u")
    t.send("racetrack logs ad", enter=False)
    t.keys("Tab")
    t.wait_for("racetrack logs adder", timeout=10)
    t.keys("C-u")
