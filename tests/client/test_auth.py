"""login, logout, get auth-token, and the not-logged-in / unauthorized / unreachable errors."""

from __future__ import annotations

import httpx
import yaml

from tests.client.conftest import LIFECYCLE, logged_in, write_config


def _auths(config_dir) -> dict:
    return yaml.safe_load((config_dir / "config.yaml").read_text())["user_auths"]


def test_login_with_token_validates_and_stores_it(rt, server, isolated) -> None:
    server.on(
        "GET",
        "/api/v1/users/validate_user_auth",
        lambda r: (
            httpx.Response(200, json={"username": "admin"})
            if r.headers.get("X-Racetrack-Auth") == "tok-1"
            else httpx.Response(401, json={"error": "wrong", "type": "Unauthenticated"})
        ),
    )
    result = rt("login", "tok-1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Logged in as admin to Racetrack: {LIFECYCLE}"
    assert _auths(isolated) == {LIFECYCLE: "tok-1"}


def test_login_with_remote_alias_stores_under_the_resolved_url(rt, server, isolated) -> None:
    server.on("GET", "/api/v1/users/validate_user_auth", {"username": "alice@example.com"})
    rt("set", "alias", "prod", "rt.prod.example.com")
    result = rt("login", "tok-9", "--remote", "prod")
    assert result.exit_code == 0, result.output
    assert server.requests[-1].url == "https://rt.prod.example.com/lifecycle/api/v1/users/validate_user_auth"
    assert _auths(isolated) == {"https://rt.prod.example.com/lifecycle": "tok-9"}


def test_login_with_a_bad_token(rt, server, isolated) -> None:
    server.on(
        "GET",
        "/api/v1/users/validate_user_auth",
        {"error": "wrong credentials: token is unknown", "type": "Unauthenticated"},
        status=401,
    )
    result = rt("login", "bad")
    assert result.exit_code == 1
    assert (
        "Error: invalid token for http://127.0.0.1:7002/lifecycle: wrong credentials: token is unknown"
        in result.stderr
    )
    assert not (isolated / "config.yaml").exists()


def test_login_with_username_prompts_for_password(rt, server, isolated) -> None:
    server.on(
        "POST",
        "/api/v1/users/login",
        lambda r: (
            httpx.Response(200, json={"username": "bob@example.com", "token": "tok-bob"})
            if r.content and b'"password": "s3cret-pass"' in r.content.replace(b'":"', b'": "')
            else httpx.Response(401, json={"error": "bad", "type": "Unauthenticated"})
        ),
    )
    result = rt("login", "--username", "bob@example.com", input="s3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "s3cret-pass" not in result.output
    assert server.body("POST", "/users/login") == {"username": "bob@example.com", "password": "s3cret-pass"}
    assert "X-Racetrack-Auth" not in server.sent("POST", "/users/login")[0].headers
    assert _auths(isolated) == {LIFECYCLE: "tok-bob"}


def test_login_with_username_reads_the_cookie_when_no_token_in_body(rt, server, isolated) -> None:
    server.on(
        "POST",
        "/api/v1/users/login",
        httpx.Response(
            200, json={"username": "bob"}, headers={"set-cookie": "X-Racetrack-Auth=tok%2Bcookie; Path=/"}
        ),
    )
    assert rt("login", "--username", "bob", input="pw\n").exit_code == 0
    assert _auths(isolated) == {LIFECYCLE: "tok+cookie"}


def test_login_with_wrong_password(rt, server) -> None:
    server.on("POST", "/api/v1/users/login", {"error": "bad", "type": "Unauthenticated"}, status=401)
    result = rt("login", "--username", "bob", input="nope\n")
    assert result.exit_code == 1
    assert "incorrect username or password" in result.stderr


def test_login_without_token_or_username_is_a_usage_error(rt) -> None:
    result = rt("login", "--remote", "dev")
    assert result.exit_code == 2


def test_logout(rt, server, isolated) -> None:
    logged_in(isolated)
    result = rt("logout")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"Logged out from Racetrack: {LIFECYCLE}"
    assert _auths(isolated) == {}
    again = rt("logout")
    assert again.exit_code == 1
    assert f"not logged in to {LIFECYCLE}" in again.stderr


def test_get_auth_token(rt, server, isolated) -> None:
    logged_in(isolated, token="tok-xyz")
    result = rt("get", "auth-token")
    assert result.exit_code == 0
    assert result.stdout == "tok-xyz\n"


def test_get_auth_token_not_logged_in_tells_the_exact_login_command(rt, server) -> None:
    result = rt("get", "auth-token", "--remote", "http://127.0.0.1:7002")
    assert result.exit_code == 1
    assert f"missing auth token for {LIFECYCLE}" in result.stderr
    assert f"racetrack login <token> --remote {LIFECYCLE}" in result.stderr


def test_not_logged_in_on_a_401_names_the_login_command(rt, server) -> None:
    server.on(
        "GET",
        "/api/v1/job",
        {"error": "no header X-Racetrack-Auth: not logged in", "type": "Unauthenticated"},
        status=401,
    )
    result = rt("list")
    assert result.exit_code == 1
    assert f"Error: not logged in to {LIFECYCLE}" in result.stderr
    assert f"racetrack login <token> --remote {LIFECYCLE}" in result.stderr
    assert "Traceback" not in result.output


def test_rejected_token_is_unauthorized(rt, server, isolated) -> None:
    logged_in(isolated)
    server.on(
        "GET",
        "/api/v1/job",
        {"error": "given access token has expired", "type": "Unauthenticated"},
        status=401,
    )
    result = rt("list")
    assert result.exit_code == 1
    assert "the server rejected your token: given access token has expired" in result.stderr
    assert "racetrack login <token>" in result.stderr


def test_forbidden(rt, server, isolated) -> None:
    logged_in(isolated)
    server.on(
        "DELETE",
        "/api/v1/job/adder/0.0.1",
        {"error": "no permission to do this operation", "type": "Forbidden"},
        status=403,
    )
    result = rt("delete", "adder", "--version", "0.0.1")
    assert result.exit_code == 1
    assert "Error: no permission to do this operation" in result.stderr


def test_token_is_sent_in_the_auth_header(rt, server, isolated) -> None:
    logged_in(isolated, token="tok-header")
    server.on("GET", "/api/v1/job", [])
    rt("list")
    assert server.sent("GET", "/api/v1/job")[0].headers["X-Racetrack-Auth"] == "tok-header"


def test_server_unreachable_names_the_url(rt, server) -> None:
    server.down = True
    result = rt("list", "--remote", "http://10.1.2.3:7002")
    assert result.exit_code == 1
    assert "cannot reach http://10.1.2.3:7002/lifecycle" in result.stderr
    assert "Traceback" not in result.output


def test_unexpected_error_has_no_traceback_unless_verbose(rt, server, isolated, monkeypatch) -> None:
    logged_in(isolated)
    from client.commands import jobs

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(jobs, "print_table", boom)
    server.on("GET", "/api/v1/job", [{"name": "a", "version": "1.0.0", "status": "running"}])
    quiet = rt("list")
    assert quiet.exit_code == 1
    assert "unexpected RuntimeError: kaboom" in quiet.stderr
    assert "Traceback" not in quiet.output
    loud = rt("-v", "list")
    assert loud.exit_code == 1
    assert "Traceback" in loud.stderr


def test_config_file_mode_after_login(rt, server, isolated) -> None:
    server.on("GET", "/api/v1/users/validate_user_auth", {"username": "u"})
    rt("login", "tok")
    assert oct((isolated / "config.yaml").stat().st_mode & 0o777) == "0o600"
    write_config(isolated, "lifecycle_url: x\n", 0o644)
