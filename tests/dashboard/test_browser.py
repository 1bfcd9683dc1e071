"""The dashboard in headless Chromium, the way the user guide walks a new user through it.

register → refused login while inactive → staff activates the user → log in → copy the token from
the profile → see a deployed job → open its Swagger page and run perform with the session cookie →
see its history → preview and confirm a rollback → log out. Screenshots of the main pages go to
tests/artifacts/screenshots/. The `stack` fixture decides what runs behind the browser (see
tests/dashboard/browser_stack.py); the steps here do not depend on it.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.dashboard.browser_stack import RealStack, Stack

pytestmark = [pytest.mark.engine, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Flags for this machine's closed network: no background connections that would be refused.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
USER = ("carol@example.com", "carol-password-1")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed by scripts/ensure-chromium.sh when missing."""
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.fail(f"could not install chromium: {result.stderr.strip()}")
    return CHROMIUM


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The platform behind the browser: the real lifecycle, deploy engine, pub and dashboard; jobs on
    Docker."""
    running = RealStack(tmp_path / "data")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def browser(chromium: str) -> Iterator[object]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page, stack: Stack, username: str, password: str) -> None:
    page.goto(f"{stack.dashboard_url}/login")
    page.get_by_label("Username (email)").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_new_user_goes_from_registration_to_rollback(stack: Stack, browser) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=stack.dashboard_url.rsplit("/", 1)[0]
    )
    page = context.new_page()
    page.set_default_timeout(20_000)

    # Register.
    page.goto(f"{stack.dashboard_url}/register")
    page.get_by_label("Username (your email)").fill(USER[0])
    page.get_by_label("Password", exact=True).fill(USER[1])
    page.get_by_label("Password again").fill(USER[1])
    shot(page, "01-register")
    page.get_by_role("button", name="Register").click()
    expect(page.locator("#registered")).to_contain_text("Wait till a Racetrack admin activates your account")

    # Logging in before activation is refused, with the reason.
    log_in(page, stack, *USER)
    expect(page.get_by_role("main")).to_contain_text("wait till a Racetrack admin activates")
    shot(page, "02-login-refused-inactive")

    # Staff activates the account, in a browser of their own.
    staff = browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
    log_in(staff, stack, *stack.admin)
    staff.get_by_role("link", name="Users").click()
    staff.get_by_role("button", name=f"Activate {USER[0]}").click()
    expect(staff.get_by_role("status")).to_contain_text(f"User {USER[0]} activated")
    shot(staff, "03-staff-users")
    for link, name in (
        ("Consumers", "escs"),
        ("Permissions", "permissions"),
        ("Plugins", "plugins"),
        ("Maintenance", "maintenance"),
    ):
        staff.get_by_role("link", name=link, exact=True).click()
        expect(staff.get_by_role("heading", level=1)).to_be_visible()
        shot(staff, f"03-staff-{name}")
    staff.context.close()

    # A job is deployed in two versions, by the user (the deploy itself is the stack's business).
    stack.deploy_job("adder", "0.0.1", as_user=USER[0])
    stack.deploy_job("adder", "0.0.2", as_user=USER[0])

    # Log in with the keyboard only.
    page.goto(f"{stack.dashboard_url}/login")
    expect(page.get_by_label("Username (email)")).to_be_focused()  # autofocus; typing before it loses keys
    page.keyboard.type(USER[0])
    page.keyboard.press("Tab")
    page.keyboard.type(USER[1])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/dashboard/jobs$"))

    # The profile shows the token and the ready `racetrack login` command; copy it.
    page.get_by_role("link", name="Profile").click()
    page.get_by_role("button", name="Copy the racetrack login command").click()
    expect(page.locator(".copy-status")).to_have_text("Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    match = re.fullmatch(r"racetrack login (\S+) --remote (\S+)", copied)
    assert match, copied
    assert match.group(2) == stack.lifecycle_url
    assert stack.token_works(match.group(1))
    shot(page, "04-profile")

    # The jobs list shows the family with its versions and statuses, and updates itself.
    page.get_by_role("link", name="Jobs").click()
    family = page.locator("section.family", has=page.get_by_role("heading", name="adder"))
    expect(family.locator("tr[data-job='adder/0.0.2'] .status")).to_have_text("running")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    stack.deploy_job("chain", "1.0.0", as_user=USER[0])
    expect(page.locator("tr[data-job='chain/1.0.0']")).to_be_visible(timeout=15_000)
    shot(page, "05-jobs")
    page.set_viewport_size({"width": 380, "height": 800})
    shot(page, "05-jobs-narrow")
    page.set_viewport_size({"width": 1200, "height": 800})

    # The job page, then its Swagger page on pub, where perform runs with the session cookie.
    page.get_by_role("link", name="0.0.2").click()
    expect(page.locator("#job-status")).to_have_text("running")
    shot(page, "06-job")
    job_page = page.url
    page.get_by_role("link", name="Swagger page").click()
    expect(page).to_have_url(re.compile(r"/pub/job/adder/0.0.2/"))
    # On the job's own origin, and no ticket left in the address bar.
    assert page.url.startswith("http://adder.jobs.localhost:"), page.url
    page.locator(".opblock-summary", has_text="/api/v1/perform").click()
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()  # the operation opens ready to edit
    page.locator(".opblock-body textarea.body-param__text").fill('{"numbers": [40, 2]}')
    page.get_by_role("button", name="Execute").click()
    answer = page.locator(".live-responses-table tr.response").first
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text("42")
    shot(page, "07-swagger-perform")
    page.goto(job_page)  # Swagger UI records its own steps in the history, so "back" stays on its page

    # History with diffs, a rollback preview, then the confirmed rollback.
    page.get_by_role("link", name="History and rollback").click()
    expect(page.get_by_role("heading", name="Revision 2 current")).to_be_visible()
    shot(page, "08-history")
    page.get_by_role("button", name="Preview rollback to revision 1").click()
    # The preview is a Pulumi run in the background: on a busy machine it takes a while.
    expect(page.locator("#plan-summary")).to_contain_text(re.compile(r"\d+ to delete"), timeout=120_000)
    shot(page, "09-rollback-preview")
    page.get_by_role("button", name="Roll back").click()
    expect(page.get_by_role("status").first).to_contain_text("Rollback of adder to revision 1 started")
    shot(page, "10-rollback-done")
    page.get_by_role("link", name="Jobs").click()
    expect(page.locator("tr[data-job='adder/0.0.1']")).to_be_visible()
    # The rollback runs in the background (a Pulumi update); the list refreshes itself until it is done.
    expect(page.locator("tr[data-job='adder/0.0.2']")).to_have_count(0, timeout=120_000)

    # Deployments and activity record what happened.
    page.get_by_role("link", name="Deployments").click()
    expect(page.locator("table")).to_contain_text("rollback")
    shot(page, "11-deployments")
    page.get_by_role("link", name="Activity").click()
    expect(page.locator("table")).to_contain_text("job_rolled_back")
    shot(page, "12-activity")

    # Log out: the dashboard asks for a login again, and pub no longer gets a session.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out")
    page.goto(f"{stack.dashboard_url}/jobs")
    expect(page).to_have_url(re.compile(r"/dashboard/login\?next="))
    refused = page.request.post(f"{stack.pub_url}/job/adder/0.0.1/api/v1/perform", data={"numbers": [1, 2]})
    assert refused.status == 401
    assert "not logged in" in refused.text()
    context.close()
