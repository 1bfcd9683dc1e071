"""The dashboard's pages against the real lifecycle, in-process (the fake only where backends.py says)."""

from __future__ import annotations

import io
import re
import zipfile

import httpx
from starlette.testclient import TestClient

from api.dashboard import create_app
from tests.dashboard.conftest import ADMIN, LIFECYCLE_URL, csrf_of, login, make_client


def _plugin_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "plugin-manifest.yaml", "name: python3-job-type\nversion: 2.15.1\ncategory: job-type\n"
        )
        archive.writestr("plugin.py", "class Plugin:\n    pass\n")
    return buffer.getvalue()


def _manifest(name: str) -> dict[str, object]:
    return {
        "name": name,
        "owner_email": "alice@example.com",
        "jobtype": "python3:latest",
        "git": {"remote": "https://github.com/TheRacetrack/racetrack"},
    }


def _flashes(page: httpx.Response) -> list[str]:
    return re.findall(r'class="(?:flash|error)[^>]*>([^<]*)', page.text)


def register(client: TestClient, username: str, password: str, confirm: str | None = None) -> httpx.Response:
    token = csrf_of(client, "/dashboard/register")
    data = {
        "username": username,
        "password": password,
        "password_confirm": confirm or password,
        "csrf_token": token,
    }
    return client.post("/dashboard/register", data=data)


def test_root_and_home_lead_to_login_when_anonymous(client: TestClient) -> None:
    response = client.get("/", follow_redirects=True)
    assert response.url.path == "/dashboard/login"
    assert "Log in" in response.text


def test_register_explains_each_password_rule_as_the_lifecycle_reports_it(client: TestClient) -> None:
    assert "The username must be your email" in register(client, "alice", "good-password-1").text
    assert "The two passwords differ" in register(client, "a@example.com", "good-password-1", "other").text
    short = register(client, "a@example.com", "short")
    assert short.status_code == 400 and "password: too short (accepted: at least 8 characters)" in short.text
    assert "password: only digits" in register(client, "a@example.com", "1234567890").text
    assert "password: too common" in register(client, "a@example.com", "password1").text
    done = register(client, "a@example.com", "good-password-1")
    assert done.status_code == 200 and "Wait till a Racetrack admin activates your account" in done.text
    assert "already exists" in register(client, "a@example.com", "good-password-1").text


def test_login_is_refused_while_inactive_and_tells_to_wait(client: TestClient, lifecycle) -> None:
    lifecycle.add_user("bob@example.com", "bob-password-1", active=False)
    response = login(client, "bob@example.com", "bob-password-1")
    assert response.status_code == 401
    assert "wait till a Racetrack admin activates" in response.text
    assert "rt_session" not in response.headers.get("set-cookie", "")
    assert "wrong username or password" in login(client, "bob@example.com", "nope-nope-1").text


def test_login_sets_the_session_cookie_for_the_dashboard_only(client: TestClient) -> None:
    response = login(client, *ADMIN)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/jobs"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("rt_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_when_configured(settings, lifecycle) -> None:
    settings = settings.model_copy(update={"secure_cookie": True})
    app = create_app(settings, transport=lifecycle.transport())
    with TestClient(app, base_url="https://127.0.0.1:7003") as client:
        response = login(client, *ADMIN)
        cookies = response.headers.get_list("set-cookie")
        cookie = next(c for c in cookies if c.startswith("__Host-rt_session="))
        assert "Secure" in cookie and "Path=/;" in cookie and "Domain" not in cookie


def test_login_follows_next_only_within_the_dashboard(client: TestClient) -> None:
    token = csrf_of(client)
    data = {"username": ADMIN[0], "password": ADMIN[1], "csrf_token": token, "next": "https://evil.example/"}
    assert (
        client.post("/dashboard/login", data=data, follow_redirects=False).headers["location"]
        == "/dashboard/jobs"
    )
    data["next"] = "/dashboard/activity"
    data["csrf_token"] = csrf_of(client, "/dashboard/profile")  # the token belongs to the new session
    assert (
        client.post("/dashboard/login", data=data, follow_redirects=False).headers["location"]
        == "/dashboard/activity"
    )


