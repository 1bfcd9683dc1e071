"""Async calls: accepted at once, polled, stored through the lifecycle, surviving a pub restart."""

from __future__ import annotations

import http.client
import json
import time

import httpx

from .conftest import ALICE, INTERNAL, base_config
from .servers import PubProcess, ServerThread, free_port

AUTH = {"X-Racetrack-Auth": ALICE}


def _new(client: httpx.Client, path: str, **kwargs) -> str:
    r = client.post(f"/pub/async/new/job/{path}", headers=AUTH, **kwargs)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "ongoing"
    return body["task_id"]


def _poll_until_done(client: httpx.Client, task_id: str, limit: float = 20) -> httpx.Response:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        r = client.get(f"/pub/async/task/{task_id}/poll")
        if r.status_code != 202:
            return r
    raise AssertionError(f"task {task_id} not done within {limit} s")


def test_async_call_returns_task_then_result(world):
    with world.client() as c:
        task_id = _new(c, "adder/latest/api/v1/perform", json={"numbers": [20, 22]})
        r = _poll_until_done(c, task_id)
        assert r.status_code == 200
        assert r.json() == {"result": 42, "version": "1.2.0", "caller": "User alice"}
        assert c.get(f"/pub/async/task/{task_id}/status").json() == {
            "task_id": task_id,
            "status": "completed",
        }
    record = world.lifecycle.async_calls[task_id]
    assert record["status"] == "completed" and record["job_version"] == "1.2.0"
    assert record["request_headers"]["x-caller-name"] == "User alice"
    assert "x-racetrack-auth" not in record["request_headers"]  # no token is ever stored


def test_async_call_needs_permission_and_unknown_task_is_404(world):
    with world.client() as c:
        r = c.post("/pub/async/new/job/adder/0.0.1/api/v1/perform", json={"numbers": [1]})
        assert r.status_code == 401
        assert c.get("/pub/async/task/no-such-task/poll").status_code == 404
        assert c.get("/pub/async/task/no-such-task/status").status_code == 404


def test_poll_answers_202_while_the_job_works(world, start_pub):
    pub = start_pub(base_config(world.config.lifecycle_url, async_poll_timeout=0.3))
    with httpx.Client(base_url=pub.url, trust_env=False, timeout=10) as c:
        task_id = _new(c, "adder/0.0.1/slow?seconds=1.5")
        r = c.get(f"/pub/async/task/{task_id}/poll")
        assert r.status_code == 202
        assert r.json() == {"task_id": task_id, "status": "ongoing"}
        assert c.get(f"/pub/async/task/{task_id}/status").json()["status"] == "ongoing"
        r = _poll_until_done(c, task_id)
        assert r.status_code == 200 and r.json()["slept"] == 1.5


def test_connection_error_is_retried_once(world, start_pub):
    port = free_port()
    world.lifecycle.add_job("late", "1.0.0", f"127.0.0.1:{port}")
    pub = start_pub(base_config(world.config.lifecycle_url, async_retry_interval=1.5))
    with httpx.Client(base_url=pub.url, trust_env=False, timeout=10) as c:
        task_id = _new(c, "late/1.0.0/echo/x", content=b"payload")
        late = ServerThread(world.jobs.app(), port=port).start()  # comes up during the retry interval
        try:
            r = _poll_until_done(c, task_id)
        finally:
            late.stop()
        assert r.status_code == 200
        assert r.json()["body"] == "payload"
    assert world.lifecycle.async_calls[task_id]["attempts"] == 2


def test_job_that_stays_down_fails_after_the_retry(world):
    world.lifecycle.add_job("ghost", "1.0.0", f"127.0.0.1:{free_port()}")
    with world.client() as c:
        task_id = _new(c, "ghost/1.0.0/api")
        r = _poll_until_done(c, task_id)
        assert r.status_code == 500
        assert r.json()["error"].startswith("Async call failed: connection refused")
        assert c.get(f"/pub/async/task/{task_id}/status").json()["status"] == "failed"


def _pub_env(world, tmp_path) -> dict[str, str]:
    return {
        "RACETRACK_LIFECYCLE_URL": world.config.lifecycle_url,
        "RACETRACK_INTERNAL_TOKEN": INTERNAL,
        "RACETRACK_DATA_DIR": str(tmp_path),
        "RACETRACK_PUB_ASYNC_HEARTBEAT": "0.3",
        "RACETRACK_PUB_ASYNC_POLL_TIMEOUT": "2",
    }


