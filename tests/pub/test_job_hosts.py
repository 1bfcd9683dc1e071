"""Each job's pages come from an origin of their own, <job>.jobs.localhost:<pub port>, where a browser
authenticates with a session cookie for that host only; pub's own host takes no cookie at all.

The real lifecycle (SQLite, uvicorn), the real gateway binary, the real dashboard (uvicorn): the
attacks of a hostile job page (use the viewer's cookie for a POST, plant the platform's cookies,
reuse a ticket, carry a session to another job) and the way a user's browser gets in, step by step.
Python cannot resolve *.localhost here (browsers and curl do), so the test's browser connects to
127.0.0.1 and names the host in `Host`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.cookies import SimpleCookie
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from api.auth import passwords as password_module
from api.dashboard import create_app as create_dashboard
from api.lifecycle import create_app as create_lifecycle
from api.pub import PubConfig, SidecarTarget
from api.settings import Settings
from tests.api.conftest import World

from .jobs import JobWorld
from .servers import GatewayServer, ServerThread, free_port

PLATFORM_COOKIES = [
    "X-Racetrack-Auth",
    "__Host-X-Racetrack-Auth",
    "rt_session",
    "__Host-rt_session",
    "rt_csrf",
    "__Host-rt_csrf",
    "rt_flash",
    "rt_job_session",
    "__Host-rt_job_session",
]


class Browser:
    """Just enough of a browser: cookies kept per host (ports do not separate them, as in browsers),
    redirects followed, Sec-Fetch-* and Origin sent the way Chromium sends them."""

    def __init__(self, pub_port: int) -> None:
        self.pub_port = pub_port
        self.jar: dict[str, dict[str, str]] = {}
        self.http = httpx.Client(trust_env=False, timeout=15)

    def close(self) -> None:
        self.http.close()

    def cookies(self, url: str) -> dict[str, str]:
        return self.jar.setdefault(urlsplit(url).hostname or "", {})

    def send(self, method: str, url: str, *, page: str | None = None, **kwargs) -> httpx.Response:
        """One request, as the page at `page` (None: the address bar) would make it."""
        parts = urlsplit(url)
        headers = dict(kwargs.pop("headers", {}))
        if page is None:
            headers.update(
                {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
            )
        else:
            own = urlsplit(page)
            same_origin = (own.scheme, own.netloc) == (parts.scheme, parts.netloc)
            same_site = (own.hostname or "").split(".")[-2:] == (parts.hostname or "").split(".")[-2:]
            site = "same-origin" if same_origin else "same-site" if same_site else "cross-site"
            headers.setdefault("Sec-Fetch-Site", site)
            headers.setdefault("Sec-Fetch-Mode", "cors")
            headers.setdefault("Sec-Fetch-Dest", "empty")
            if method not in ("GET", "HEAD"):
                headers["Origin"] = f"{own.scheme}://{own.netloc}"
        jar = self.cookies(url)
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        target = url
        if (parts.hostname or "").endswith(".localhost"):
            headers["Host"] = parts.netloc
            target = url.replace(parts.netloc, f"127.0.0.1:{parts.port}", 1)
        response = self.http.request(method, target, headers=headers, follow_redirects=False, **kwargs)
        for line in response.headers.get_list("set-cookie"):
            cookie = SimpleCookie()
            cookie.load(line)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0":
                    jar.pop(name, None)
                else:
                    jar[name] = morsel.value
        return response

    def open(self, url: str) -> tuple[httpx.Response, list[str]]:
        """A page load from the address bar, redirects followed: the last answer and the URLs on the way."""
        seen = [url]
        response = self.send("GET", url)
        while response.status_code in (301, 302, 303, 307, 308):
            url = urljoin(url, response.headers["location"])
            seen.append(url)
            response = self.send("GET", url)
        return response, seen


@dataclass
class Site:
    world: World
    lifecycle: ServerThread
    pub: GatewayServer
    dashboard: ServerThread
    jobs: JobWorld
    job_server: ServerThread
    alice: str
    admin: str

    def job_host(self, name: str = "adder") -> str:
        return f"http://{name}.jobs.localhost:{self.pub.port}"

    @property
    def api(self) -> str:
        return f"{self.lifecycle.url}/lifecycle/api/v1"

    def ticket(self, path: str, token: str | None = None, name: str = "adder") -> str:
        answer = httpx.post(
            f"{self.api}/auth/job-session/ticket",
            json={"job_name": name, "path": path},
            headers={"X-Racetrack-Auth": token or self.alice},
            trust_env=False,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["url"])


@pytest.fixture
def site(tmp_path, monkeypatch) -> Iterator[Site]:
    monkeypatch.setattr(password_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    pub_port, dashboard_port = free_port(), free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        database_url=f"sqlite:///{tmp_path / 'racetrack.db'}",
        admin_password=SecretStr("admin-password-for-tests"),
        pub_url=f"http://127.0.0.1:{pub_port}/pub",
        dashboard_url=f"http://127.0.0.1:{dashboard_port}/dashboard",
    )
    app = create_lifecycle(settings)
    lifecycle = ServerThread(app).start()
    settings = settings.model_copy(update={"lifecycle_url": f"{lifecycle.url}/lifecycle"})
    app.state.settings = settings
    jobs = JobWorld()
    job_server = ServerThread(jobs.app()).start()
    world = World(app)
    world.job("adder", "1.0.0", internal_name=job_server.address)
    world.job("python-chain", "0.1.0", internal_name=job_server.address)
    alice = world.user("alice@example.com")
    pub = GatewayServer(PubConfig.from_settings(settings), port=pub_port)
    dashboard = ServerThread(create_dashboard(settings), port=dashboard_port).start()
    try:
        yield Site(world, lifecycle, pub, dashboard, jobs, job_server, alice, world.admin_token())
    finally:
        dashboard.stop()
        pub.stop()
        job_server.stop()
        lifecycle.stop()
        app.state.db_engine.dispose()


@pytest.fixture
def browser(site: Site) -> Iterator[Browser]:
    b = Browser(site.pub.port)
    yield b
    b.close()


def test_the_dashboards_swagger_link_opens_the_job_on_its_own_host(site: Site, browser: Browser) -> None:
    """A logged-in user clicks "Swagger page": dashboard, ticket, session cookie on the job's host, page."""
    browser.cookies(site.dashboard.url)["rt_session"] = site.alice  # what logging into the dashboard leaves
    page, steps = browser.open(
        f"{site.dashboard.url}/dashboard/open/adder?path=/pub/job/adder/1.0.0/echo/docs"
    )
    assert page.status_code == 200, page.text
    assert steps[1].startswith(f"{site.job_host()}/.racetrack/open?ticket=")
    assert steps[-1] == f"{site.job_host()}/pub/job/adder/1.0.0/echo/docs"  # no ticket left in the URL
    assert "rt_job_session" in browser.cookies(site.job_host())
    seen = page.json()
    assert seen["headers"]["x-caller-name"] == "User alice@example.com"
    assert "cookie" not in seen["headers"], "the session cookie reached the job"
    # The job's own page calls the job, as Swagger UI's "Execute" does.
    own_page = f"{site.job_host()}/pub/job/adder/1.0.0/docs"
    answer = browser.send(
        "POST",
        f"{site.job_host()}/pub/job/adder/1.0.0/api/v1/perform",
        page=own_page,
        json={"numbers": [40, 2]},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == 42


def test_a_browser_without_a_session_goes_through_the_dashboard_and_comes_back(
    site: Site, browser: Browser
) -> None:
    # The pub URL the CLI prints, opened in a browser: first the job's host, then the dashboard's login.
    page, steps = browser.open(f"{site.pub.url}/pub/job/adder/1.0.0/echo/x?a=1")
    assert steps[1] == f"{site.job_host()}/pub/job/adder/1.0.0/echo/x?a=1"
    assert steps[2].startswith(f"{site.dashboard.url}/dashboard/open/adder?path=")
    assert "/dashboard/login?next=" in steps[-1] and page.status_code == 200
    browser.cookies(site.dashboard.url)["rt_session"] = site.alice  # the user logs in
    page, steps = browser.open(f"{site.pub.url}/pub/job/adder/1.0.0/echo/x?a=1")
    assert page.status_code == 200, page.text
    assert steps[-1] == f"{site.job_host()}/pub/job/adder/1.0.0/echo/x?a=1"
    assert page.json()["query"] == "a=1"


def test_pubs_own_host_takes_no_cookie_and_serves_only_sandboxed_content(
    site: Site, browser: Browser
) -> None:
    """The path form is for callers with X-Racetrack-Auth. A page elsewhere making the browser POST to
    it with the viewer's cookies (dashboard, lifecycle login, a job session) gets nothing."""
    hostile = f"{site.job_host('python-chain')}/pub/job/python-chain/0.1.0/page"
    browser.cookies(site.pub.url).update({name: site.alice for name in PLATFORM_COOKIES})
    answer = browser.send(
        "POST", f"{site.pub.url}/pub/job/adder/1.0.0/api/v1/perform", page=hostile, json={"numbers": [1]}
    )
    assert answer.status_code == 401, answer.text
    assert "not logged in" in answer.json()["error"]
    with_token = httpx.post(
        f"{site.pub.url}/pub/job/adder/1.0.0/echo/x",
        headers={
            "X-Racetrack-Auth": site.alice,
            "Cookie": "; ".join(f"{n}=v" for n in PLATFORM_COOKIES) + "; theme=dark",
        },
        trust_env=False,
    )
    assert with_token.status_code == 200
    assert with_token.json()["headers"]["cookie"] == "theme=dark"  # the job's own cookies still pass
    assert with_token.headers["content-security-policy"] == "sandbox"


def test_a_job_cannot_plant_the_platforms_cookies(site: Site) -> None:
    names = "&".join(f"name={n}" for n in PLATFORM_COOKIES) + "&name=job_own"
    answer = httpx.get(
        f"{site.pub.url}/pub/job/adder/1.0.0/cookies?{names}",
        headers={"X-Racetrack-Auth": site.alice},
        trust_env=False,
    )
    assert answer.status_code == 200
    assert [c.split("=")[0] for c in answer.headers.get_list("set-cookie")] == ["job_own"]


def test_the_session_works_only_on_its_jobs_host_from_its_own_pages(site: Site, browser: Browser) -> None:
    ticket = site.ticket("/pub/job/adder/1.0.0/echo/x")
    first = browser.send("GET", ticket)
    assert first.status_code == 303
    session = browser.cookies(site.job_host())["rt_job_session"]
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Domain" not in cookie
    # One use only.
    again = Browser(site.pub.port)
    reused = again.send("GET", ticket)
    again.close()
    assert reused.status_code == 401 and "used already" in reused.json()["error"]
    perform = f"{site.job_host()}/pub/job/adder/1.0.0/api/v1/perform"
    # Another job's page (same site, another origin) makes the browser POST with the session: refused.
    hostile = f"{site.job_host('python-chain')}/pub/job/python-chain/0.1.0/page"
    answer = browser.send("POST", perform, page=hostile, json={"numbers": [1]})
    assert answer.status_code == 403 and "Origin" in answer.json()["error"]
    answer = browser.send("GET", f"{site.job_host()}/pub/job/adder/1.0.0/echo/x", page=hostile)
    assert answer.status_code == 403
    # Carried to another job's host (a browser would not send it there), it is worth nothing.
    other = httpx.get(
        f"http://127.0.0.1:{site.pub.port}/pub/job/python-chain/0.1.0/echo/x",
        headers={
            "Host": f"python-chain.jobs.localhost:{site.pub.port}",
            "Cookie": f"rt_job_session={session}",
        },
        trust_env=False,
    )
    assert other.status_code == 401 and "for job adder" in other.text
    # On its own host the job's other paths are there; nothing else is.
    elsewhere = browser.send("GET", f"{site.job_host()}/pub/job/python-chain/0.1.0/echo/x", page=perform)
    assert elsewhere.status_code == 404
    assert browser.send("GET", f"{site.job_host()}/pub/async/task/x/poll", page=perform).status_code == 404


def test_a_session_ends_with_the_token_behind_it(site: Site, browser: Browser) -> None:
    browser.send("GET", site.ticket("/pub/job/adder/1.0.0/echo/x"))
    url = f"{site.job_host()}/pub/job/adder/1.0.0/echo/x"
    own = f"{site.job_host()}/pub/job/adder/1.0.0/docs"
    assert browser.send("GET", url, page=own).status_code == 200
    regenerated = httpx.post(
        f"{site.api}/auth/token/user/regenerate", headers={"X-Racetrack-Auth": site.alice}, trust_env=False
    )
    assert regenerated.status_code == 200
    deadline = time.monotonic() + 10 + 5  # pub's cache time, and some slack
    while (answer := browser.send("GET", url, page=own)).status_code == 200:
        assert time.monotonic() < deadline, "the session outlived its token"
        time.sleep(0.2)
    assert answer.status_code == 401 and "revoked" in answer.json()["error"]


def test_tickets_are_for_users_and_for_pages_of_the_named_job(site: Site) -> None:
    for path in (
        "/pub/job/python-chain/0.1.0/x",
        "/pub/job/adder/1.0.0/../../python-chain/0.1.0/x",
        "//evil.example/x",
    ):
        answer = httpx.post(
            f"{site.api}/auth/job-session/ticket",
            json={"job_name": "adder", "path": path},
            headers={"X-Racetrack-Auth": site.alice},
            trust_env=False,
        )
        assert answer.status_code == 400, (path, answer.text)
    family = site.world.family_token("python-chain")
    answer = httpx.post(
        f"{site.api}/auth/job-session/ticket",
        json={"job_name": "adder", "path": "/pub/job/adder/1.0.0/x"},
        headers={"X-Racetrack-Auth": family},
        trust_env=False,
    )
    assert answer.status_code == 403
    # Redemption is pub's: without the internal token a ticket gives nothing.
    ticket = site.ticket("/pub/job/adder/1.0.0/x").split("ticket=", 1)[1]
    answer = httpx.post(
        f"{site.api}/auth/job-session/redeem", json={"ticket": ticket, "job_name": "adder"}, trust_env=False
    )
    assert answer.status_code == 401


def test_the_sidecar_serves_its_jobs_host_too(site: Site) -> None:
    config = replace(
        PubConfig.from_settings(site.world.settings),
        sidecar=SidecarTarget(address=site.job_server.address, job_name="adder", job_version=None),
    )
    sidecar = GatewayServer(config)
    try:
        browser = Browser(sidecar.port)
        ticket = site.ticket("/pub/job/adder/1.0.0/echo/x").replace(f":{site.pub.port}/", f":{sidecar.port}/")
        page, steps = browser.open(ticket)
        browser.close()
        assert steps[-1] == f"http://adder.jobs.localhost:{sidecar.port}/pub/job/adder/1.0.0/echo/x"
        assert page.status_code == 200, page.text
    finally:
        sidecar.stop()


def test_an_async_result_is_served_sandboxed_and_cannot_plant_cookies(site: Site) -> None:
    """A task's result replays the job's answer on pub's own host: it gets the same treatment."""
    with httpx.Client(base_url=site.pub.url, trust_env=False, timeout=15) as client:
        created = client.get(
            "/pub/async/new/job/adder/1.0.0/cookies?name=__Host-rt_session&name=job_own",
            headers={"X-Racetrack-Auth": site.alice},
        )
        assert created.status_code == 201, created.text
        task = created.json()["task_id"]
        deadline = time.monotonic() + 20
        alice = {"X-Racetrack-Auth": site.alice}  # a result is its caller's to read
        while (result := client.get(f"/pub/async/task/{task}/poll", headers=alice)).status_code == 202:
            assert time.monotonic() < deadline
    assert result.status_code == 200, result.text
    assert result.json() == {"set": ["__Host-rt_session", "job_own"]}
    assert [c.split("=")[0] for c in result.headers.get_list("set-cookie")] == ["job_own"]
    assert "sandbox" in result.headers.get_list("content-security-policy")