def test_profile_shows_token_and_ready_login_command(user_client: TestClient, lifecycle) -> None:
    page = user_client.get("/dashboard/profile").text
    token = lifecycle.primary_token("alice@example.com")
    assert token in page
    assert f"racetrack login {token} --remote {LIFECYCLE_URL}" in page
    assert 'data-copy="login-command"' in page


def test_regenerate_token_moves_the_session_to_the_new_token(user_client: TestClient, lifecycle) -> None:
    old = lifecycle.primary_token("alice@example.com")
    csrf = csrf_of(user_client, "/dashboard/profile")
    page = user_client.post("/dashboard/profile/token", data={"csrf_token": csrf})
    new = lifecycle.primary_token("alice@example.com")
    assert new != old and new in page.text and "A new token was generated" in page.text


def test_change_password(user_client: TestClient, lifecycle) -> None:
    csrf = csrf_of(user_client, "/dashboard/profile")
    data = {
        "csrf_token": csrf,
        "old_password": "wrong",
        "new_password": "x-password-2",
        "new_password_confirm": "x-password-2",
    }
    assert "old password is wrong" in user_client.post("/dashboard/profile/password", data=data).text
    data["old_password"] = "alice-password-1"
    old = lifecycle.primary_token("alice@example.com")
    page = user_client.post("/dashboard/profile/password", data=data)
    # the lifecycle revoked the old token: the session goes on with the new one
    assert "Your password was changed" in page.text and old not in page.text
    assert lifecycle.primary_token("alice@example.com") in page.text
    assert lifecycle.token_of("alice@example.com", "x-password-2")  # the new password logs in


def test_logout_clears_the_session(user_client: TestClient) -> None:
    csrf = csrf_of(user_client, "/dashboard/profile")
    response = user_client.post("/dashboard/logout", data={"csrf_token": csrf})
    assert response.url.path == "/dashboard/login" and "You are logged out" in response.text
    assert user_client.get("/dashboard/jobs", follow_redirects=False).status_code == 303


def test_jobs_are_grouped_by_family_with_status_and_filters(user_client: TestClient, lifecycle) -> None:
    lifecycle.job("adder", "0.0.1", by="alice@example.com")
    lifecycle.job("adder", "0.0.2", by="alice@example.com", status="error")
    lifecycle.job("chain", "1.0.0", by="bob@example.com", owner="bob@example.com")
    page = user_client.get("/dashboard/jobs").text
    assert page.index('id="family-adder"') < page.index('id="family-chain"')
    assert page.index('data-job="adder/0.0.2"') < page.index('data-job="adder/0.0.1"')
    assert 'class="status status-error">error' in page
    filtered = user_client.get("/dashboard/jobs/table", params={"owner": "bob@"}).text
    assert "chain" in filtered and "adder" not in filtered
    by_status = user_client.get("/dashboard/jobs/table", params={"status": "error"}).text
    assert 'data-job="adder/0.0.2"' in by_status and 'data-job="adder/0.0.1"' not in by_status
    assert 'data-live="/dashboard/jobs/table' in page


def test_job_page_shows_details_links_and_manifest(user_client: TestClient, lifecycle) -> None:
    lifecycle.job("adder", "0.0.1", by="alice@example.com")
    page = user_client.get("/dashboard/jobs/adder/0.0.1").text
    assert "/pub/job/adder/0.0.1/" in page  # the address for API callers
    # The Swagger page opens on the job's own host, through the dashboard (a one-time ticket).
    assert 'href="/dashboard/open/adder?path=%2Fpub%2Fjob%2Fadder%2F0.0.1%2Fdocs"' in page
    assert "owner_email: owner@example.com" in page
    assert "python3:3.11" in page and "docker" in page and "alice@example.com" in page
    missing = user_client.get("/dashboard/jobs/adder/9.9.9")
    assert missing.status_code == 404 and "not found" in missing.text


