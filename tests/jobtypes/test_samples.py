"""Every job in sample/ builds into an image, runs as a container and answers its endpoints."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from .jobs import ROOT, SAMPLES, Built, build_job, job_settings, remove_images, run_job, wait_live, wait_ready

PREFIX = "/pub/job/{name}/1.0.0"


@pytest.fixture(scope="session")
def build_sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Built]]:
    """Builds a sample once per session; images are removed at the end."""
    settings = job_settings(tmp_path_factory.mktemp("data"))
    built: dict[str, Built] = {}

    def build(name: str, **options: Any) -> Built:
        if name not in built:
            built[name] = build_job(SAMPLES / name, settings, tmp_path_factory.mktemp(name), **options)
        return built[name]

    yield build
    for item in built.values():
        remove_images(item)


def _check_common(base: str, name: str, *, perform: bool = True) -> None:
    prefix = PREFIX.format(name=name)
    assert wait_live(base).status_code == 200
    wait_ready(base)
    health = httpx.get(base + prefix + "/health").json()
    assert health["job_name"] == name and health["status"] == "pass"
    docs = httpx.get(base + prefix + "/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    for page in (base + prefix + "/docs", base + "/docs"):
        _check_docs_offline(page)
    spec = httpx.get(base + prefix + "/openapi.json").json()
    assert spec["components"]["securitySchemes"]["RacetrackAuth"]["name"] == "X-Racetrack-Auth"
    assert ("/api/v1/perform" in spec["paths"]) is perform
    assert "requests_started_total" in httpx.get(base + "/metrics").text


class _PageReferences(HTMLParser):
    """The scripts, stylesheets and icons a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.others: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"] or "")
        elif tag == "link" and values.get("href"):
            rel = (values.get("rel") or "").lower()
            (self.styles if "stylesheet" in rel else self.others).append(values["href"] or "")
        elif tag in ("img", "iframe") and values.get("src"):
            self.others.append(values["src"] or "")


# Swagger UI 4.15.5 from swagger-ui-bundle: the bundle is ~1 MB, the stylesheet ~140 kB.
_MIN_SIZES = {"swagger-ui-bundle.js": 500_000, "swagger-ui.css": 50_000}


def _check_docs_offline(page_url: str, headers: dict[str, str] | None = None) -> None:
    """The Swagger page names no other host, and every file it loads comes from the job (200, full size)."""
    page = httpx.get(page_url, headers=headers)
    assert page.status_code == 200, page.text
    assert "http://" not in page.text and "https://" not in page.text, page.text
    refs = _PageReferences()
    refs.feed(page.text)
    assert refs.scripts and refs.styles, page.text
    for ref in refs.scripts + refs.styles + refs.others:
        url = urljoin(page_url, ref)
        assert urlsplit(url).netloc == urlsplit(page_url).netloc, f"{ref} is on another host"
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text[:200])
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        assert len(response.content) >= _MIN_SIZES.get(name, 100), (url, len(response.content))
        assert "max-age=31536000" in response.headers.get("cache-control", "")
        if ref in refs.scripts:
            assert response.headers["content-type"].startswith("application/javascript")
            assert b"SwaggerUIBundle" in response.content
        elif ref in refs.styles:
            assert response.headers["content-type"].startswith("text/css")
            assert b".swagger-ui" in response.content


