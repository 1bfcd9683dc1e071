"""Who may call what: tokens, permissions, public endpoints, the auth cache."""

from __future__ import annotations

import time

from .conftest import ALICE, BOB, ESC

PERFORM = "/pub/job/adder/0.0.1/api/v1/perform"


def test_no_token_is_refused_with_upstream_message_and_request_id(world):
    with world.client() as c:
        r = c.post(PERFORM, json={"numbers": [1]})
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "Proxy request error: Unauthenticated: no header X-Racetrack-Auth: not logged in"
    assert body["requestId"] == r.headers["x-request-tracing-id"]
    assert world.jobs.calls["adder 0.0.1 perform"] == 0


def test_bad_token_is_refused(world):
    with world.client() as c:
        r = c.post(PERFORM, json={"numbers": [1]}, headers={"X-Racetrack-Auth": "nonsense"})
    assert r.status_code == 401
    assert r.json()["error"] == "Proxy request error: Unauthenticated: wrong credentials: token is unknown"


def test_valid_token_in_header_or_legacy_header_and_never_in_a_cookie(world):
    with world.client() as c:
        for headers in (
            {"X-Racetrack-Auth": ALICE},
            {"X-Racetrack-User-Auth": ALICE},
            {"X-Racetrack-Esc-Auth": ESC},
        ):
            r = c.post(PERFORM, json={"numbers": [2, 3]}, headers=headers)
            assert r.status_code == 200, (headers, r.text)
            assert r.json()["result"] == 5
        # Browsers send cookies with requests any page starts: pub's own host takes none
        # (a job's pages have their own host and session, tests/pub/test_job_hosts.py).
        r = c.post(
            PERFORM, json={"numbers": [2, 3]}, headers={"Cookie": f"theme=dark; X-Racetrack-Auth={ALICE}"}
        )
        assert r.status_code == 401


def test_credentials_do_not_reach_the_job_and_other_cookies_do(world):
    with world.client() as c:
        r = c.get(
            "/pub/job/adder/0.0.1/echo/x",
            headers={
                "X-Racetrack-Auth": ALICE,
                "Cookie": f"theme=dark; X-Racetrack-Auth={ALICE}",
                "X-Caller-Name": "User mallory",
            },
        )
    seen = r.json()["headers"]
    assert "x-racetrack-auth" not in seen
    assert seen["cookie"] == "theme=dark"
    assert seen["x-caller-name"] == "User alice"  # a caller cannot choose its own name


def test_user_without_permission_is_forbidden(world):
    with world.client() as c:
        r = c.post(PERFORM, json={"numbers": [1]}, headers={"X-Racetrack-Auth": BOB})
    assert r.status_code == 403
    assert r.json()["error"].startswith("Proxy request error: Forbidden: no permission to do this operation")


def test_esc_with_permission_for_one_endpoint_only(world):
    with world.client(headers={"X-Racetrack-Auth": ESC}) as c:
        assert c.post(PERFORM, json={"numbers": [4, 4]}).json()["result"] == 8
        assert c.post(PERFORM, json={"numbers": [1]}).json()["caller"] == "ESC billing"
        r = c.get("/pub/job/adder/0.0.1/echo/secret")
        assert r.status_code == 403
        assert c.post("/pub/job/python-chain/0.1.0/api/v1/perform", json={}).status_code == 403


def test_public_endpoint_needs_no_token_and_health_paths_are_open(world):
    world.lifecycle.public.add(("adder", "/echo/public"))
    with world.client() as c:
        assert c.get("/pub/job/adder/0.0.1/echo/public/page").status_code == 200
        assert c.get("/pub/job/adder/0.0.1/echo/private").status_code == 401
        r = c.get("/pub/job/adder/0.0.1/live")
        assert r.status_code == 200 and r.json() == {"live": True}
        assert c.get("/pub/job/adder/0.0.1/health").status_code == 200


def test_revoked_token_stops_working_within_the_ttl(world):
    ttl = world.config.auth_cache_ttl
    with world.client(headers={"X-Racetrack-Auth": ALICE}) as c:
        assert c.post(PERFORM, json={"numbers": [1]}).status_code == 200
        assert c.post(PERFORM, json={"numbers": [1]}).status_code == 200  # from the cache
        world.lifecycle.tokens[ALICE].revoked = True
        revoked_at = time.monotonic()
        deadline = revoked_at + ttl + 2.0  # bounded: the TTL plus a generous scheduling margin
        while True:
            r = c.post(PERFORM, json={"numbers": [1]})
            if r.status_code == 401:
                break
            assert r.status_code == 200
            assert time.monotonic() < deadline, "revoked token still accepted past the cache TTL"
            time.sleep(0.02)
        refused_after = time.monotonic() - revoked_at
    assert r.json()["error"] == "Proxy request error: Unauthenticated: given access token has been revoked"
    assert refused_after <= ttl + 0.5


def test_decisions_are_cached_for_the_ttl(world):
    with world.client(headers={"X-Racetrack-Auth": ALICE}) as c:
        for _ in range(20):
            assert c.post(PERFORM, json={"numbers": [1]}).status_code == 200
    asked = [p for p in world.lifecycle.calls if p == "adder/0.0.1/api/v1/perform"]
    assert 1 <= len(asked) <= 3  # 20 calls within a 0.5 s TTL need about one question
    metrics = world.client().get("/metrics").text
    assert "pub_lifecycle_cache_retrieved_responses_total" in metrics


def test_cached_permission_is_reused_only_while_the_lifecycle_is_down(world):
    with world.client(headers={"X-Racetrack-Auth": ALICE}) as c:
        assert c.post(PERFORM, json={"numbers": [1]}).status_code == 200
        world.lifecycle.down = True
        time.sleep(world.config.auth_cache_ttl + 0.1)
        r = c.post(PERFORM, json={"numbers": [1]})
        assert r.status_code == 200  # stale permission reused: the lifecycle cannot be reached
        r = c.post(PERFORM, json={"numbers": [1]}, headers={"X-Racetrack-Auth": BOB})
        assert r.status_code == 503  # nothing cached for bob: no guess
        assert "cannot check permission" in r.json()["error"]
        world.lifecycle.down = False
        world.lifecycle.tokens[ALICE].revoked = True
        assert c.post(PERFORM, json={"numbers": [1]}).status_code == 401  # a real refusal wins at once


def test_maintenance_mode_is_503(world):
    world.lifecycle.maintenance = True
    with world.client(headers={"X-Racetrack-Auth": ALICE}) as c:
        r = c.post(PERFORM, json={"numbers": [1]})
    assert r.status_code == 503
    assert r.json()["error"] == "Proxy request error: Unavailable: Racetrack is in maintenance mode"
