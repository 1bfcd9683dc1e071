"""Pub against the real lifecycle (api/lifecycle on SQLite, served by uvicorn): the contract both sides
wrote to, checked end to end. The rest of tests/pub uses the small fake lifecycle."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from api.auth import passwords as password_module
from api.lifecycle import create_app as create_lifecycle
from api.lifecycle.deps import expected_internal_token
from api.settings import Settings
from tests.api.conftest import World

from .conftest import base_config
from .jobs import JobWorld
from .servers import ServerThread


@dataclass
class Real:
    world: World
    pub: str
    alice: str
    chain: str
    esc: str


@pytest.fixture
def real(tmp_path, start_pub, monkeypatch) -> Iterator[Real]:
    monkeypatch.setattr(password_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        database_url=f"sqlite:///{tmp_path / 'racetrack.db'}",
        admin_password=SecretStr("admin-password-for-tests"),
    )
    app = create_lifecycle(settings)
    lifecycle = ServerThread(app).start()
    jobs = JobWorld()
    job_server = ServerThread(jobs.app()).start()
    world = World(app)
    world.job("adder", "1.0.0", internal_name=job_server.address)
    world.job("adder", "1.1.0", internal_name=job_server.address)
    world.job("python-chain", "0.1.0", internal_name=job_server.address)
    alice = world.user("alice@example.com")
    chain = world.family_token("python-chain")
    _, esc = world.esc("billing")
    # The real lifecycle checks tokens against its database: give it time on a busy machine.
    config = base_config(
        f"{lifecycle.url}/lifecycle", internal_token=expected_internal_token(settings), lifecycle_timeout=30
    )
    pub = start_pub(config)
    jobs.pub_url = pub.url
    jobs.family_tokens["python-chain"] = chain
    yield Real(world, pub.url, alice, chain, esc)
    job_server.stop()
    lifecycle.stop()
    app.state.db_engine.dispose()


def test_calls_through_pub_with_the_real_lifecycle(real: Real) -> None:
    with httpx.Client(base_url=real.pub, trust_env=False, timeout=10) as c:
        r = c.post(
            "/pub/job/adder/latest/api/v1/perform",
            json={"numbers": [1, 2]},
            headers={"X-Racetrack-Auth": real.alice},
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"result": 3, "version": "1.1.0", "caller": "User alice@example.com"}
        r = c.post("/pub/job/adder/1.0.0/api/v1/perform", json={"numbers": [1]})
        assert r.status_code == 401
        assert (
            r.json()["error"]
            == "Proxy request error: Unauthenticated: no header X-Racetrack-Auth: not logged in"
        )
        r = c.post(
            "/pub/job/adder/1.0.0/api/v1/perform", json={"numbers": [1]}, headers={"X-Racetrack-Auth": "x"}
        )
        assert r.status_code == 401
        r = c.post(
            "/pub/job/adder/1.0.0/api/v1/perform",
            json={"numbers": [1]},
            headers={"X-Racetrack-Auth": real.esc},
        )
        assert r.status_code == 403  # an ESC has no permission until granted
        assert c.get("/pub/job/adder/1.0.0/live").status_code == 200
        assert c.get("/pub/job/nope/1.0.0/live").status_code == 404


def _add_async(client: httpx.Client, token: str) -> str:
    """Starts an async call of adder's perform (20 + 22) as the holder of `token`; returns the task id."""
    r = client.post(
        "/pub/async/new/job/adder/1.x/api/v1/perform",
        json={"numbers": [20, 22]},
        headers={"X-Racetrack-Auth": token},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["task_id"])


def _poll(client: httpx.Client, task_id: str, headers: dict[str, str]) -> httpx.Response:
    """Long-polls a task until it ends (each poll waits up to the poll timeout), within a deadline."""
    deadline = time.monotonic() + 30
    while (response := client.get(f"/pub/async/task/{task_id}/poll", headers=headers)).status_code == 202:
        assert time.monotonic() < deadline
    return response


def test_async_call_records_fit_the_real_lifecycle(real: Real) -> None:
    with httpx.Client(base_url=real.pub, trust_env=False, timeout=10) as c:
        task_id = _add_async(c, real.alice)
        alice = {"X-Racetrack-Auth": real.alice}
        r = _poll(c, task_id, alice)
        assert r.status_code == 200, r.text
        assert r.json()["result"] == 42
        deadline = time.monotonic() + 10
        while c.get(f"/pub/async/task/{task_id}/status", headers=alice).json()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_an_async_result_is_read_by_its_caller_only(real: Real) -> None:
    bob = real.world.user("bob@example.com")
    staff = real.world.user("staff@example.com", staff=True)
    with httpx.Client(base_url=real.pub, trust_env=False, timeout=30) as c:
        task_id = _add_async(c, real.alice)
        for action in ("poll", "status"):
            for intruder in ({"X-Racetrack-Auth": bob}, {"X-Racetrack-Auth": real.esc}, {}):
                refused = c.get(f"/pub/async/task/{task_id}/{action}", headers=intruder)
                assert refused.status_code == 404, (action, intruder, refused.text)
                assert "result" not in refused.text
            bad = c.get(f"/pub/async/task/{task_id}/{action}", headers={"X-Racetrack-Auth": "not-a-token"})
            assert bad.status_code == 401
        r = _poll(c, task_id, {"X-Racetrack-Auth": real.alice})
        assert r.status_code == 200 and r.json()["result"] == 42
        seen_by_staff = c.get(f"/pub/async/task/{task_id}/status", headers={"X-Racetrack-Auth": staff})
        assert seen_by_staff.status_code == 200


def test_async_bodies_over_the_limit(real: Real) -> None:
    alice = {"X-Racetrack-Auth": real.alice}
    limit = 16 * 1024 * 1024  # RACETRACK_MAX_ASYNC_BODY's default
    with httpx.Client(base_url=real.pub, trust_env=False, timeout=60) as c:
        r = c.post("/pub/async/new/job/adder/1.0.0/echo", content=b"x" * (limit + 1), headers=alice)
        assert r.status_code == 413 and "at most 16777216 bytes" in r.json()["error"]

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(17):
                yield b"y" * (1024 * 1024)

        r = c.post("/pub/async/new/job/adder/1.0.0/echo", content=chunks(), headers=alice)
        assert r.status_code == 413
        r = c.get(f"/pub/async/new/job/adder/1.0.0/big?size={limit + 1}", headers=alice)
        assert r.status_code == 201, r.text
        task_id = r.json()["task_id"]
        r = _poll(c, task_id, alice)
        assert r.status_code == 500 and "larger than 16777216 bytes" in r.json()["error"]
