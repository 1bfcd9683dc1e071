"""The CLI keeps its token to itself: it never follows a redirect to another host with it (two real HTTP
servers on loopback, one redirecting to the other, at another address and port, which records what it
receives), and tokens can be handed to it on stdin instead of in argv, where `ps` shows them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client import http

TOKEN = "tok-must-stay-home"


class Recorder(BaseHTTPRequestHandler):
    """Answers like a lifecycle's validate_user_auth (a token is needed); records each request's headers."""

    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        if "X-Racetrack-Auth" in self.headers:
            status, body = 200, b'{"username": "whoever"}'
        else:
            status, body = (
                401,
                b'{"error": "no header X-Racetrack-Auth: not logged in", "type": "Unauthenticated"}',
            )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(host: str, handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Another host: 127.0.0.2 (the loopback network), a port of its own."""
    seen: list[dict[str, str]] = []
    handler = type("OtherHost", (Recorder,), {"seen": seen})
    for server in _serve("127.0.0.2", handler):
        yield f"http://127.0.0.2:{server.server_port}", seen


def _redirecting_to(target: str, seen: list[dict[str, str]]) -> type[BaseHTTPRequestHandler]:
    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            if self.path.startswith("/moved/"):  # a redirect on the same server: the token may follow
                self.send_response(307)
                self.send_header("Location", "/lifecycle/" + self.path[len("/moved/") :])
            elif self.path.startswith("/lifecycle/"):
                self.send_response(307)
                self.send_header("Location", target + self.path)
            else:
                self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Redirecting


def test_the_token_does_not_follow_a_redirect_to_another_host(rt, elsewhere) -> None:
    other, seen_elsewhere = elsewhere
    seen_here: list[dict[str, str]] = []
    for server in _serve("127.0.0.1", _redirecting_to(other, seen_here)):
        lifecycle = f"http://127.0.0.1:{server.server_port}/lifecycle"
        result = rt("login", TOKEN, "--remote", lifecycle)
    assert seen_here and seen_here[0].get("X-Racetrack-Auth") == TOKEN  # sent to the server it belongs to
    assert seen_elsewhere, "the redirect was not followed"
    for headers in seen_elsewhere:
        assert TOKEN not in str(headers)
        assert "X-Racetrack-Auth" not in headers
    assert result.exit_code == 1  # the other host could not vouch for a token it never saw


def test_the_token_follows_a_redirect_on_the_same_server(elsewhere) -> None:
    other, _ = elsewhere
    seen_here: list[dict[str, str]] = []
    for server in _serve("127.0.0.1", _redirecting_to(other, seen_here)):
        api = http.Api(f"http://127.0.0.1:{server.server_port}", TOKEN)
        api.send("GET", api.base_url + "/moved/api/v1/users/validate_user_auth")
        http.close_all()
    assert [h.get("X-Racetrack-Auth") for h in seen_here] == [TOKEN, TOKEN]


def test_tokens_can_be_given_on_stdin_instead_of_argv(rt, isolated, elsewhere) -> None:
    other, seen = elsewhere
    result = rt("login", "-", "--remote", other, input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert seen[-1].get("X-Racetrack-Auth") == TOKEN
    result = rt("set", "credentials", "https://git.example.com/team", "me", "-", input="glpat-secret\n")
    assert result.exit_code == 0, result.output
    assert "glpat-secret" in (isolated / "config.yaml").read_text()
