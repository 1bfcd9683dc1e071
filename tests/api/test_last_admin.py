"""The platform cannot lose its last administrator through the API (the real lifecycle over HTTP)."""

from __future__ import annotations

from tests.api.conftest import Api, World


def test_the_last_administrator_cannot_be_deactivated_or_demoted(live_api: Api, world: World) -> None:
    admin = world.admin_token()
    for change in ({"is_active": False}, {"is_staff": False}, {"is_active": False, "is_staff": False}):
        response = live_api.patch("/users/admin", admin, json=change)
        assert response.status_code == 403, (change, response.text)
        assert "last active staff superuser" in response.json()["error"]
    me = live_api.get("/users/validate_user_auth", admin).json()
    assert me["is_staff"] and me["is_superuser"]


def test_nobody_deactivates_themselves(live_api: Api, world: World) -> None:
    world.user("root2@example.com", staff=True, superuser=True)
    admin = world.admin_token()
    response = live_api.patch("/users/admin", admin, json={"is_active": False})
    assert response.status_code == 403
    assert "may not deactivate their own account" in response.json()["error"]
    staff = world.user("staff@example.com", staff=True)
    response = live_api.patch("/users/staff@example.com", staff, json={"is_active": False})
    assert response.status_code == 403
    assert live_api.get("/users/validate_user_auth", staff).status_code == 200


def test_an_administrator_goes_once_another_one_exists(live_api: Api, world: World) -> None:
    second = world.user("root2@example.com", staff=True, superuser=True)
    admin = world.admin_token()
    assert live_api.patch("/users/root2@example.com", admin, json={"is_staff": False}).status_code == 200
    # root2 is no longer staff: admin is the last active staff superuser again
    assert live_api.patch("/users/admin", second, json={"is_active": False}).status_code == 403
    assert live_api.patch("/users/root2@example.com", admin, json={"is_staff": True}).status_code == 200
    response = live_api.patch("/users/admin", second, json={"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert live_api.get("/users/validate_user_auth", admin).status_code == 401
