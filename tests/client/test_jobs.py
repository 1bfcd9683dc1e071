"""list, delete, logs, build-logs, call, "job not found" with the closest names (move: test_real_move.py)."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.client.conftest import LIFECYCLE, PUB, logged_in

JOBS = [
    {
        "name": "adder",
        "version": "0.0.1",
        "status": "running",
        "job_type_version": "python3:3.0.0",
        "infrastructure_target": "docker",
        "deployed_by": "admin",
        "update_time": time.time() - 120,
        "last_call_time": None,
        "pub_url": f"{PUB}/job/adder/0.0.1",
    },
    {
        "name": "adder",
        "version": "0.0.2",
        "status": "error",
        "job_type_version": "python3:3.0.0",
        "infrastructure_target": "docker",
        "deployed_by": "alice",
        "update_time": "2026-01-01T10:00:00Z",
    },
    {
        "name": "python-class",
        "version": "1.0.0",
        "status": "running",
        "job_type_version": "python3:3.0.0",
        "infrastructure_target": "kubernetes",
        "deployed_by": "admin",
    },
]


@pytest.fixture(autouse=True)
def login(isolated):
    logged_in(isolated)


def test_list_base_columns(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATUS"]
    assert lines[1].split() == ["adder", "0.0.1", "RUNNING"]
    assert lines[3].split() == ["python-class", "1.0.0", "RUNNING"]


def test_list_all_columns(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("list", "-c", "all")
    header = result.stdout.splitlines()[0]
    for title in ("JOB TYPE", "INFRASTRUCTURE", "DEPLOYED BY", "UPDATED AT", "LAST CALL AT", "PUB URL"):
        assert title in header
    assert re.search(r"\d+ min ago", result.stdout)  # JOBS was built at import: minutes may have passed
    assert "2026-01-01 10:00" in result.stdout
    assert f"{PUB}/job/python-class/1.0.0" in result.stdout  # computed from /info


def test_list_chosen_columns_and_filters(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt(
        "list", "-c", "deployed_by", "--column", "infrastructure", "--name", "add", "--status", "RUNNING"
    )
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATUS", "INFRASTRUCTURE", "DEPLOYED", "BY"]
    assert len(lines) == 2 and lines[1].split() == ["adder", "0.0.1", "RUNNING", "docker", "admin"]
    by_glob = rt("list", "--name", "py*", "--infrastructure", "kubernetes")
    assert [line.split()[0] for line in by_glob.stdout.splitlines()[1:]] == ["python-class"]
    by_user = rt("list", "--deployed-by", "alice", "--version", "0.0.*")
    assert [line.split()[1] for line in by_user.stdout.splitlines()[1:]] == ["0.0.2"]
    assert rt("list", "-c", "colour").exit_code == 2


def test_list_json(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("list", "--output", "json", "--status", "running")
    data = json.loads(result.stdout)
    assert [j["name"] for j in data] == ["adder", "python-class"]
    assert data[1]["pub_url"] == f"{PUB}/job/python-class/1.0.0"


def test_list_empty(rt, server) -> None:
    server.on("GET", "/api/v1/job", [])
    assert rt("list").stdout.strip() == f"No jobs deployed at {LIFECYCLE}."


def test_delete(rt, server) -> None:
    server.on("DELETE", "/api/v1/job/adder/0.0.1", None, status=204)
    result = rt("delete", "adder", "--version", "0.0.1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f'Job "adder" v0.0.1 has been deleted from {LIFECYCLE}'


def test_delete_requires_version(rt, server) -> None:
    assert rt("delete", "adder").exit_code == 2


def test_job_not_found_suggests_closest_names(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("delete", "addr", "--version", "0.0.1")
    assert result.exit_code == 1
    assert f'job "addr" not found at {LIFECYCLE}' in result.stderr
    assert "Did you mean: adder?" in result.stderr


def test_missing_version_lists_deployed_versions(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("delete", "adder", "--version", "9.9.9")
    assert result.exit_code == 1
    assert 'job "adder" has no version 9.9.9' in result.stderr
    assert "Versions deployed: 0.0.1, 0.0.2" in result.stderr


def test_nothing_close(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("logs", "zzzzzz")
    assert "See the deployed jobs with: racetrack list" in result.stderr


def test_logs_resolves_version_and_tails(rt, server) -> None:
    server.on("GET", "/api/v1/job/adder/latest", {"name": "adder", "version": "0.0.2"})
    server.on("GET", "/api/v1/job/adder/0.0.2/logs", {"logs": "line 1\nline 2\n"})
    result = rt("logs", "adder", "--tail", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout == "line 1\nline 2\n"
    assert server.sent("GET", "/logs")[0].url.params["tail"] == "5"


def test_build_logs(rt, server) -> None:
    server.on("GET", "/api/v1/job/adder/0.0.1/build-logs", {"logs": "Step 1\nStep 2\n"})
    result = rt("build-logs", "adder", "--version", "0.0.1")
    assert result.exit_code == 0
    assert result.stdout == "Step 1\nStep 2\n"
    assert server.sent("GET", "/build-logs")[0].url.params["tail"] == "0"


def test_build_logs_plain_text_answer(rt, server) -> None:
    server.on("GET", "/api/v1/job/adder/latest/build-logs", httpx.Response(200, text="plain log"))
    assert rt("build-logs", "adder").stdout == "plain log\n"


def test_call_posts_to_pub_with_token(rt, server) -> None:
    server.on("GET", "/api/v1/job/adder/latest", JOBS[0])
    server.on("POST", "/pub/job/adder/0.0.1/api/v1/perform", lambda r: httpx.Response(200, json=42))
    result = rt("call", "adder", "/api/v1/perform", '{"numbers": [40, 2]}')
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "42"
    request = server.sent("POST", "/perform")[0]
    assert str(request.url) == f"{PUB}/job/adder/0.0.1/api/v1/perform"
    assert request.headers["X-Racetrack-Auth"] == "tok-123"
    assert json.loads(request.content) == {"numbers": [40, 2]}


def test_call_yaml_payload_and_errors(rt, server) -> None:
    server.on("GET", "/api/v1/job/adder/0.0.1", {"name": "adder", "version": "0.0.1"})
    server.on(
        "POST",
        "/pub/job/adder/0.0.1/api/v1/perform",
        {"error": "Proxy request error: Unauthenticated", "requestId": "r1"},
        status=401,
    )
    result = rt("call", "adder", "api/v1/perform", "numbers: [1, 2]", "--version", "0.0.1")
    assert json.loads(server.sent("POST", "/perform")[0].content) == {"numbers": [1, 2]}
    assert result.exit_code == 1
    assert "the job answered 401: Proxy request error: Unauthenticated" in result.stderr
    assert rt("call", "adder", "/x", "[1, 2]").exit_code == 2


def test_call_curl_prints_a_command(rt, server) -> None:
    server.on("GET", "/api/v1/job/adder/latest", JOBS[0])
    result = rt("call", "adder", "/api/v1/perform", '{"numbers": [40, 2]}', "--curl")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"curl -X POST {PUB}/job/adder/0.0.1/api/v1/perform \\",
        "  -H 'X-Racetrack-Auth: tok-123' \\",
        "  -H 'Accept: application/json' \\",
        "  -H 'Content-Type: application/json' \\",
        "  -d '{\"numbers\": [40, 2]}'",
    ]
    assert not server.sent("POST", "/perform")


def test_maintenance_mode(rt, server) -> None:
    server.on(
        "DELETE",
        "/api/v1/job/adder/0.0.1",
        {"error": "Racetrack is in maintenance mode", "type": "Unavailable"},
        status=503,
    )
    result = rt("delete", "adder", "--version", "0.0.1")
    assert result.exit_code == 1
    assert "maintenance mode" in result.stderr


def test_chatter_only_on_a_terminal(rt, server, tty) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("list")
    assert f"Using current remote: {LIFECYCLE}" in result.stderr
    assert "Jobs (3) deployed at" in result.stderr


def test_quiet_when_piped(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    assert rt("list").stderr == ""


def test_delete_waits_for_a_background_deletion(rt, server) -> None:
    server.on("DELETE", "/api/v1/job/adder/0.0.1", {"id": "del1", "kind": "delete", "status": "in_progress"})
    server.on_sequence(
        "GET",
        "/api/v1/deploy/del1",
        [{"status": "in_progress", "phase": "destroying resources"}, {"status": "done"}],
    )
    result = rt("delete", "adder", "--version", "0.0.1")
    assert result.exit_code == 0, result.output
    assert "destroying resources" in result.stderr
    assert "has been deleted" in result.stdout
    assert len(server.sent("GET", "/deploy/del1")) == 2


def test_delete_failing_in_the_background(rt, server) -> None:
    server.on("DELETE", "/api/v1/job/adder/0.0.1", {"id": "del1", "status": "in_progress"})
    server.on(
        "GET", "/api/v1/deploy/del1", {"status": "failed", "phase": "destroying", "error": "stack busy"}
    )
    result = rt("delete", "adder", "--version", "0.0.1")
    assert result.exit_code == 1
    assert 'deletion of job "adder" v0.0.1 failed during phase "destroying": stack busy' in result.stderr


def test_a_404_about_an_existing_job_keeps_the_servers_words(rt, server) -> None:
    server.on("GET", "/api/v1/job", JOBS)
    result = rt("move", "adder", "--version", "0.0.1", "--infrastructure", "kubernetes")
    assert result.exit_code == 1
    assert 'cannot move job "adder" v0.0.1: no route POST' in result.stderr
    assert "may not support moving" in result.stderr


def test_server_failure_suggests_the_admin(rt, server) -> None:
    server.on("GET", "/api/v1/job/adder/latest", {"name": "adder", "version": "0.0.1"})
    server.on(
        "GET",
        "/api/v1/job/adder/0.0.1/logs",
        {"error": "internal server error", "type": "Exception"},
        status=500,
    )
    result = rt("logs", "adder")
    assert result.exit_code == 1
    assert "Error: internal server error" in result.stderr and "Racetrack admin" in result.stderr
