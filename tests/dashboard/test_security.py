"""Every form refuses a request without its CSRF token; every staff page refuses non-staff users."""

from __future__ import annotations

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from api.dashboard import create_app
from tests.dashboard.conftest import csrf_of, make_client

PARAMS = {
    "name": "adder",
    "version": "0.0.1",
    "family": "adder",
    "username": "bob@example.com",
    "deployment_id": "dep-1",
    "esc_id": "esc-1",
    "token_id": "tok-1",
    "permission_id": "perm-1",
}


def _routes(settings, params: dict[str, str] | None = None) -> list[tuple[str, str, Route]]:
    """(method, path with sample parameters, route) for every route of the dashboard."""
    params = {**PARAMS, **(params or {})}
    app = create_app(settings)
    found = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes or [], prefix + route.path)
            elif isinstance(route, Route):
                path = prefix + route.path
                for key, value in params.items():
                    path = path.replace("{" + key + "}", value)
                assert "{" not in path, f"add a sample value for {path}"
                for method in sorted(route.methods or ()):
                    if method != "HEAD":
                        found.append((method, path, route))

    walk(app.routes, "")
    return found


def post_routes(settings):
    return [(path, route) for method, path, route in _routes(settings) if method == "POST"]


def test_every_post_route_is_declared_csrf_protected(settings) -> None:
    posts = post_routes(settings)
    assert len(posts) >= 20
    for path, route in posts:
        assert getattr(route.endpoint, "csrf_protected", False), f"POST {path} is not CSRF-protected"


@pytest.mark.parametrize("variant", ["missing", "forged", "other-browser"])
def test_every_form_refuses_a_post_without_its_csrf_token(settings, lifecycle, staff_client, variant) -> None:
    other_token = None
    if variant == "other-browser":
        with make_client(settings, lifecycle) as other:
            other_token = csrf_of(other)
    before = len(lifecycle.calls)
    for path, _route in post_routes(settings):
        data = {"username": "admin", "password": "admin-password-1", "action": "activate", "name": "x"}
        if variant == "forged":
            data["csrf_token"] = "forged-value"
        elif variant == "other-browser":
            data["csrf_token"] = other_token
        response = staff_client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, f"POST {path} ({variant}) answered {response.status_code}"
        assert "CSRF" in response.text
    mutations = [c for c in lifecycle.calls[before:] if not c.startswith("GET ")]
    assert mutations == [], "a refused form still reached the lifecycle"


def test_a_post_without_the_csrf_cookie_is_refused_even_with_a_token(client) -> None:
    token = csrf_of(client)
    client.cookies.clear()
    response = client.post(
        "/dashboard/login", data={"username": "admin", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 403


def test_csrf_cookie_is_httponly_and_strict(client: TestClient) -> None:
    response = client.get("/dashboard/login")
    header = response.headers["set-cookie"]
    assert "rt_csrf=" in header and "HttpOnly" in header and "samesite=strict" in header.lower()


def _staff_pages(settings, params: dict[str, str] | None = None):
    return [(m, p) for m, p, _r in _routes(settings, params) if p.startswith("/dashboard/staff/")]


def test_every_staff_route_is_declared_staff_only(settings) -> None:
    for method, path, route in _routes(settings):
        if path.startswith("/dashboard/staff/"):
            assert getattr(route.endpoint, "staff_only", False), f"{method} {path} is not staff-only"


def test_every_staff_page_refuses_a_non_staff_user(settings, lifecycle, user_client) -> None:
    pages = _staff_pages(settings)
    assert len([p for p in pages if p[0] == "GET"]) >= 7
    token = csrf_of(user_client, "/dashboard/profile")
    before = len(lifecycle.calls)
    for method, path in pages:
        data = {
            "csrf_token": token,
            "action": "activate",
            "scope": "call_job",
            "name": "x",
            "source": "a",
            "target": "b",
            "job_family": "adder",
            "enabled": "true",
        }
        if method == "GET":
            response = user_client.get(path, follow_redirects=False)
        else:
            response = user_client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, (
            f"{method} {path} answered {response.status_code} to a non-staff user"
        )
        assert "not a staff member" in response.text
    asked = [c for c in lifecycle.calls[before:] if c != "GET /users/validate_user_auth"]
    assert asked == [], "the dashboard asked the lifecycle for staff data on behalf of a non-staff user"


def test_staff_pages_send_anonymous_visitors_to_login(settings, client) -> None:
    for method, path in _staff_pages(settings):
        if method == "GET":
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/dashboard/login?next=")


def test_every_staff_page_opens_for_staff(settings, lifecycle, staff_client) -> None:
    esc_id = lifecycle.create_esc("billing")
    lifecycle.add_user("bob@example.com", "bob-password-1", active=False)
    for method, path in _staff_pages(settings, {"esc_id": esc_id}):
        if method == "GET":
            response = staff_client.get(path)
            assert response.status_code == 200, f"{path}: {response.status_code} {response.text[-600:]}"


def test_pages_carry_security_headers(client: TestClient) -> None:
    headers = client.get("/dashboard/login").headers
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