def test_job_runtime_and_build_logs(user_client: TestClient, fake) -> None:
    """Fake lifecycle: its logs come from the deploy engine (a container and a build)."""
    fake.deploy_job("adder", "0.0.1", by="alice@example.com")
    assert "serving on :7000" in user_client.get("/dashboard/jobs/adder/0.0.1/logs").text
    assert "FROM racetrack/base-python" in user_client.get("/dashboard/jobs/adder/0.0.1/logs?kind=build").text


def test_job_error_and_notice_are_shown_escaped(user_client: TestClient, lifecycle) -> None:
    lifecycle.job(
        "adder",
        "0.0.1",
        by="alice@example.com",
        status="error",
        error="<script>alert(1)</script> crashed on start",
        notice="the image is <b>old</b>",
    )
    page = user_client.get("/dashboard/jobs/adder/0.0.1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; crashed on start" in page and "<script>alert" not in page
    assert "the image is &lt;b&gt;old&lt;/b&gt;" in page
    assert 'class="status status-error"' in page


def test_delete_needs_the_name_typed(user_client: TestClient, lifecycle) -> None:
    lifecycle.job("adder", "0.0.1", by="alice@example.com")
    csrf = csrf_of(user_client, "/dashboard/jobs/adder/0.0.1/delete")
    wrong = user_client.post(
        "/dashboard/jobs/adder/0.0.1/delete", data={"csrf_token": csrf, "confirm_name": "x"}
    )
    assert wrong.status_code == 400 and "adder" in user_client.get("/dashboard/jobs").text
    done = user_client.post(
        "/dashboard/jobs/adder/0.0.1/delete", data={"csrf_token": csrf, "confirm_name": "adder"}
    )
    assert "was deleted" in done.text, _flashes(done)


def test_redeploy_after_confirmation_opens_the_deployment(user_client: TestClient, lifecycle) -> None:
    lifecycle.job("adder", "0.0.1", by="alice@example.com")
    assert "Yes, redeploy" in user_client.get("/dashboard/jobs/adder/0.0.1/redeploy").text
    csrf = csrf_of(user_client, "/dashboard/jobs/adder/0.0.1/redeploy")
    page = user_client.post("/dashboard/jobs/adder/0.0.1/redeploy", data={"csrf_token": csrf})
    assert (
        page.url.path.startswith("/dashboard/deployments/") and "Redeploy of adder 0.0.1 started" in page.text
    )


def test_history_shows_diffs_and_rollback_previews_before_confirming(user_client: TestClient, fake) -> None:
    """Fake lifecycle: revisions, their diffs and a rollback's plan come from the deploy engine and Pulumi."""
    fake.deploy_job("adder", "0.0.1", by="alice@example.com")
    fake.deploy_job("adder", "0.0.2", by="alice@example.com")
    history = user_client.get("/dashboard/families/adder/history").text
    assert "Revision 2" in history and "current" in history
    assert '<span class="add">+- 0.0.2</span>' in history
    assert "Preview rollback to revision 1" in history and "Preview rollback to revision 2" not in history

    csrf = csrf_of(user_client, "/dashboard/families/adder/history")
    preview = user_client.post(
        "/dashboard/families/adder/rollback/preview", data={"csrf_token": csrf, "to_revision": "1"}
    )
    assert "1 to delete" in preview.text and "adder-0.0.2" in preview.text
    assert set(fake.state.families["adder"]) == {"0.0.1", "0.0.2"}, "a preview changed nothing"
    form = re.search(r'action="(/dashboard/families/adder/rollback)"', preview.text)
    assert form and 'name="to_revision" value="1"' in preview.text

    done = user_client.post(form.group(1), data={"csrf_token": csrf, "to_revision": "1"})
    assert "Rollback of adder to revision 1 started" in done.text
    assert set(fake.state.families["adder"]) == {"0.0.1"}
    assert "Revision 3" in user_client.get("/dashboard/families/adder/history").text


def test_deployments_and_activity(user_client: TestClient, lifecycle) -> None:
    lifecycle.add_user("bob@example.com", "bob-password-1", active=True)
    adder = lifecycle.deploy(_manifest("adder"), as_user=("alice@example.com", "alice-password-1"))
    lifecycle.deploy(_manifest("chain"), as_user=("bob@example.com", "bob-password-1"))
    lifecycle.took(adder["id"], seconds=12)
    deployments = user_client.get("/dashboard/deployments").text
    assert "adder 0.0.1" in deployments and "12 s" in deployments
    activity = user_client.get("/dashboard/activity", params={"job_name": "adder"}).text
    assert "adder 0.0.1" in activity and "chain 0.0.1" not in activity
    # Bob's job is none of Alice's business.
    assert "No events" in user_client.get("/dashboard/activity", params={"job_name": "chain"}).text
    mine = user_client.get("/dashboard/activity", params={"related_to_me": "on"}).text
    assert "adder 0.0.1" in mine and "chain 0.0.1" not in mine


def test_staff_activates_users_and_manages_permissions(staff_client: TestClient, lifecycle) -> None:
    lifecycle.add_user("bob@example.com", "bob-password-1", active=False)
    lifecycle.job("adder", "0.0.1", by="admin")
    lifecycle.job("chain", "1.0.0", by="admin")
    users = staff_client.get("/dashboard/staff/users").text
    assert "1 account(s) wait for activation" in users
    csrf = csrf_of(staff_client, "/dashboard/staff/users")
    page = staff_client.post(
        "/dashboard/staff/users/bob@example.com", data={"csrf_token": csrf, "action": "activate"}
    )
    assert "User bob@example.com activated" in page.text and lifecycle.user("bob@example.com")["is_active"]
    staff_client.post(
        "/dashboard/staff/users/bob@example.com", data={"csrf_token": csrf, "action": "make_staff"}
    )
    assert lifecycle.user("bob@example.com")["is_staff"]

    grant = {"csrf_token": csrf, "scope": "delete_job", "job_family": "adder"}
    page = staff_client.post("/dashboard/staff/users/bob@example.com/permissions", data=grant)
    assert "Permission granted" in page.text and "delete_job" in page.text, _flashes(page)
    bad = staff_client.post(
        "/dashboard/staff/users/bob@example.com/permissions", data={**grant, "scope": "root"}
    )
    assert bad.status_code == 400 and "unknown scope" in bad.text

    page = staff_client.post(
        "/dashboard/staff/permissions",
        data={"csrf_token": csrf, "source": "chain", "target": "adder", "scope": "call_job"},
    )
    assert "Job family chain may now call_job on adder" in page.text
    perm_id = next(p["id"] for p in lifecycle.permissions() if p["subject_name"] == "chain")
    staff_client.post(f"/dashboard/staff/permissions/{perm_id}/revoke", data={"csrf_token": csrf})
    assert perm_id not in [p["id"] for p in lifecycle.permissions()]


def test_staff_manages_escs_plugins_and_maintenance(staff_client: TestClient, lifecycle) -> None:
    csrf = csrf_of(staff_client, "/dashboard/staff/escs")
    page = staff_client.post("/dashboard/staff/escs", data={"csrf_token": csrf, "name": "billing"})
    assert "billing created" in page.text
    (esc,) = lifecycle.escs()
    page = staff_client.post(f"/dashboard/staff/escs/{esc['id']}/tokens", data={"csrf_token": csrf})
    (token,) = lifecycle.esc_tokens(esc["id"])
    assert token["token"] in page.text
    staff_client.post(
        f"/dashboard/staff/escs/{esc['id']}/tokens/{token['id']}/revoke", data={"csrf_token": csrf}
    )
    assert not lifecycle.esc_tokens(esc["id"])[0]["active"]

    files = {"file": ("python3-job-type-2.15.1.zip", _plugin_zip(), "application/zip")}
    page = staff_client.post("/dashboard/staff/plugins", data={"csrf_token": csrf}, files=files)
    assert "uploaded" in page.text and "python3-job-type" in page.text
    broken = {"file": ("broken.zip", b"PK\x03\x04broken", "application/zip")}
    refused = staff_client.post("/dashboard/staff/plugins", data={"csrf_token": csrf}, files=broken)
    # The lifecycle's own refusal (400), shown on the plugins page the browser is sent back to.
    assert refused.url.path == "/dashboard/staff/plugins" and "broken.zip is not a ZIP file" in refused.text
    not_zip = staff_client.post(
        "/dashboard/staff/plugins", data={"csrf_token": csrf}, files={"file": ("x.txt", b"x", "text/plain")}
    )
    assert not_zip.status_code == 400, _flashes(not_zip)
    page = staff_client.post(
        "/dashboard/staff/plugins/python3-job-type/2.15.1/delete", data={"csrf_token": csrf}
    )
    assert "Plugin python3-job-type 2.15.1 deleted" in page.text

    assert "Maintenance mode is <strong>off" in staff_client.get("/dashboard/staff/maintenance").text
    page = staff_client.post("/dashboard/staff/maintenance", data={"csrf_token": csrf, "enabled": "true"})
    assert "Maintenance mode is <strong>on" in page.text and lifecycle.maintenance_mode()


def test_a_lifecycle_that_cannot_be_reached_gives_a_clear_503(settings) -> None:
    settings = settings.model_copy(update={"lifecycle_url": "http://127.0.0.1:9/lifecycle"})
    with TestClient(create_app(settings), base_url="http://127.0.0.1:7003") as client:
        token = csrf_of(client)
        response = client.post(
            "/dashboard/login", data={"username": "a@b.c", "password": "x", "csrf_token": token}
        )
        assert response.status_code == 503 and "cannot be reached" in response.text


def test_a_revoked_session_goes_back_to_login(user_client: TestClient, lifecycle) -> None:
    lifecycle.revoke_tokens("alice@example.com")
    response = user_client.get("/dashboard/jobs", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login")


def test_onboarding_from_registration_to_a_working_token(settings, lifecycle) -> None:
    """The user guide's path, in-process."""
    with make_client(settings, lifecycle) as visitor, make_client(settings, lifecycle) as staff:
        assert (
            "Wait till a Racetrack admin activates"
            in register(visitor, "dora@example.com", "dora-password-1").text
        )
        refused = login(visitor, "dora@example.com", "dora-password-1")
        assert refused.status_code == 401 and "wait till a Racetrack admin activates" in refused.text

        assert login(staff, *ADMIN).status_code == 303
        csrf = csrf_of(staff, "/dashboard/staff/users")
        page = staff.post(
            "/dashboard/staff/users/dora@example.com", data={"csrf_token": csrf, "action": "activate"}
        )
        assert "User dora@example.com activated" in page.text

        assert login(visitor, "dora@example.com", "dora-password-1").status_code == 303
        profile = visitor.get("/dashboard/profile").text
        command = re.search(r"racetrack login (\S+) --remote (\S+)</code>", profile)
        assert command and command.group(2) == LIFECYCLE_URL
        assert command.group(1) == lifecycle.token_of("dora@example.com", "dora-password-1")
        assert "No jobs" in visitor.get("/dashboard/jobs").text
        assert visitor.get("/dashboard/staff/users").status_code == 403
        assert visitor.get("/dashboard/activity").status_code == 200
        assert visitor.get("/dashboard/deployments").status_code == 200


def test_a_failed_deployment_of_the_real_lifecycle_is_shown_with_its_reason(lifecycle, staff_client) -> None:
    deployment = lifecycle.deploy(_manifest("adder"))
    listing = staff_client.get("/dashboard/deployments").text
    assert "adder 0.0.1" in listing and 'class="status status-failed">failed' in listing
    assert "no deploy engine is configured" in listing
    page = staff_client.get(f"/dashboard/deployments/{deployment['id']}").text
    assert "no deploy engine is configured" in page and "Deploy adder 0.0.1" in page
    activity = staff_client.get("/dashboard/activity", params={"event_type": "deployment_failed"}).text
    assert "adder 0.0.1" in activity
    assert "No jobs" in staff_client.get("/dashboard/jobs").text