def test_async_call_survives_a_pub_crash_mid_call(world, tmp_path):
    env = _pub_env(world, tmp_path)
    first = PubProcess(env)
    try:
        with httpx.Client(base_url=first.url, trust_env=False, timeout=10) as c:
            task_id = _new(c, "adder/0.0.1/slow?seconds=1")
            deadline = time.monotonic() + 5
            while world.jobs.calls["adder 0.0.1 slow"] < 1:  # the job has the call in hand
                assert time.monotonic() < deadline
                time.sleep(0.01)
    finally:
        first.kill()  # SIGKILL: no shutdown code, the call's answer is lost with the process
    assert world.lifecycle.async_calls[task_id]["status"] == "ongoing"
    second = PubProcess(env)
    try:
        with httpx.Client(base_url=second.url, trust_env=False, timeout=10) as c:
            r = _poll_until_done(c, task_id)
            assert r.status_code == 200, r.text
            assert r.json() == {"slept": 1.0, "version": "0.0.1"}
            assert c.get(f"/pub/async/task/{task_id}/status").json()["status"] == "completed"
    finally:
        second.stop()
    assert world.jobs.calls["adder 0.0.1 slow"] == 2  # run again by the second pub


def test_finished_async_call_is_read_after_a_pub_restart(world, tmp_path):
    env = _pub_env(world, tmp_path)
    first = PubProcess(env)
    try:
        with httpx.Client(base_url=first.url, trust_env=False, timeout=10) as c:
            task_id = _new(c, "adder/0.0.2/api/v1/perform", json={"numbers": [1, 2]})
            deadline = time.monotonic() + 10
            while world.lifecycle.async_calls[task_id]["status"] != "completed":
                assert time.monotonic() < deadline
                time.sleep(0.02)
    finally:
        first.stop()
    second = PubProcess(env)
    try:
        with httpx.Client(base_url=second.url, trust_env=False, timeout=10) as c:
            r = c.get(f"/pub/async/task/{task_id}/poll")
            assert r.status_code == 200 and r.json()["result"] == 3
    finally:
        second.stop()
    assert world.jobs.calls["adder 0.0.2 perform"] == 1


def test_expired_async_call_is_gone(world, start_pub):
    pub = start_pub(base_config(world.config.lifecycle_url, async_retention=0.5))
    with httpx.Client(base_url=pub.url, trust_env=False, timeout=10) as c:
        task_id = _new(c, "adder/0.0.1/api/v1/perform", json={"numbers": [1]})
        assert _poll_until_done(c, task_id).status_code == 200
    time.sleep(0.6)
    other = start_pub(base_config(world.config.lifecycle_url, async_retention=0.5))  # reads the lifecycle
    with httpx.Client(base_url=other.url, trust_env=False, timeout=10) as c:
        assert c.get(f"/pub/async/task/{task_id}/poll").status_code == 404
    assert task_id not in world.lifecycle.async_calls


def test_recorded_headers_are_the_callers_as_a_job_sees_them(world):
    # The caller sends no Accept-Encoding: none may appear on the way to the job either.
    connection = http.client.HTTPConnection(world.pub_server.address, timeout=10)
    connection.putrequest("POST", "/pub/async/new/job/adder/0.0.1/echo/x?q=1", skip_accept_encoding=True)
    for name, value in {
        "X-Racetrack-Auth": ALICE,
        "X-Custom": "kept",
        "X-Racetrack-Async-Job-Url": "http://169.254.169.254/steal",  # forged: the gateway sets it
        "X-Racetrack-Internal-Auth": "forged",
        "Content-Length": "4",
    }.items():
        connection.putheader(name, value)
    connection.endheaders(b"data")
    response = connection.getresponse()
    assert response.status == 201, response.read()
    task_id = json.loads(response.read())["task_id"]
    connection.close()
    record = world.lifecycle.async_calls[task_id]
    headers = record["request_headers"]
    assert headers["x-custom"] == "kept" and headers["x-caller-name"] == "User alice"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    for name in (
        "x-racetrack-auth",
        "x-racetrack-internal-auth",
        "x-racetrack-async-job-url",
        "x-racetrack-async-job-version",
        "accept-encoding",
        "host",
    ):
        assert name not in headers, name
    assert record["request_url"] == f"http://{world.job_server.address}/pub/job/adder/0.0.1/echo/x?q=1"
    with world.client() as c:
        r = _poll_until_done(c, task_id)
    assert r.status_code == 200 and r.json()["body"] == "data"


def test_async_service_takes_new_calls_from_the_gateway_only(world):
    service = world.pub_server.async_service
    path = "/pub/async/new/job/adder/0.0.1/echo/x"
    job = {
        "X-Racetrack-Async-Job-Url": f"http://{world.job_server.address}/pub/job/adder/0.0.1/echo/x",
        "X-Racetrack-Async-Job-Version": "0.0.1",
    }
    with httpx.Client(base_url=service.url, trust_env=False, timeout=10) as c:
        r = c.post(path, headers=job)
        assert r.status_code == 401 and "from the pub gateway only" in r.json()["error"]
        assert c.post(path, headers={**job, "X-Racetrack-Internal-Auth": "wrong"}).status_code == 401
        r = c.post(path, headers={"X-Racetrack-Internal-Auth": INTERNAL, "X-Request-Tracing-Id": "t-1"})
        assert r.status_code == 400 and r.json()["requestId"] == "t-1"
        r = c.post(path, headers={**job, "X-Racetrack-Internal-Auth": INTERNAL})
        assert r.status_code == 201
    assert not world.lifecycle.calls  # the service never asks the lifecycle about permissions