@pytest.mark.engine
def test_python_class_adder(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-class")
    with run_job(built) as (base, _):
        _check_common(base, "adder")
        prefix = PREFIX.format(name="adder")
        for path in (prefix + "/api/v1/perform", "/api/v1/perform"):
            response = httpx.post(base + path, json={"numbers": [40, 2]})
            assert response.status_code == 200 and response.json() == 42
        spec = httpx.get(base + prefix + "/openapi.json").json()
        example = spec["paths"]["/api/v1/perform"]["post"]["requestBody"]["content"]["application/json"][
            "example"
        ]
        assert example == {"numbers": [40, 2]}
        bad = httpx.post(base + "/api/v1/perform", json={"numbrs": [1]})
        assert bad.status_code == 400 and "numbrs" in bad.json()["error"]


@pytest.mark.engine
def test_python_chain_calls_adder_through_pub(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-chain")
    seen: dict[str, Any] = {}

    class FakePub(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["path"] = self.path
            seen["auth"] = self.headers.get("X-Racetrack-Auth")
            seen["tracing"] = self.headers.get("X-Request-Tracing-Id")
            payload = b"41.9"
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    # The job reaches this stand-in for pub on the Docker bridge's gateway address (a host address).
    gateway = _bridge_gateway()
    server = ThreadingHTTPServer((gateway, 0), FakePub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with run_job(built, pub_url=f"http://{gateway}:{server.server_port}/pub") as (base, _):
            _check_common(base, "adder-chain")
            response = httpx.post(
                base + "/api/v1/perform",
                json={"numbers": [0.4, 41.5]},
                headers={"X-Request-Tracing-Id": "trace-1"},
            )
            assert response.status_code == 200, response.text
            assert response.json() == 42
    finally:
        server.shutdown()
        server.server_close()
    assert seen == {
        "path": "/pub/job/adder/latest/api/v1/perform",
        "auth": "test-token",
        "tracing": "trace-1",
    }


def _bridge_gateway() -> str:
    import ipaddress

    import docker

    config = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


@pytest.mark.engine
def test_python_auxiliary_endpoints(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-auxiliary-endpoints")
    with run_job(built) as (base, _):
        _check_common(base, "auxiliary-endpoints")
        prefix = PREFIX.format(name="auxiliary-endpoints")
        assert httpx.post(base + prefix + "/api/v1/explain", json={"x": 1, "y": 3}).json() == {
            "x_importance": 0.25,
            "y_importance": 0.75,
        }
        assert httpx.post(base + "/api/v1/multiply/3", json={"value": 2}).json() == 6.0
        value = httpx.get(base + "/api/v1/random", params={"start": 1, "end": 2}).json()
        assert 1 <= value <= 2
        spec = httpx.get(base + prefix + "/openapi.json").json()
        assert {"/api/v1/explain", "/api/v1/multiply/{factor}", "/api/v1/random"} <= set(spec["paths"])


@pytest.mark.engine
def test_python_static_endpoints(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-static-endpoints")
    with run_job(built) as (base, _):
        _check_common(base, "static-endpoints")
        manifest = httpx.get(base + "/api/v1/manifest")
        assert manifest.status_code == 200 and "name: static-endpoints" in manifest.text
        assert httpx.get(base + "/api/v1/readme").headers["content-type"].startswith("text/markdown")
        page = httpx.get(base + PREFIX.format(name="static-endpoints") + "/api/v1/static/index.html")
        assert "Served by static_endpoints" in page.text
        assert "teal" in httpx.get(base + "/api/v1/static/css/style.css").text
        assert httpx.get(base + "/api/v1/static/../job.yaml").status_code == 404


@pytest.mark.engine
def test_python_webview_flask_without_perform(build_sample: Callable[..., Built]) -> None:
    """Upstream's convention: the Flask app routes base_url + '/postme' and answers there, through the
    pub prefix and at the job's own port alike; the job's static/ folder is served beside it."""
    built = build_sample("python-webview")
    with run_job(built) as (base, _):
        _check_common(base, "webview", perform=False)
        prefix = PREFIX.format(name="webview")
        base_url = prefix + "/api/v1/webview"
        page = httpx.get(base + base_url + "/")
        assert page.status_code == 200 and "Hello from a webview" in page.text
        assert f'href="{base_url}/static/style.css"' in page.text
        assert f'fetch("{base_url}/postme"' in page.text, "url_for gives the public path"
        for path in (base_url + "/postme", "/api/v1/webview/postme"):
            posted = httpx.post(base + path, json={"name": "Ada"})
            assert posted.status_code == 200, (path, posted.text)
            assert posted.json() == {"hello": {"name": "Ada"}}
        css = httpx.get(base + base_url + "/static/style.css")
        assert css.status_code == 200 and "teal" in css.text
        assert css.headers["content-type"].startswith("text/css")
        missing = httpx.get(base + base_url + "/nothing")
        assert (
            missing.status_code == 404 and missing.text == f"requested path was not found: {base_url}/nothing"
        )
        home = httpx.get(base + prefix + "/")
        assert home.status_code == 307 and home.headers["location"] == base_url + "/"
        no_perform = httpx.post(base + "/api/v1/perform", json={})
        assert no_perform.status_code == 404 and "has no perform method" in no_perform.json()["error"]


@pytest.mark.engine
def test_python_webview_asgi(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-webview-asgi")
    with run_job(built) as (base, _):
        _check_common(base, "webview-asgi")
        for prefix in (PREFIX.format(name="webview-asgi"), ""):
            page = httpx.get(base + prefix + "/api/v1/webview/")
            assert page.status_code == 200 and "Hello, world!" in page.text
            assert f'href="{prefix}/api/v1/webview/hello/Ada"' in page.text, "url_for follows the prefix"
            assert 'href="/pub/job/webview-asgi/1.0.0/api/v1/webview/static/page.css"' in page.text
            hello = httpx.get(base + prefix + "/api/v1/webview/hello/Ada")
            assert hello.json() == {"greeting": "Hello, Ada!"}
            form = httpx.post(base + prefix + "/api/v1/webview/greet", data={"name": "Cy"})
            assert form.status_code == 200 and form.json() == {"greeting": "Hello, Cy!"}, form.text
            css = httpx.get(base + prefix + "/api/v1/webview/static/page.css")
            assert css.status_code == 200 and "darkorange" in css.text
        assert httpx.post(base + "/api/v1/perform", json={"name": "Bo"}).json() == "Hello, Bo!"


@pytest.mark.engine
def test_python_auxiliary_endpoints_only(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-auxiliary-only")
    with run_job(built) as (base, _):
        _check_common(base, "text-tools", perform=False)
        prefix = PREFIX.format(name="text-tools")
        assert httpx.post(base + prefix + "/api/v1/upper", json={"text": "abc"}).json() == "ABC"
        counted = httpx.post(base + "/api/v1/count", json={"text": "to be or not to be"}).json()
        assert counted == {"to": 2, "be": 2, "or": 1, "not": 1}
        spec = httpx.get(base + prefix + "/openapi.json").json()
        body = spec["paths"]["/api/v1/count"]["post"]["requestBody"]["content"]["application/json"]
        assert body["example"] == {"text": "to be or not to be"}


@pytest.mark.engine
def test_python_request_context_reads_the_caller(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-request-context")
    with run_job(built) as (base, _):
        _check_common(base, "request-context")
        for _ in range(4):  # in the thread pool first, then on the event loop: the same answer
            answer = httpx.post(base + "/api/v1/perform", json={}, headers={"X-Caller-Name": "User alice"})
            assert answer.json() == {"greeting": "Hello, User alice!", "caller": "User alice"}
        assert httpx.post(base + "/api/v1/perform", json={}).json()["greeting"] == "Hello, stranger!"


@pytest.mark.engine
def test_python_init_error_is_final_on_live_and_ready(build_sample: Callable[..., Built]) -> None:
    from stacks.docker.resources import _wait_ready

    built = build_sample("python-init-error")
    with run_job(built) as (base, container):
        error = "FileNotFoundError: model file model.bin is missing: add it to the job's repository"
        started = time.monotonic()
        with pytest.raises(RuntimeError) as caught:
            # The Docker stack's own check, as a deploy runs it, with its default 300 s timeout.
            _wait_ready(
                container,
                {"published": {"7000": urlsplit(base).netloc}, "ip_address": ""},
                {"port": 7000, "timeout": 300},
            )
        waited = time.monotonic() - started
        message = str(caught.value)
        assert message.startswith(f"the job failed to initialise: {error}; last log lines:"), message
        assert "Traceback" in message and "did not become ready" not in message
        print(f"ready check ended {waited:.1f} s after the container started")
        live = wait_live(base)
        assert live.status_code == 500 and live.json()["live"] is False and live.json()["error"] == error
        ready = httpx.get(base + "/ready")
        assert ready.status_code == 500 and ready.json() == {"ready": False, "error": error}


@pytest.mark.engine
def test_python_trixie_runs_python_313(build_sample: Callable[..., Built]) -> None:
    import docker

    built = build_sample("python-trixie")
    with run_job(built) as (base, _):
        _check_common(base, "python-trixie")
        result = httpx.post(base + "/api/v1/perform", json={"x": 2}).json()
        assert result["version_info"] == [3, 13] and result["python"].startswith("3.13.")
        assert result["debian"].startswith("13.")
        assert result["point"] == {"x": 2.0, "y": 0.0}
    base_image = docker.from_env().images.get("racetrack/base-python:trixie")
    assert base_image.labels.get("org.racetrack.base-image") == "trixie"


def test_unavailable_python_or_debian_version_is_refused_naming_the_accepted(tmp_path: Path) -> None:
    import jobtypes
    from api.errors import InvalidInput

    from .jobs import load_manifest

    source = jobtypes.unpack_build_context(
        tmp_path / "ws", jobtypes.pack_directory(SAMPLES / "python-trixie")
    )
    manifest = load_manifest(SAMPLES / "python-trixie")
    settings = job_settings(tmp_path / "data")
    cases = {
        "python_version": ("3.12", "python_version '3.12' is not available: jobs run on Debian's Python"),
        "debian_version": ("bullseye", "debian_version 'bullseye' is not available; accepted: bookworm"),
    }
    for field, (value, message) in cases.items():
        extra = {"entrypoint_path": "entrypoint.py", field: value}
        with pytest.raises(InvalidInput, match=message):
            jobtypes.plan_build({**manifest, "jobtype_extra": extra}, source, build_id="x", settings=settings)
    extra = {"entrypoint_path": "entrypoint.py", "python_version": "3.13", "debian_version": "bookworm"}
    with pytest.raises(InvalidInput, match="Debian bookworm carries Python 3.11, not 3.13"):
        jobtypes.plan_build({**manifest, "jobtype_extra": extra}, source, build_id="x", settings=settings)
    for extra, image in (
        (
            {"entrypoint_path": "entrypoint.py", "debian_version": "slim-trixie"},
            settings.base_image_python_trixie,
        ),
        ({"entrypoint_path": "entrypoint.py", "python_version": 3.11}, settings.base_image_python),
        ({"entrypoint_path": "entrypoint.py"}, settings.base_image_python),
    ):
        plan = jobtypes.plan_build(
            {**manifest, "jobtype_extra": extra}, source, build_id="x", settings=settings
        )
        assert f"FROM {image}\n" in plan.images[0].dockerfile.read_text()


@pytest.mark.engine
def test_python_metrics(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-metrics")
    with run_job(built) as (base, _):
        _check_common(base, "metrics")
        for _ in range(3):
            httpx.post(base + "/api/v1/perform", json={})
        text = httpx.get(base + "/metrics").text
        assert "job_metrics_perform_calls 3" in text
        assert 'job_metrics_zero{color="blue"} 0' in text
        assert 'endpoint_requests_started_total{endpoint="/api/v1/perform"} 3' in text
        assert "request_duration_count 3" in text


@pytest.mark.engine
def test_python_env_and_secrets(build_sample: Callable[..., Built]) -> None:
    built = build_sample("python-env-secrets", secret_build_env={"BUILD_TOKEN": "build-secret-value-123"})
    with run_job(built, secret_runtime_env={"API_KEY": "abcdef"}) as (base, _):
        _check_common(base, "env-secrets")
        result = httpx.post(base + "/api/v1/perform", json={}).json()
        assert result == {
            "greeting_style": "formal",
            "built_with": "racetrack",
            "api_key_length": 6,
            "job_name": "env-secrets",
            "jq_installed": True,
        }
    import docker

    image = docker.from_env().images.get(built.plan.images[0].image)
    history = str(image.history())
    config = str(image.attrs["Config"])
    assert "build-secret-value-123" not in history and "build-secret-value-123" not in config


@pytest.mark.engine
def test_golang_function(build_sample: Callable[..., Built]) -> None:
    built = build_sample("golang-function")
    with run_job(built) as (base, _):
        _check_common(base, "golang-adder")
        prefix = PREFIX.format(name="golang-adder")
        assert httpx.post(base + prefix + "/api/v1/perform", json={"numbers": [40, 2]}).json() == 42
        failed = httpx.post(base + "/api/v1/perform", json={"numbers": "x"})
        assert failed.status_code == 500 and "numbers must be a list" in failed.json()["error"]
        spec = httpx.get(base + prefix + "/openapi.json").json()
        body = spec["paths"]["/api/v1/perform"]["post"]["requestBody"]["content"]["application/json"]
        assert body["example"] == {"numbers": [40, 2]}


@pytest.mark.engine
def test_golang_system_dependencies_run_on_debian(build_sample: Callable[..., Built]) -> None:
    built = build_sample("golang-system-deps")
    with run_job(built) as (base, container):
        _check_common(base, "golang-jq")
        answer = httpx.post(
            base + "/api/v1/perform", json={"filter": ".items | length", "data": {"items": [1, 2, 3]}}
        )
        assert answer.status_code == 200 and answer.json() == 3
        failed = httpx.post(base + "/api/v1/perform", json={"filter": ".[", "data": {}})
        assert failed.status_code == 500 and "jq failed" in failed.json()["error"]
        # The runtime is Debian (an image of only the binary has no cat to run).
        assert container.exec_run(["cat", "/etc/debian_version"]).output.decode().startswith("12.")


@pytest.mark.engine
def test_docker_proxy(build_sample: Callable[..., Built]) -> None:
    built = build_sample("docker-proxy")
    assert [image.role for image in built.plan.images] == ["job", "user-module"]
    with run_job(built) as (base, _):
        _check_common(base, "docker-adder")
        prefix = PREFIX.format(name="docker-adder")
        assert httpx.post(base + prefix + "/api/v1/perform", json={"numbers": [40, 2]}).json() == 42
        bad = httpx.post(base + "/api/v1/perform", json={"numbers": "x"})
        assert bad.status_code == 400 and "numbers must be a list" in bad.text
        assert 'request_errors_total{status="400"} 1' in httpx.get(base + "/metrics").text


def test_sample_readmes_and_manifests_exist() -> None:
    import yaml

    for folder in sorted(Path(SAMPLES).iterdir()):
        assert (folder / "README.md").is_file(), folder
        manifest = yaml.safe_load((folder / "job.yaml").read_text())
        assert manifest["git"]["remote"].startswith("https://")
        assert manifest["owner_email"] and manifest["jobtype"]


def _cached_steps(log: list[str]) -> dict[str, bool]:
    """BuildKit step title -> whether the step was CACHED, from a `--progress=plain` log."""
    titles: dict[str, str] = {}
    cached: dict[str, bool] = {}
    for line in log:
        number, _, rest = line.partition(" ")
        if not number.startswith("#"):
            continue
        if rest.startswith("["):
            titles[number] = rest
            cached.setdefault(rest, False)
        elif rest.strip() == "CACHED" and number in titles:
            cached[titles[number]] = True
    return cached


@pytest.mark.engine
def test_rebuild_with_unchanged_requirements_reuses_dependency_layer(
    build_sample: Callable[..., Built], tmp_path: Path
) -> None:
    import shutil

    from .jobs import job_settings

    first = build_sample("python-class")
    folder = tmp_path / "adder"
    shutil.copytree(SAMPLES / "python-class", folder)
    with open(folder / "adder.py", "a", encoding="utf-8") as handle:
        # Unique per run: the engine's build cache outlives the test and would otherwise match it.
        handle.write(f"\n# a code change that leaves requirements.txt alone: {uuid.uuid4()}\n")
    second = build_job(folder, job_settings(tmp_path / "data"), tmp_path / "ws", manifest=first.manifest)
    try:
        steps = _cached_steps(second.log)
        dependency_steps = [title for title in steps if "pip install -r /src/job-requirements.txt" in title]
        assert dependency_steps and all(steps[title] for title in dependency_steps), steps
        code_steps = [title for title in steps if "COPY " in title and title.endswith(" . /src/job/")]
        assert code_steps and not any(steps[title] for title in code_steps)
        assert not any("Collecting six" in line for line in second.log)
    finally:
        remove_images(second)


CHROMIUM = "/usr/bin/chromium"
# No background connections: the page must work on a machine that reaches nothing but the job.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _execute_in_browser(docs_url: str, headers: dict[str, str] | None = None) -> None:
    """Headless Chromium opens the Swagger page with every other host blocked; "Execute" runs
    perform ({"numbers": [40, 2]}) and the page shows 200 and 42."""
    ensure = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-chromium.sh")], capture_output=True, text=True
    )
    assert ensure.returncode == 0, f"could not install chromium: {ensure.stderr.strip()}"
    host = urlsplit(docs_url).netloc
    elsewhere: list[str] = []
    failed: list[str] = []

    def only_that_host(route: Any) -> None:
        if urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(extra_http_headers=headers or {}).new_page()
            page.route("**/*", only_that_host)
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(docs_url)
            page.locator(".opblock-summary", has_text="/api/v1/perform").click()
            # tryItOutEnabled: the operation opens ready to edit, its button reads "Cancel".
            expect(page.get_by_role("button", name="Cancel")).to_be_visible()
            page.locator(".opblock-body textarea.body-param__text").fill('{"numbers": [40, 2]}')
            page.get_by_role("button", name="Execute").click()
            answer = page.locator(".live-responses-table tr.response").first
            expect(answer.locator(".response-col_status")).to_have_text("200")
            expect(answer.locator(".response-col_description")).to_contain_text("42")
        finally:
            browser.close()
    assert not elsewhere, f"the page asked other hosts: {elsewhere}"
    assert not failed, f"requests failed: {failed}"


@pytest.mark.parametrize(
    ("sample", "name"),
    [("python-class", "adder"), ("golang-function", "golang-adder"), ("docker-proxy", "docker-adder")],
)
@pytest.mark.engine
@pytest.mark.browser
def test_swagger_page_executes_perform_in_a_browser_offline(
    build_sample: Callable[..., Built], sample: str, name: str
) -> None:
    """Each job type's Swagger page, under its pub prefix on the job itself, works with no other host."""
    built = build_sample(sample)
    with run_job(built) as (base, _):
        wait_ready(base)
        _execute_in_browser(base + PREFIX.format(name=name) + "/docs")


@pytest.mark.engine
@pytest.mark.browser
def test_swagger_page_through_pub(build_sample: Callable[..., Built]) -> None:
    """Through the real pub (with a fake lifecycle answering can-call-job): the page, its files and
    Execute work for a caller with the X-Racetrack-Auth header. A browser gets the page from the job's
    own host (<job>.jobs.localhost), where pub serves job pages unsandboxed."""
    from api.pub import PubConfig
    from tests.pub.fake_lifecycle import FakeLifecycle, Grant, Token
    from tests.pub.servers import GatewayServer, ServerThread, free_port

    built = build_sample("python-class")
    with run_job(built) as (base, _):
        wait_ready(base)
        lifecycle = FakeLifecycle(internal_token="internal-secret")
        lifecycle.add_job("adder", "1.0.0", urlsplit(base).netloc)
        lifecycle.tokens["token-carol"] = Token("User carol", [Grant(job="adder")])
        lifecycle_server = ServerThread(lifecycle.app()).start()
        port = free_port()
        pub = GatewayServer(
            PubConfig(
                lifecycle_url=lifecycle_server.url + "/lifecycle",
                internal_token="internal-secret",
                jobs_url=f"http://jobs.localhost:{port}",
            ),
            port=port,
        )
        try:
            docs = pub.url + PREFIX.format(name="adder") + "/docs"
            auth = {"X-Racetrack-Auth": "token-carol"}
            assert httpx.get(docs).status_code == 401
            assert httpx.get(docs.replace("/docs", "/docs/static/swagger-ui.css")).status_code == 401
            _check_docs_offline(docs, headers=auth)
            job_host = f"http://adder.jobs.localhost:{port}"
            _execute_in_browser(job_host + PREFIX.format(name="adder") + "/docs", headers=auth)
        finally:
            pub.stop()
            lifecycle_server.stop()
