"""history and rollback."""

from __future__ import annotations

import json

import pytest

from tests.client.conftest import logged_in

REVISIONS = [
    {
        "number": 3,
        "created_at": "2026-11-28T07:00:00Z",
        "created_by": "alice@example.com",
        "operation": "deploy",
        "status": "failed",
        "error": "image build failed\nmore",
        "versions": ["0.0.2"],
        "summary": {},
    },
    {
        "number": 2,
        "created_at": 1764312000,
        "created_by": "admin",
        "operation": "deploy",
        "status": "succeeded",
        "error": None,
        "versions": ["0.0.1", "0.0.2"],
        "summary": {"create": 2},
    },
    {
        "number": 1,
        "created_at": "2026-11-27T07:00:00Z",
        "created_by": "admin",
        "operation": "rollback",
        "status": "succeeded",
        "error": None,
        "versions": [],
        "summary": {},
    },
]
PLAN = {
    "steps": [
        {
            "op": "update",
            "type": "docker:index/container:Container",
            "name": "job-adder",
            "diffs": ["image"],
            "changes": {"image": {"old": "adder:3", "new": "adder:2"}},
        }
    ],
    "summary": {"update": 1},
}


@pytest.fixture(autouse=True)
def login(isolated):
    logged_in(isolated)


def test_history_table(rt, server) -> None:
    server.on("GET", "/api/v1/job_family/adder/revisions", REVISIONS)
    result = rt("history", "adder")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["REV", "WHEN", "WHO", "OPERATION", "VERSIONS", "RESULT"]
    assert (
        lines[1].startswith("3")
        and "alice@example.com" in lines[1]
        and "failed: image build failed" in lines[1]
    )
    assert "more" not in lines[1]
    assert "0.0.1, 0.0.2" in lines[2] and "succeeded" in lines[2] and "2025-11-28 06:40" in lines[2]
    assert "rollback" in lines[3]


def test_history_json_and_empty(rt, server) -> None:
    server.on("GET", "/api/v1/job_family/adder/revisions", REVISIONS)
    assert json.loads(rt("history", "adder", "-o", "json").stdout)[0]["number"] == 3
    server.on("GET", "/api/v1/job_family/adder/revisions", [])
    assert rt("history", "adder").stdout.strip() == 'Job "adder" has no revisions yet.'


def test_history_unknown_job(rt, server) -> None:
    server.on("GET", "/api/v1/job", [{"name": "adder", "version": "0.0.1"}])
    result = rt("history", "ader")
    assert result.exit_code == 1
    assert "Did you mean: adder?" in result.stderr


def _rollback_server(server, final_status="done"):
    server.on(
        "POST",
        "/api/v1/job_family/adder/rollback",
        lambda r: __import__("httpx").Response(
            200, json={"id": "pv" if json.loads(r.content)["preview"] else "rb"}
        ),
    )
    server.on("GET", "/api/v1/deploy/pv", {"status": "done", "preview": PLAN})
    server.on_sequence(
        "GET",
        "/api/v1/deploy/rb",
        [
            {"status": "in_progress", "phase": "updating stack"},
            {
                "status": final_status,
                "phase": "updating stack",
                "error": "boom" if final_status == "failed" else None,
            },
        ],
    )


def test_rollback_with_yes(rt, server) -> None:
    _rollback_server(server)
    result = rt("rollback", "adder", "--to", "2", "--yes")
    assert result.exit_code == 0, result.output
    assert '~ image: "adder:3" -> "adder:2"' in result.stdout
    assert result.stdout.strip().endswith('Rolled back job "adder" to revision 2.')
    bodies = [json.loads(r.content) for r in server.sent("POST", "/rollback")]
    assert bodies == [
        {"to_revision": 2, "version": None, "preview": True},
        {"to_revision": 2, "version": None, "preview": False},
    ]
    assert "updating stack" in result.stderr


def test_rollback_asks_for_confirmation(rt, server) -> None:
    _rollback_server(server)
    result = rt("rollback", "adder", "--version", "0.0.2", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Do you want to perform this rollback?" in result.stdout
    assert json.loads(server.sent("POST", "/rollback")[-1].content) == {
        "to_revision": None,
        "version": "0.0.2",
        "preview": False,
    }


def test_rollback_declined(rt, server) -> None:
    _rollback_server(server)
    result = rt("rollback", "adder", input="n\n")
    assert result.exit_code == 1
    assert "Rollback cancelled." in result.stdout
    assert len(server.sent("POST", "/rollback")) == 1


def test_rollback_without_terminal_and_without_yes_does_nothing(rt, server) -> None:
    _rollback_server(server)
    result = rt("rollback", "adder")
    assert result.exit_code == 1
    assert "Pass --yes to roll back without being asked." in result.stderr
    assert len(server.sent("POST", "/rollback")) == 1


def test_rollback_nothing_to_do(rt, server) -> None:
    server.on("POST", "/api/v1/job_family/adder/rollback", {"id": "pv"})
    server.on(
        "GET", "/api/v1/deploy/pv", {"status": "done", "preview": {"steps": [], "summary": {"same": 2}}}
    )
    result = rt("rollback", "adder", "--yes")
    assert result.exit_code == 0
    assert "Nothing to roll back." in result.stdout
    assert len(server.sent("POST", "/rollback")) == 1


def test_rollback_preview_refused(rt, server) -> None:
    server.on("POST", "/api/v1/job_family/adder/rollback", {"id": "pv"})
    server.on("GET", "/api/v1/deploy/pv", {"status": "failed", "error": "no revision 9"})
    result = rt("rollback", "adder", "--to", "9", "--yes")
    assert result.exit_code == 1
    assert 'cannot roll back job "adder" to revision 9: no revision 9' in result.stderr
    assert "racetrack history adder" in result.stderr


def test_rollback_failure(rt, server) -> None:
    _rollback_server(server, final_status="failed")
    result = rt("rollback", "adder", "--yes")
    assert result.exit_code == 1
    assert 'rollback of job "adder" failed during phase "updating stack": boom' in result.stderr


def test_rollback_bad_revision_number_is_usage_error(rt, server) -> None:
    assert rt("rollback", "adder", "--to", "0").exit_code == 2
    assert rt("rollback", "adder", "--to", "x").exit_code == 2


def test_history_shows_targets_when_there_are_several(rt, server) -> None:
    revisions = [dict(REVISIONS[0], target="docker"), dict(REVISIONS[1], target="kubernetes")]
    server.on("GET", "/api/v1/job_family/adder/revisions", revisions)
    lines = rt("history", "adder").stdout.splitlines()
    assert lines[0].split()[-1] == "TARGET" and lines[2].split()[-1] == "kubernetes"
    server.on("GET", "/api/v1/job_family/adder/revisions", [dict(REVISIONS[0], target="docker")])
    assert "TARGET" not in rt("history", "adder").stdout
