"""Forwarding: versions, headers, redirects, streaming, websockets, jobs that fail."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from .conftest import ALICE, base_config
from .jobs import BrokenServer
from .servers import ServerThread, free_port

AUTH = {"X-Racetrack-Auth": ALICE}


@pytest.mark.parametrize(
    ("asked", "exact"),
    [
        ("0.0.2", "0.0.2"),
        ("latest", "1.2.0"),
        ("1.x", "1.2.0"),
        ("0.0.x", "0.0.2"),
        ("0.x", "0.0.2"),
    ],
)
def test_version_resolved_by_the_lifecycle_is_the_one_called(world, asked, exact):
    with world.client(headers=AUTH) as c:
        r = c.get(f"/pub/job/adder/{asked}/echo/a%20b/c", params={"q": "1"})
    assert r.status_code == 200
    seen = r.json()
    assert seen["raw_path"] == f"/pub/job/adder/{exact}/echo/a%20b/c"
    assert seen["query"] == "q=1"


def test_unknown_job_or_version_is_404(world):
    with world.client(headers=AUTH) as c:
        r = c.get("/pub/job/nope/1.0.0/echo")
        assert r.status_code == 404
        assert r.json()["error"].startswith("Proxy request error: Job was not found")
        assert c.get("/pub/job/adder/9.9.9/echo").status_code == 404
        assert c.get("/pub/job/adder").status_code == 404


def test_legacy_fatman_path_and_any_method(world):
    with world.client(headers=AUTH) as c:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            r = c.request(
                method, "/pub/fatman/adder/0.0.1/echo/m", content=b"body" if method != "GET" else None
            )
            assert r.status_code == 200, method
            assert r.json()["method"] == method
        assert c.head("/pub/job/adder/0.0.1/echo/m").status_code == 200


def test_forwarded_headers_and_tracing_id(world):
    with world.client(headers=AUTH) as c:
        r = c.get("/pub/job/adder/0.0.1/echo", headers={"X-Forwarded-For": "10.0.0.9", "X-Custom": "kept"})
        seen = r.json()["headers"]
        assert seen["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
        assert seen["x-forwarded-host"] == world.pub_server.address
        assert seen["x-forwarded-proto"] == "http"
        assert seen["x-custom"] == "kept"
        assert seen["x-request-tracing-id"] == r.headers["x-request-tracing-id"]
        uuid.UUID(r.headers["x-request-tracing-id"])  # generated as a uuid4
        r = c.get("/pub/job/adder/0.0.1/echo", headers={"X-Request-Tracing-Id": "trace-42"})
        assert r.headers["x-request-tracing-id"] == "trace-42"
        assert r.json()["headers"]["x-request-tracing-id"] == "trace-42"
        assert r.headers["x-job-header"] == "yes"


def test_shared_client_keeps_no_cookies_between_callers(world):
    with world.client(headers=AUTH) as c:
        c.get("/pub/job/adder/0.0.1/echo")  # the job answers Set-Cookie: job=1
    with httpx.Client(base_url=world.pub, trust_env=False, headers=AUTH) as other:
        seen = other.get("/pub/job/adder/0.0.1/echo").json()["headers"]
    assert "cookie" not in seen


@pytest.mark.parametrize(
    ("kind", "location"),
    [
        ("prefix", "/pub/job/adder/latest/echo/after"),
        ("root", "/pub/job/adder/latest/docs"),
        ("absolute", "/pub/job/adder/latest/echo/abs?x=1"),
        ("external", "https://example.org/elsewhere"),
    ],
)
def test_redirects_stay_under_the_job_pub_path(world, kind, location):
    with world.client(headers=AUTH) as c:
        r = c.get(f"/pub/job/adder/latest/redirect/{kind}")
    assert r.status_code == 307
    assert r.headers["location"] == location


def test_chain_job_calls_another_job_with_its_own_token(world):
    trace = "chain-trace-1"
    with world.client(headers=AUTH) as c:
        r = c.post(
            "/pub/job/python-chain/0.1.0/api/v1/perform",
            json={"numbers": [40, 2]},
            headers={"X-Request-Tracing-Id": trace},
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["caller"] == "User alice"
    assert body["status"] == 200
    assert body["chained"] == {"result": 42, "version": "1.2.0", "caller": "Job family python-chain"}


def test_streaming_response_arrives_chunk_by_chunk(world):
    world.jobs.release.clear()
    with httpx.Client(base_url=world.pub, trust_env=False, timeout=httpx.Timeout(5.0)) as c:
        with c.stream("GET", "/pub/job/adder/0.0.1/stream", headers=AUTH) as r:
            assert r.status_code == 200
            chunks = r.iter_raw()
            first = next(chunks)
            # The job holds its second chunk until told; a buffering proxy would time out here.
            assert first == b"first\n"
            world.jobs.release.set()
            rest = b"".join(chunks)
    assert rest == b"second\nthird\n"


def test_streaming_request_body(world):
    def body():
        for i in range(50):
            yield f"part{i};".encode()

    with world.client(headers=AUTH) as c:
        r = c.post("/pub/job/adder/0.0.1/echo/upload", content=body())
    assert r.json()["body"] == "".join(f"part{i};" for i in range(50))


@pytest.mark.parametrize("chunked", ["", "1"])
def test_large_response_passes_intact(world, chunked):
    size = 5 * 1024 * 1024 + 123
    with world.client(headers=AUTH) as c:
        r = c.get("/pub/job/adder/0.0.1/big", params={"size": size, "chunked": chunked})
    assert r.status_code == 200
    block = bytes(range(256)) * 256
    assert r.content == (block * (size // len(block) + 1))[:size]


def test_large_streamed_upload(world):
    data = os.urandom(3 * 1024 * 1024)

    def parts():
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    with world.client(headers=AUTH) as c:
        r = c.post("/pub/job/adder/0.0.1/upload", content=parts())
        assert r.json() == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        r = c.post("/pub/job/adder/0.0.1/upload", content=data)  # with Content-Length
        assert r.json()["size"] == len(data)


def test_websocket_is_proxied_with_auth(world):
    url = f"ws://{world.pub_server.address}/pub/job/adder/latest/ws"
    with connect(url, additional_headers=AUTH, subprotocols=["chat"], proxy=None) as ws:
        assert ws.subprotocol == "chat"
        assert ws.recv(timeout=5) == "hello User alice"
        ws.send("ping")
        assert ws.recv(timeout=5) == "echo ping"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=5) == b"echo \x00\x01"
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, proxy=None):
            pass
    assert refused.value.response.status_code == 401


def test_job_down_is_502_with_reason(world):
    world.lifecycle.add_job("ghost", "1.0.0", f"127.0.0.1:{free_port()}", status="lost")
    with world.client(headers=AUTH) as c:
        r = c.get("/pub/job/ghost/1.0.0/api")
    assert r.status_code == 502
    body = r.json()
    assert body["error"].startswith("Reverse proxy error: connection refused")
    assert body["jobName"] == "ghost" and body["jobStatus"] == "lost"
    assert body["requestId"] == r.headers["x-request-tracing-id"]


def test_job_that_breaks_the_connection_is_502(world):
    broken = BrokenServer()
    try:
        world.lifecycle.add_job("broken", "1.0.0", f"127.0.0.1:{broken.port}")
        with world.client(headers=AUTH) as c:
            r = c.post("/pub/job/broken/1.0.0/api", json={})
        assert r.status_code == 502
        assert r.json()["error"].startswith("Reverse proxy error: connection broken")
    finally:
        broken.close()


def test_job_timeout_is_504_and_says_so(world, start_pub):
    pub = start_pub(base_config(world.config.lifecycle_url, job_timeout=0.3))
    with httpx.Client(base_url=pub.url, trust_env=False, timeout=10, headers=AUTH) as c:
        r = c.get("/pub/job/adder/0.0.1/slow", params={"seconds": "2"})
    assert r.status_code == 504
    assert "timed out" in r.json()["error"] and "504 Gateway Timeout" in r.json()["error"]


def test_metrics_live_ready_health(world):
    with world.client(headers=AUTH) as c:
        c.post("/pub/job/adder/0.0.1/api/v1/perform", json={"numbers": [1]})
        c.post(
            "/pub/job/adder/0.0.1/api/v1/perform", json={"numbers": [1]}, headers={"X-Racetrack-Auth": "x"}
        )
        text = c.get("/metrics").text
        for name in (
            "pub_job_proxy_requests_started_total",
            "pub_job_proxy_requests_done_total",
            'pub_job_proxy_response_codes_total{status="200"}',
            "pub_job_call_response_time_bucket",
            "pub_auth_successful_total",
            "pub_auth_failed_total",
            "pub_lifecycle_calls_total",
        ):
            assert name in text, name
        assert c.get("/live").json() == {"live": True}
        assert c.get("/pub/ready").json() == {"ready": True}
        assert c.get("/health").json()["mode"] == "gateway"


def test_pooled_connections_survive_head_and_job_side_idle_close(world):
    # A job whose uvicorn closes idle keep-alive connections after 0.3 s, before pub's 4 s expiry.
    quick = ServerThread(world.jobs.app(), timeout_keep_alive=0.3).start()
    try:
        world.lifecycle.add_job("quick", "1.0.0", quick.address)
        with world.client(headers=AUTH) as c:
            assert c.head("/pub/job/quick/1.0.0/echo/h").status_code == 200
            assert c.get("/pub/job/quick/1.0.0/echo/after-head").json()["path"].endswith("/after-head")
            for method in ("GET", "POST", "GET", "POST"):
                r = c.request(
                    method, "/pub/job/quick/1.0.0/echo/x", content=b"z" if method == "POST" else None
                )
                assert r.status_code == 200, (method, r.text)
                time.sleep(0.5)  # the job has closed the pooled connection by now
    finally:
        quick.stop()
