"""Async call results belong to the caller who made the call (staff excepted) and are gone after their
retention (the real lifecycle over HTTP; pub's side is in tests/pub/test_real_lifecycle.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from api.auth import Scope, grant, subject_for_user
from api.db import AsyncJobCall, User, utcnow
from api.lifecycle import create_app
from api.lifecycle.deps import expected_internal_token
from api.settings import Settings
from tests.api.conftest import Api, World
from tests.pub.servers import ServerThread


def _record(call_id: str, caller_subject_id: int | None) -> dict:
    return {
        "id": call_id,
        "job_name": "adder",
        "job_version": "1.0.0",
        "job_path": "/api/v1/perform",
        "request_method": "POST",
        "request_url": "http://adder/pub/job/adder/1.0.0/api/v1/perform",
        "request_body": "e30=",
        "caller_subject_id": caller_subject_id,
    }


def _subject_of(world: World, username: str) -> int:
    with world.session() as session:
        return subject_for_user(session, session.query(User).filter_by(username=username).one()).id


def test_only_the_caller_reads_an_async_result(live_api: Api, world: World) -> None:
    internal = {"X-Racetrack-Internal-Auth": expected_internal_token(live_api.app.state.settings)}
    alice = world.user("alice@example.com")
    bob = world.user("bob@example.com")
    staff = world.user("staff@example.com", staff=True)
    created = live_api.post(
        "/job/async/call", headers=internal, json=_record("t-alice", _subject_of(world, "alice@example.com"))
    )
    assert created.status_code == 201, created.text
    live_api.put(
        "/job/async/call/t-alice", headers=internal, json={"status": "completed", "response_body": "NDI="}
    )

    def read_as(token: str | None) -> httpx.Response:
        return live_api.get("/job/async/call/t-alice", token, headers=internal, params={"reader": "caller"})

    assert read_as(alice).json()["response_body"] == "NDI="
    assert read_as(staff).status_code == 200
    for other in (bob, None):
        refused = read_as(other)
        assert (
            refused.status_code == 404 and refused.json()["error"] == "async job call t-alice was not found"
        )
    # without pub's token the reader is checked too, call_admin_api or not
    with world.session() as session:
        grant(
            session,
            subject_for_user(session, session.query(User).filter_by(username="bob@example.com").one()),
            Scope.call_admin_api,
        )
    assert live_api.get("/job/async/call/t-alice", bob).status_code == 404
    assert live_api.get("/job/async/call/t-alice", alice).status_code == 403  # the route itself is pub's
    assert live_api.get("/job/async/call/t-alice", headers=internal).status_code == 200  # pub's own reads


def test_an_anonymous_call_is_read_by_its_id(live_api: Api, world: World) -> None:
    internal = {"X-Racetrack-Internal-Auth": expected_internal_token(live_api.app.state.settings)}
    assert live_api.post("/job/async/call", headers=internal, json=_record("t-open", None)).status_code == 201
    bob = world.user("bob@example.com")
    for token in (bob, None):
        response = live_api.get(
            "/job/async/call/t-open", token, headers=internal, params={"reader": "caller"}
        )
        assert response.status_code == 200


def test_an_expired_result_is_gone_when_read(live_api: Api, world: World) -> None:
    internal = {"X-Racetrack-Internal-Auth": expected_internal_token(live_api.app.state.settings)}
    assert live_api.post("/job/async/call", headers=internal, json=_record("t-old", None)).status_code == 201
    with world.session() as session:
        session.get(AsyncJobCall, "t-old").started_at = utcnow() - timedelta(
            hours=4, seconds=1
        )  # the default
    assert live_api.get("/job/async/call/t-old", headers=internal).status_code == 404
    with world.session() as session:
        assert session.get(AsyncJobCall, "t-old") is None


@pytest.fixture
def short_retention(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"async_call_retention": 2.0}), run_migrations=False)
    server = ServerThread(app).start()  # runs the app's lifespan, which purges
    yield app
    server.stop()
    app.state.db_engine.dispose()


def test_results_nobody_reads_are_purged_after_their_retention(short_retention: FastAPI) -> None:
    world = World(short_retention)
    with world.session() as session:
        session.add(AsyncJobCall(**{k: v for k, v in _record("t-forgotten", None).items()}))
    deadline = time.monotonic() + 30
    while True:
        with world.session() as session:
            if session.get(AsyncJobCall, "t-forgotten") is None:
                break
        assert time.monotonic() < deadline, "the expired call was never purged"
        time.sleep(0.2)  # polling for the purge with a deadline
