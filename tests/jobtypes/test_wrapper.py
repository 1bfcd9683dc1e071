"""The python3 runtime wrapper, in-process (httpx over ASGI, no container)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from racetrack_job_wrapper.app import JobApp, WrapperOptions
from racetrack_job_wrapper.call import call_job
from racetrack_job_wrapper.context import current_request
from racetrack_job_wrapper.endpoint_config import EndpointConfig
from racetrack_job_wrapper.recordkeeper import remember_predecessor_id

PREFIX = "/pub/job/adder/1.2.3"


class Adder:
    def perform(self, numbers: list, factor: float = 1.0) -> float:
        """Adds the numbers, then multiplies by factor."""
        return sum(numbers) * factor

    def docs_input_example(self) -> dict[str, Any]:
        return {"numbers": [40, 2]}

    def auxiliary_endpoints(self) -> dict[str, Any]:
        return {"/explain": self.explain}

    def explain(self, x: int) -> dict[str, Any]:
        return {"explained": x}

    def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
        return [
            EndpointConfig("/multiply/{factor}", "POST", self.multiply),
            EndpointConfig("/random", "GET", self.random),
        ]

    def multiply(self, factor: float, value: float) -> float:
        return factor * value

    def random(self, start: float, end: float) -> float:
        return (start + end) / 2

    def metrics(self) -> list[dict[str, Any]]:
        return [{"name": "job_adder_things", "value": 7, "description": "things", "labels": {"kind": "a"}}]


def _client(app: JobApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://job")


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _ready_app(cls: Any = Adder, **options: Any) -> JobApp:
    app = JobApp(cls, WrapperOptions(job_name="adder", job_version="1.2.3", **options))
    app.initialize()
    assert app.init_error is None
    return app


@pytest.mark.parametrize("prefix", ["", PREFIX])
def test_perform_at_root_and_under_pub_prefix(prefix: str) -> None:
    async def go() -> None:
        async with _client(_ready_app()) as client:
            response = await client.post(prefix + "/api/v1/perform", json={"numbers": [1, 2, 3], "factor": 2})
            assert response.status_code == 200
            assert response.json() == 12

    _run(go())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"numbers": "x"}, "argument 'numbers' of perform must be a list"),
        ({"numbers": [1], "extra": 1}, "unexpected argument 'extra'"),
        ({}, "missing required argument 'numbers'"),
        ([1, 2], "must be a JSON object"),
        ({"numbers": [1], "factor": True}, "argument 'factor' of perform must be a number, got a boolean"),
    ],
)
def test_bad_input_is_400_naming_the_argument(body: Any, message: str) -> None:
    async def go() -> None:
        async with _client(_ready_app()) as client:
            response = await client.post("/api/v1/perform", json=body)
            assert response.status_code == 400
            assert message in response.json()["error"]

    _run(go())


def test_exception_is_500_with_message_without_traceback() -> None:
    class Failing:
        def perform(self) -> None:
            raise ValueError("the moon is full")

    async def go() -> None:
        async with _client(_ready_app(Failing)) as client:
            response = await client.post("/api/v1/perform", json={})
            assert response.status_code == 500
            assert "ValueError: the moon is full" in response.json()["error"]
            assert "Traceback" not in response.text
            metrics = (await client.get("/metrics")).text
            assert 'request_internal_errors_total{endpoint="/api/v1/perform"} 1' in metrics

    _run(go())


def test_auxiliary_endpoints_v1_and_v2() -> None:
    async def go() -> None:
        async with _client(_ready_app()) as client:
            assert (await client.post(PREFIX + "/api/v1/explain", json={"x": 5})).json() == {"explained": 5}
            response = await client.post("/api/v1/multiply/3", json={"value": 2})
            assert response.json() == 6.0
            response = await client.get("/api/v1/random", params={"start": 1, "end": 3})
            assert response.json() == 2.0

    _run(go())


def test_health_live_ready_parameters_docs_and_metrics() -> None:
    async def go() -> None:
        async with _client(_ready_app()) as client:
            health = (await client.get(PREFIX + "/health")).json()
            assert health["status"] == "pass" and health["job_name"] == "adder" and health["ready"]
            assert (await client.get("/live")).json()["live"] is True
            assert (await client.get("/ready")).json() == {"ready": True}
            params = (await client.get("/api/v1/parameters")).json()
            assert params[0] == {"name": "numbers", "type": "list", "required": True}
            docs = await client.get(PREFIX + "/docs")
            assert "swagger-ui" in docs.text and PREFIX + "/openapi.json" in docs.text
            spec = (await client.get(PREFIX + "/openapi.json")).json()
            assert spec["servers"] == [{"url": PREFIX}]
            assert spec["components"]["securitySchemes"]["RacetrackAuth"]["name"] == "X-Racetrack-Auth"
            body = spec["paths"]["/api/v1/perform"]["post"]["requestBody"]["content"]["application/json"]
            assert body["example"] == {"numbers": [40, 2]}
            home = await client.get(PREFIX + "/")
            assert home.status_code == 307 and home.headers["location"] == PREFIX + "/docs"
            await client.post("/api/v1/perform", json={"numbers": [1]})
            await client.post("/api/v1/perform", json={})
            text = (await client.get("/metrics")).text
            assert 'endpoint_requests_started_total{endpoint="/api/v1/perform"} 2' in text
            assert 'request_errors_total{status="400"} 1' in text
            assert "request_duration_count 2" in text
            assert 'job_adder_things{kind="a"} 7' in text
            last_call = float(text.split("\nlast_call_timestamp ")[1].split()[0])
            assert abs(last_call - time.time()) < 60

    _run(go())


def test_docs_page_serves_swagger_ui_itself(tmp_path: Any) -> None:
    """The page refers to no other host; its files come from JOB_SWAGGER_UI_DIR, cacheable for long."""
    (tmp_path / "swagger-ui-bundle.js").write_text("window.SwaggerUIBundle = function () {};")
    (tmp_path / "swagger-ui.css").write_text(".swagger-ui {}")
    (tmp_path / "favicon-32x32.png").write_bytes(b"\x89PNG32")
    (tmp_path / "VERSION").write_text("4.15.5\n")

    async def go() -> None:
        async with _client(_ready_app(swagger_ui_dir=str(tmp_path))) as client:
            for page in (PREFIX + "/docs", "/docs"):
                docs = await client.get(page)
                assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
                assert "http://" not in docs.text and "https://" not in docs.text
                assert 'src="docs/static/swagger-ui-bundle.js?v=4.15.5"' in docs.text
                assert 'href="docs/static/swagger-ui.css?v=4.15.5"' in docs.text
                assert "validatorUrl: null" in docs.text
            script = await client.get(PREFIX + "/docs/static/swagger-ui-bundle.js", params={"v": "4.15.5"})
            assert script.status_code == 200 and script.text == "window.SwaggerUIBundle = function () {};"
            assert script.headers["content-type"].startswith("application/javascript")
            assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
            css = await client.get("/docs/static/swagger-ui.css")
            assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
            assert (await client.get("/docs/static/favicon-32x32.png")).content == b"\x89PNG32"
            missing = await client.get("/docs/static/favicon-16x16.png")
            assert missing.status_code == 404 and "favicon-16x16.png" in missing.json()["error"]
            assert (await client.get("/docs/static/VERSION")).status_code == 404
            assert (await client.get("/docs/static/../../etc/passwd")).status_code == 404

    _run(go())


def test_docs_page_without_swagger_ui_files_says_why(tmp_path: Any) -> None:
    async def go() -> None:
        async with _client(_ready_app(swagger_ui_dir=str(tmp_path / "absent"))) as client:
            assert (await client.get("/docs")).status_code == 200
            response = await client.get(PREFIX + "/docs/static/swagger-ui-bundle.js")
            assert response.status_code == 404 and "not installed" in response.json()["error"]

    _run(go())


def test_initialisation_runs_in_background_while_live_answers() -> None:
    gate = threading.Event()

    class Slow:
        def __init__(self) -> None:
            gate.wait(10)

        def perform(self) -> str:
            return "done"

    async def go() -> None:
        app = JobApp(Slow, WrapperOptions())
        thread = app.start_initialization()
        async with _client(app) as client:
            assert (await client.get("/live")).status_code == 200
            ready = await client.get("/ready")
            assert ready.status_code == 503 and ready.json() == {"ready": False}
            assert (await client.post("/api/v1/perform", json={})).status_code == 503
            gate.set()
            thread.join(10)
            assert (await client.get("/ready")).status_code == 200
            assert (await client.post("/api/v1/perform", json={})).json() == "done"

    _run(go())


def test_failing_init_is_reported_by_live() -> None:
    class Broken:
        def __init__(self) -> None:
            raise RuntimeError("cannot load the model")

        def perform(self) -> None: ...

    async def go() -> None:
        app = JobApp(Broken, WrapperOptions())
        app.initialize()
        async with _client(app) as client:
            live = await client.get("/live")
            assert live.status_code == 500
            assert live.json()["error"] == "RuntimeError: cannot load the model"
            ready = await client.get("/ready")  # final, so a readiness check can stop waiting
            assert ready.status_code == 500
            assert ready.json() == {"ready": False, "error": "RuntimeError: cannot load the model"}
            response = await client.post("/api/v1/perform", json={})
            assert response.status_code == 500 and "cannot load the model" in response.json()["error"]

    _run(go())


def test_max_concurrency_queue_full_gives_429() -> None:
    class Sleepy:
        async def perform(self) -> str:
            await asyncio.sleep(0.3)
            return "ok"

    async def go() -> None:
        app = _ready_app(Sleepy, max_concurrency=1, max_concurrency_queue=1)
        async with _client(app) as client:
            results = await asyncio.gather(*(client.post("/api/v1/perform", json={}) for _ in range(3)))
            assert sorted(r.status_code for r in results) == [200, 200, 429]

    _run(go())


def test_tracing_header_is_echoed_and_visible_to_job_code() -> None:
    seen: list[Any] = []

    class Tracing:
        def perform(self) -> str:
            seen.append(current_request())
            return "ok"

    async def go() -> None:
        async with _client(_ready_app(Tracing)) as client:
            response = await client.post(
                "/api/v1/perform",
                json={},
                headers={"X-Request-Tracing-Id": "abc", "X-Caller-Name": "User bob"},
            )
            assert response.headers["x-request-tracing-id"] == "abc"
            assert seen[0].headers["x-request-tracing-id"] == "abc"
            assert seen[0].headers["X-Caller-Name"] == "User bob"
        assert current_request() is None

    _run(go())


class CallerAware:
    """Upstream's way to read the request: self.request_context.get(), in every kind of endpoint."""

    def __init__(self) -> None:
        self.had_context_in_init = hasattr(self, "request_context")

    def perform(self) -> dict[str, Any]:
        request = self.request_context.get()
        self.request_extra.get()["note"] = "kept for this request only"
        return {"caller": request.headers.get("X-Caller-Name"), "path": request.url.path}

    def auxiliary_endpoints_v2(self) -> list[EndpointConfig]:
        return [EndpointConfig("/who", "GET", self.who), EndpointConfig("/who-async", "POST", self.who_async)]

    def who(self) -> str | None:
        return self.request_context.get().headers.get("X-Caller-Name")

    async def who_async(self) -> str | None:
        return self.request_context.get().headers.get("X-Caller-Name")

    def webview_app(self, base_url: str) -> Any:
        def page(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            caller = self.request_context.get().headers.get("X-Caller-Name") or "nobody"
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [caller.encode()]

        return page


def test_request_context_gives_the_job_the_current_request() -> None:
    caller = {"X-Caller-Name": "User carol"}

    async def go() -> None:
        app = _ready_app(CallerAware)
        assert app.entrypoint.had_context_in_init is False  # set once the object exists, as upstream
        async with _client(app) as client:
            for _ in range(5):  # the first calls run in the thread pool, later ones inline
                response = await client.post(PREFIX + "/api/v1/perform", json={}, headers=caller)
                assert response.json() == {"caller": "User carol", "path": PREFIX + "/api/v1/perform"}
            assert (await client.get("/api/v1/who", headers=caller)).json() == "User carol"
            assert (await client.post("/api/v1/who-async", headers=caller)).json() == "User carol"
            assert (await client.get(PREFIX + "/api/v1/webview/", headers=caller)).text == "User carol"
            assert (await client.get("/api/v1/webview/")).text == "nobody"
        with pytest.raises(LookupError):
            app.entrypoint.request_context.get()  # outside a request, as upstream

    _run(go())


def test_caller_name_is_logged_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        async with _client(_ready_app(log_caller_name=True)) as client:
            await client.post(
                "/api/v1/perform", json={"numbers": [1]}, headers={"X-Caller-Name": "User alice"}
            )

    with caplog.at_level("INFO", logger="racetrack_job_wrapper"):
        _run(go())
    assert "perform called by User alice" in caplog.text


def test_sync_perform_moves_inline_when_fast() -> None:
    async def go() -> None:
        app = _ready_app()
        async with _client(app) as client:
            for _ in range(10):
                await client.post("/api/v1/perform", json={"numbers": [1]})
        assert app._perform is not None and app._perform.inline

    _run(go())


def test_call_job_uses_token_pub_url_and_passes_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import json

    received: dict[str, Any] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received["path"] = self.path
            received["headers"] = dict(self.headers)
            received["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            payload = b"42"
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    monkeypatch.setenv("PUB_URL", f"http://127.0.0.1:{server.server_port}/pub")
    monkeypatch.setenv("AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("JOB_NAME", "chain")

    class Chain:
        def perform(self) -> Any:
            remember_predecessor_id(self, "record-7")
            return call_job(self, "adder", payload={"numbers": [40, 2]})

    async def go() -> None:
        async with _client(_ready_app(Chain)) as client:
            headers = {"X-Request-Tracing-Id": "t-1", "X-Caller-Name": "User dave"}
            response = await client.post("/api/v1/perform", json={}, headers=headers)
            assert response.json() == 42

    _run(go())
    thread.join(5)
    server.server_close()
    assert received["path"] == "/pub/job/adder/latest/api/v1/perform"
    assert received["headers"]["X-Racetrack-Auth"] == "secret-token"
    assert received["headers"]["X-Request-Tracing-Id"] == "t-1"
    assert received["headers"]["X-Caller-Name"] == "User dave"
    assert received["headers"]["X-Recordkeeper-Predecessor-Id"] == "record-7"
    assert received["body"] == {"numbers": [40, 2]}


def test_static_endpoints_file_and_folder(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data.json").write_text('{"a": 1}')
    (tmp_path / "site" / "css").mkdir(parents=True)
    (tmp_path / "site" / "css" / "x.css").write_text("h1 {}")
    (tmp_path / "site" / "notes.unknownext").write_text("plain")
    (tmp_path / "secret.txt").write_text("no")
    monkeypatch.chdir(tmp_path)

    class Static:
        def perform(self) -> None: ...

        def static_endpoints(self) -> dict[str, Any]:
            return {"/data": "data.json", "/typed": ("data.json", "text/plain"), "/site/": "site"}

    async def go() -> None:
        async with _client(_ready_app(Static)) as client:
            data = await client.get(PREFIX + "/api/v1/data")
            assert data.json() == {"a": 1} and data.headers["content-type"] == "application/json"
            assert (await client.get("/api/v1/typed")).headers["content-type"].startswith("text/plain")
            css = await client.get("/api/v1/site/css/x.css")
            assert css.text == "h1 {}" and css.headers["content-type"].startswith("text/css")
            assert (await client.get(PREFIX + "/api/v1/site/css/x.css")).text == "h1 {}"
            assert (
                (await client.get("/api/v1/site/notes.unknownext"))
                .headers["content-type"]
                .startswith("text/plain")
            ), "as upstream, a type that cannot be guessed is text/plain"
            for path in ("/api/v1/site/../secret.txt", "/api/v1/site/%2e%2e/secret.txt", "/api/v1/site/"):
                missing = await client.get(path)
                assert missing.status_code == 404 and "error" in missing.json(), path

    _run(go())


def _webview_job(app: Any, *, with_perform: bool = False) -> Any:
    class Webview:
        def webview_app(self, base_url: str) -> Any:
            assert base_url == "/pub/job/adder/1.2.3/api/v1/webview"
            return app

    if with_perform:
        Webview.perform = lambda self: "performed"  # type: ignore[attr-defined]
    return Webview


def test_wsgi_webview_sees_paths_with_the_public_prefix() -> None:
    """Upstream's convention: PATH_INFO holds base_url, at the job's port and through pub alike."""
    from werkzeug.routing import Map, Rule
    from werkzeug.wrappers import Request, Response

    base_url = PREFIX + "/api/v1/webview"
    urls = Map([Rule(base_url + "/", endpoint="index"), Rule(base_url + "/postme", endpoint="postme")])

    @Request.application
    def wsgi_app(request: Request) -> Response:
        adapter = urls.bind_to_environ(request.environ)
        endpoint, _ = adapter.match()
        if endpoint == "postme":
            return Response(f"posted {request.get_data(as_text=True)}", status=201)
        seen = f"{request.script_root}|{request.path}|{request.query_string.decode()}"
        return Response(f"{seen}|link={adapter.build('postme')}")

    async def go() -> None:
        async with _client(_ready_app(_webview_job(wsgi_app))) as client:
            for prefix in (PREFIX, ""):
                page = await client.get(prefix + "/api/v1/webview/", params={"q": "1"})
                assert page.status_code == 200, page.text
                assert page.text == f"|{base_url}/|q=1|link={base_url}/postme"
                posted = await client.post(prefix + "/api/v1/webview/postme", content=b"hi")
                assert posted.status_code == 201 and posted.text == "posted hi"
            redirect = await client.get(PREFIX + "/api/v1/webview", params={"a": "b"})
            assert redirect.status_code == 307
            assert redirect.headers["location"] == PREFIX + "/api/v1/webview/?a=b"
            assert (await client.get(PREFIX + "/api/v1/webviewer")).status_code == 404

    _run(go())


def test_asgi_webview_is_mounted_at_the_request_prefix() -> None:
    """Upstream's convention for ASGI: root_path is the prefix, the app routes relative paths."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def index(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "root_path": request.scope["root_path"],
                "url_path": request.url.path,
                "link": str(request.url_for("postme")),
            }
        )

    async def postme(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"posted {(await request.body()).decode()}", status_code=201)

    asgi_app = Starlette(
        routes=[Route("/", index), Route("/postme", postme, methods=["POST"], name="postme")]
    )

    async def go() -> None:
        async with _client(_ready_app(_webview_job(asgi_app))) as client:
            for prefix in (PREFIX, ""):
                page = await client.get(prefix + "/api/v1/webview/")
                assert page.json() == {
                    "root_path": prefix + "/api/v1/webview",
                    "url_path": prefix + "/api/v1/webview/",
                    "link": f"http://job{prefix}/api/v1/webview/postme",
                }
                posted = await client.post(prefix + "/api/v1/webview/postme", content=b"hi")
                assert posted.status_code == 201 and posted.text == "posted hi"

    _run(go())


def test_webview_static_folder_and_failures(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "style.css").write_text("body { color: teal }")
    monkeypatch.chdir(tmp_path)

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"].endswith("/boom"):
            raise ValueError("the page broke")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from the app"]

    async def go() -> None:
        async with _client(_ready_app(_webview_job(wsgi_app))) as client:
            for prefix in (PREFIX, ""):
                css = await client.get(prefix + "/api/v1/webview/static/style.css")
                assert css.status_code == 200 and css.text == "body { color: teal }"
                assert css.headers["content-type"].startswith("text/css")
            assert (await client.get("/api/v1/webview/static/none.css")).status_code == 404
            assert (await client.get("/api/v1/webview/other")).text == "from the app"
            broken = await client.get("/api/v1/webview/boom")
            assert broken.status_code == 500 and broken.json() == {
                "error": "webview failed: ValueError: the page broke"
            }

    _run(go())


def test_webview_only_job_has_no_perform_and_says_so() -> None:
    def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"page"]

    async def go() -> None:
        async with _client(_ready_app(_webview_job(wsgi_app))) as client:
            assert (await client.get("/ready")).status_code == 200
            assert (await client.get("/api/v1/webview/")).text == "page"
            missing = await client.post(PREFIX + "/api/v1/perform", json={})
            assert missing.status_code == 404
            assert missing.json()["error"] == (
                "job class Webview has no perform method, so /api/v1/perform is not served; "
                "this job serves /api/v1/webview/"
            )
            spec = (await client.get("/openapi.json")).json()
            assert "/api/v1/perform" not in spec["paths"] and "/api/v1/parameters" not in spec["paths"]
            assert "/api/v1/webview/" in spec["paths"]
        async with _client(_ready_app(_webview_job(wsgi_app, with_perform=True))) as client:
            assert (await client.post("/api/v1/perform", json={})).json() == "performed"

    _run(go())


def test_auxiliary_only_job() -> None:
    class Tools:
        def auxiliary_endpoints(self) -> dict[str, Any]:
            return {"/double": self.double}

        def double(self, x: float) -> float:
            return 2 * x

    async def go() -> None:
        async with _client(_ready_app(Tools)) as client:
            assert (await client.post("/api/v1/double", json={"x": 21})).json() == 42
            assert (await client.post("/api/v1/perform", json={})).status_code == 404

    _run(go())


def test_a_class_serving_nothing_fails_initialisation_naming_what_to_add() -> None:
    class Empty:
        def helper(self) -> None: ...

    app = JobApp(Empty, WrapperOptions())
    app.initialize()
    assert app.init_error == (
        "TypeError: job class Empty serves nothing: give it a perform method, or webview_app, "
        "auxiliary_endpoints or static_endpoints"
    )


def test_user_metrics_skip_entries_without_name_or_value(caplog: pytest.LogCaptureFixture) -> None:
    class Measured:
        def perform(self) -> None: ...

        def metrics(self) -> list[Any]:
            return [
                {"name": "job_good", "value": 1},
                {"value": 2},
                {"name": "job_no_value"},
                {"name": "job_none", "value": None},
                "not a dict",
            ]

    async def go() -> None:
        async with _client(_ready_app(Measured)) as client:
            response = await client.get("/metrics")
            assert response.status_code == 200
            assert "job_good 1" in response.text
            assert "job_no_value" not in response.text and "job_none" not in response.text

    with caplog.at_level("ERROR", logger="racetrack_job_wrapper"):
        _run(go())
    assert "has no name" in caplog.text and "job_no_value" in caplog.text


def test_unknown_path_and_wrong_method() -> None:
    async def go() -> None:
        async with _client(_ready_app()) as client:
            assert (await client.get("/api/v1/nothing")).status_code == 404
            wrong = await client.get("/api/v1/perform")
            assert wrong.status_code == 405 and "GET not allowed" in wrong.json()["error"]

    _run(go())


def test_inline_threshold_zero_keeps_calls_in_the_pool() -> None:
    async def go() -> None:
        app = _ready_app(inline_threshold=0.0)
        async with _client(app) as client:
            for _ in range(10):
                await client.post("/api/v1/perform", json={"numbers": [1]})
        assert app._perform is not None and not app._perform.inline

    _run(go())


def test_entrypoint_class_is_found_as_upstream_finds_it(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from racetrack_job_wrapper.loader import EntrypointError, load_entrypoint_class

    monkeypatch.chdir(tmp_path)
    (tmp_path / "only_webview.py").write_text(
        "class Page:\n    def webview_app(self, base_url):\n        return None\n"
    )
    assert load_entrypoint_class("only_webview.py").__name__ == "Page"
    (tmp_path / "with_helper.py").write_text(
        "from dataclasses import dataclass\n\n@dataclass\nclass Settings:\n    x: int = 1\n\n"
        "class Job:\n    def auxiliary_endpoints(self):\n        return {}\n"
    )
    assert load_entrypoint_class("with_helper.py").__name__ == "Job"
    (tmp_path / "two_jobs.py").write_text(
        "class A:\n    def perform(self):\n        return 1\n\n"
        "class B:\n    def perform(self):\n        return 2\n"
    )
    with pytest.raises(EntrypointError, match=r"several classes in two_jobs.py could be the job \(A, B\)"):
        load_entrypoint_class("two_jobs.py")
    assert load_entrypoint_class("two_jobs.py", "B").__name__ == "B"
    (tmp_path / "no_class.py").write_text("def perform():\n    return 1\n")
    with pytest.raises(EntrypointError, match="no class in no_class.py"):
        load_entrypoint_class("no_class.py")


# Starlette's TestClient (the one client here that speaks websockets) warns about its own transport.
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_asgi_webview_serves_websockets_under_its_prefix() -> None:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocket

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{websocket.scope['root_path']}|{text}")
        await websocket.close()

    app = _ready_app(_webview_job(Starlette(routes=[WebSocketRoute("/ws", echo)])))
    with TestClient(app) as client:
        for prefix in (PREFIX, ""):
            with client.websocket_connect(prefix + "/api/v1/webview/ws") as websocket:
                websocket.send_text("hi")
                assert websocket.receive_text() == f"{prefix}/api/v1/webview|hi"
