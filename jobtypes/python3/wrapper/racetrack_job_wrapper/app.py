"""The job's ASGI application.

Routes are looked up in a dict built once when the job has initialised; every route is served both
at the root and under `/pub/job/<name>/<version>`. Health routes answer from the start, while
`__init__` of the job class still runs in a background thread.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import threading
import time
import typing
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from .asgi import (
    Receive,
    Scope,
    Send,
    dumps,
    read_body,
    respond,
    respond_error,
    respond_json,
    split_job_prefix,
)
from .context import RequestScope, attach_to
from .endpoint_config import EndpointConfig
from .errors import JobHTTPError
from .invoke import INLINE_THRESHOLD_S, ArgumentCheck, BadArguments, ConcurrencyLimit, FunctionRunner
from .metrics import JobMetrics
from .openapi import (
    ASSET_CACHE_CONTROL,
    SWAGGER_ASSET_PATH,
    SWAGGER_UI_FILES,
    SwaggerAssets,
    describe_parameters,
    openapi_spec,
    swagger_html,
)
from .static import StaticFile, StaticFolder
from .webview import WEBVIEW_PATH, WebviewApp

__all__ = ["JobApp", "WrapperOptions"]

logger = logging.getLogger("racetrack_job_wrapper")

Handler = Callable[[Scope, Receive, Send, str, str], Awaitable[int]]
MAX_EXAMPLE_BYTES = 1024 * 1024


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value else None


@dataclass
class WrapperOptions:
    """What the wrapper learns from its environment (set by the image and the deploy engine)."""

    job_name: str = "job"
    job_version: str = "0.0.1"
    git_version: str = ""
    deployed_by_racetrack_version: str = ""
    job_type_version: str = ""
    deployment_timestamp: int = 0
    max_concurrency: int | None = None
    max_concurrency_queue: int | None = None
    home_page: str = "/docs"
    log_caller_name: bool = False
    tracing_header: str = "X-Request-Tracing-Id"
    caller_header: str = "X-Caller-Name"
    thread_pool_size: int = 40
    # Sync calls averaging under this many seconds run on the event loop (JOB_INLINE_THRESHOLD_MS;
    # 0 keeps them all in the thread pool, for jobs whose rare slow calls must not stall the loop).
    inline_threshold: float = INLINE_THRESHOLD_S
    # The folder with Swagger UI's files (JOB_SWAGGER_UI_DIR; see openapi.SwaggerAssets).
    swagger_ui_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> WrapperOptions:
        env = os.environ
        return cls(
            job_name=env.get("JOB_NAME", "job"),
            job_version=env.get("JOB_VERSION", "0.0.1"),
            git_version=env.get("GIT_VERSION", ""),
            deployed_by_racetrack_version=env.get("DEPLOYED_BY_RACETRACK_VERSION", ""),
            job_type_version=env.get("JOB_TYPE_VERSION", ""),
            deployment_timestamp=_env_int("JOB_DEPLOYMENT_TIMESTAMP") or 0,
            max_concurrency=_env_int("JOB_MAX_CONCURRENCY"),
            max_concurrency_queue=_env_int("JOB_MAX_CONCURRENCY_QUEUE"),
            home_page=env.get("JOB_HOME_PAGE") or "/docs",
            log_caller_name=_env_flag("LOG_CALLER_NAME"),
            tracing_header=env.get("REQUEST_TRACING_HEADER", "X-Request-Tracing-Id"),
            caller_header=env.get("CALLER_NAME_HEADER", "X-Caller-Name"),
            thread_pool_size=_env_int("JOB_THREAD_POOL_SIZE") or 40,
            inline_threshold=float(env.get("JOB_INLINE_THRESHOLD_MS") or INLINE_THRESHOLD_S * 1000) / 1000,
            swagger_ui_dir=env.get("JOB_SWAGGER_UI_DIR") or None,
        )


class JobApp:
    """ASGI app serving the job class made by `factory` (called in a background thread)."""

    def __init__(self, factory: Callable[[], Any], options: WrapperOptions | None = None) -> None:
        self.factory = factory
        self.options = options or WrapperOptions()
        self.entrypoint: Any = None
        self.ready = False
        self.init_error: str | None = None
        self.metrics = JobMetrics()
        self.pool = ThreadPoolExecutor(max_workers=self.options.thread_pool_size, thread_name_prefix="job")
        self._tracing_header = self.options.tracing_header.lower().encode()
        self._caller_header = self.options.caller_header.lower().encode()
        self._limit = (
            ConcurrencyLimit(self.options.max_concurrency, self.options.max_concurrency_queue)
            if self.options.max_concurrency
            else None
        )
        self._routes: dict[str, dict[str, Handler]] = self._health_routes()
        self._pattern_routes: list[tuple[re.Pattern[str], str, Handler]] = []
        self._prefix_routes: list[tuple[str, Handler]] = []
        self._openapi_cache: dict[str, bytes] = {}
        self._swagger = SwaggerAssets(self.options.swagger_ui_dir)
        self._examples: dict[str, Any] = {}
        self._aux_docs: list[tuple[str, str, Any]] = []
        self._static_docs: list[str] = []
        self._webview: WebviewApp | None = None
        self._perform: FunctionRunner | None = None
        self._perform_check: ArgumentCheck | None = None
        self._user_metrics: Callable[[], Any] | None = None

    # Initialisation --------------------------------------------------------------------------

    def start_initialization(self) -> threading.Thread:
        thread = threading.Thread(target=self.initialize, name="job-init", daemon=True)
        thread.start()
        return thread

    def initialize(self) -> None:
        """Creates the job object and its routes; a failure is kept and reported by /live."""
        started = time.monotonic()
        try:
            self.entrypoint = self.factory()
            attach_to(self.entrypoint)
            routes, patterns, prefixes = self._job_routes(self.entrypoint)
        except BaseException as exc:  # noqa: B036 - anything the user's code raises, even SystemExit
            self.init_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            logger.error("job initialisation failed: %s", self.init_error, exc_info=True)
            return
        merged = self._health_routes()
        merged.update(routes)
        self._routes = merged
        self._pattern_routes = patterns
        self._prefix_routes = prefixes
        self.ready = True
        logger.info(
            "job %s %s ready in %.2f s",
            self.options.job_name,
            self.options.job_version,
            time.monotonic() - started,
        )

    def _job_routes(
        self, job: Any
    ) -> tuple[
        dict[str, dict[str, Handler]], list[tuple[re.Pattern[str], str, Handler]], list[tuple[str, Handler]]
    ]:
        routes: dict[str, dict[str, Handler]] = {}
        patterns: list[tuple[re.Pattern[str], str, Handler]] = []
        prefixes: list[tuple[str, Handler]] = []

        perform = getattr(job, "perform", None)
        if callable(perform):
            self._perform = FunctionRunner(perform, self.pool, self.options.inline_threshold)
            self._perform_check = ArgumentCheck(perform)
            routes["/api/v1/perform"] = {"POST": self._handle_perform}
            routes["/api/v1/parameters"] = {"GET": self._handle_parameters}
        else:  # a job of only a webview or auxiliary endpoints: valid, as upstream
            routes["/api/v1/perform"] = {"POST": self._handle_no_perform}
            routes["/api/v1/parameters"] = {"GET": self._handle_no_perform}
        self._examples = _input_examples(job)

        for path, method_name in _call_optional(job, "auxiliary_endpoints", {}).items():
            config = EndpointConfig(
                path, "POST", getattr(job, method_name) if isinstance(method_name, str) else method_name
            )
            self._add_aux(config, routes, patterns)
        for config in _call_optional(job, "auxiliary_endpoints_v2", []):
            self._add_aux(config, routes, patterns)

        for path, target in _call_optional(job, "static_endpoints", {}).items():
            file_name, mime = (target, None) if isinstance(target, str) else (target[0], target[1])
            url_path = "/api/v1" + _slash(path)
            file_path = Path(file_name)
            if file_path.is_dir():
                prefixes.append((url_path.rstrip("/") + "/", StaticFolder(file_path, url_path)))
            elif file_path.is_file():
                routes[url_path] = {"GET": StaticFile(file_path, mime)}
            else:
                raise FileNotFoundError(f"static endpoint {path}: file {file_name} does not exist")
            self._static_docs.append(_slash(path))

        if callable(getattr(job, "webview_app", None)):
            base_url = f"/pub/job/{self.options.job_name}/{self.options.job_version}{WEBVIEW_PATH}"
            app = job.webview_app(base_url)
            if app is not None:
                self._webview = WebviewApp(app, self.pool, base_url)
                # As upstream: the job's `static` folder is served beside the webview, before it.
                static_folder = Path.cwd() / "static"
                if static_folder.is_dir():
                    static_path = WEBVIEW_PATH + "/static"
                    prefixes.append((static_path + "/", StaticFolder(static_folder, static_path)))
                prefixes.append((WEBVIEW_PATH, self._handle_webview))

        if self._perform is None and not (self._aux_docs or self._static_docs or self._webview):
            raise TypeError(
                f"job class {type(job).__name__} serves nothing: give it a perform method, or "
                "webview_app, auxiliary_endpoints or static_endpoints"
            )
        self._user_metrics = getattr(job, "metrics", None)
        return routes, patterns, prefixes

    def _add_aux(
        self,
        config: EndpointConfig,
        routes: dict[str, dict[str, Handler]],
        patterns: list[tuple[re.Pattern[str], str, Handler]],
    ) -> None:
        path = _slash(config.path)
        method = config.method_name
        handler = _aux_handler(self, config.handler, path, method)
        url_path = "/api/v1" + path
        if "{" in path:
            regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(url_path)) + "$")
            patterns.append((regex, method, handler))
        else:
            routes.setdefault(url_path, {})[method] = handler
        self._aux_docs.append((path, method, config.handler))

    def _health_routes(self) -> dict[str, dict[str, Handler]]:
        routes: dict[str, dict[str, Handler]] = {
            "/health": {"GET": self._handle_health},
            "/live": {"GET": self._handle_live},
            "/ready": {"GET": self._handle_ready},
            "/metrics": {"GET": self._handle_metrics},
            "/docs": {"GET": self._handle_docs},
            "/openapi.json": {"GET": self._handle_openapi},
            "": {"GET": self._handle_home},
            "/": {"GET": self._handle_home},
        }
        for name in SWAGGER_UI_FILES:
            routes[SWAGGER_ASSET_PATH + name] = {"GET": self._handle_swagger_asset}
        return routes

    # ASGI entry ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        base, path = split_job_prefix(scope["path"])
        if kind == "websocket":
            if self._webview is not None and path.startswith(WEBVIEW_PATH + "/"):
                await self._webview.websocket(scope, receive, send, base)
            else:
                await send({"type": "websocket.close", "code": 1000})
            return
        methods = self._routes.get(path)
        if methods is not None:
            handler = methods.get(scope["method"])
            if handler is None:
                if scope["method"] == "HEAD" and "GET" in methods:
                    handler = methods["GET"]
                else:
                    await respond_error(send, 405, f"method {scope['method']} not allowed on {path}")
                    return
            await handler(scope, receive, send, base, path)
            return
        for regex, method, handler in self._pattern_routes:
            if scope["method"] == method and regex.match(path):
                await handler(scope, receive, send, base, path)
                return
        for prefix, handler in self._prefix_routes:
            if path.startswith(prefix):
                await handler(scope, receive, send, base, path)
                return
        if not self.ready and path.startswith("/api/"):
            await self._respond_not_ready(send)
            return
        await respond_error(send, 404, f"no endpoint {scope['method']} {path or '/'} in this job")

    async def _respond_not_ready(self, send: Send) -> int:
        if self.init_error:
            return await respond_error(send, 500, f"the job failed to initialise: {self.init_error}")
        return await respond_error(send, 503, "the job is still initialising, try again shortly")

    # Job endpoints -----------------------------------------------------------------------------

    async def _handle_perform(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        started = time.perf_counter()
        metrics = self.metrics
        metrics.started("/api/v1/perform")
        limit = self._limit
        if limit is not None and not await limit.acquire():
            status = await respond_error(send, 429, "too many requests: the job's queue is full, retry later")
            metrics.done(status, time.perf_counter() - started, "/api/v1/perform")
            return status
        try:
            status = await self._perform_once(scope, receive, send)
        finally:
            if limit is not None:
                limit.release()
        metrics.done(status, time.perf_counter() - started, "/api/v1/perform")
        return status

    async def _perform_once(self, scope: Scope, receive: Receive, send: Send) -> int:
        body = await read_body(receive)
        try:
            payload = json.loads(body) if body else {}
        except ValueError as exc:
            return await respond_error(send, 400, f"request body is not valid JSON: {exc}")
        if not isinstance(payload, dict):
            return await respond_error(
                send,
                400,
                f"request body must be a JSON object of perform's arguments, got {type(payload).__name__}",
            )
        check = self._perform_check
        runner = self._perform
        assert check is not None and runner is not None
        try:
            check.check(payload)
        except BadArguments as exc:
            return await respond_error(send, 400, str(exc))
        return await self._run(scope, send, runner, payload, "perform")

    async def _run(
        self, scope: Scope, send: Send, runner: FunctionRunner, kwargs: dict[str, Any], what: str
    ) -> int:
        tracing_id = caller = None
        for key, value in scope["headers"]:
            if key == self._tracing_header:
                tracing_id = value.decode("latin-1")
            elif key == self._caller_header:
                caller = value.decode("latin-1")
        if self.options.log_caller_name:
            logger.info("%s called by %s", what, caller or "unknown caller")
        extra_headers = [(self._tracing_header, tracing_id.encode("latin-1"))] if tracing_id else None
        try:
            with RequestScope(scope):
                result = await runner(kwargs)
            body = dumps(result)
        except JobHTTPError as exc:
            return await respond_error(send, exc.status, exc.message, extra_headers)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            logger.error("%s failed (tracing id %s): %s", what, tracing_id, message, exc_info=True)
            return await respond_error(send, 500, f"{what} failed: {message}", extra_headers)
        return await respond(send, 200, body, headers=extra_headers)

    async def _handle_parameters(
        self, scope: Scope, receive: Receive, send: Send, base: str, path: str
    ) -> int:
        return await respond_json(send, 200, describe_parameters(self.entrypoint.perform))

    async def _handle_no_perform(
        self, scope: Scope, receive: Receive, send: Send, base: str, path: str
    ) -> int:
        served = [WEBVIEW_PATH + "/"] if self._webview else []
        served += ["/api/v1" + p for p, _, _ in self._aux_docs] + ["/api/v1" + p for p in self._static_docs]
        return await respond_error(
            send,
            404,
            f"job class {type(self.entrypoint).__name__} has no perform method, so {path} is not served; "
            f"this job serves {', '.join(served)}",
        )

    async def _handle_webview(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        assert self._webview is not None
        sub = path[len(WEBVIEW_PATH) :]
        if not sub:
            # With the slash, the page's relative links resolve inside the webview.
            location = base + WEBVIEW_PATH + "/"
            if scope.get("query_string"):
                location += "?" + scope["query_string"].decode("latin-1")
            return await respond(send, 307, b"", b"text/plain", [(b"location", location.encode())])
        if not sub.startswith("/"):
            return await respond_error(send, 404, f"no endpoint {scope['method']} {path} in this job")
        started = time.perf_counter()
        self.metrics.started(WEBVIEW_PATH)
        with RequestScope(scope):
            status = await self._webview(scope, receive, send, base, sub)
        self.metrics.done(status, time.perf_counter() - started, WEBVIEW_PATH)
        return status

    # Health, metrics, docs -----------------------------------------------------------------------

    def _status(self) -> str:
        if self.init_error:
            return "fail"
        return "pass" if self.ready else "starting"

    async def _handle_health(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        opts = self.options
        return await respond_json(
            send,
            500 if self.init_error else 200,
            {
                "service": "job",
                "job_name": opts.job_name,
                "job_version": opts.job_version,
                "git_version": opts.git_version,
                "deployed_by_racetrack_version": opts.deployed_by_racetrack_version,
                "job_type_version": opts.job_type_version,
                "deployment_timestamp": opts.deployment_timestamp,
                "live": self.init_error is None,
                "ready": self.ready,
                "status": self._status(),
                "error": self.init_error,
            },
        )

    async def _handle_live(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        body: dict[str, Any] = {
            "live": self.init_error is None,
            "deployment_timestamp": self.options.deployment_timestamp,
        }
        if self.init_error:
            body["error"] = self.init_error
            return await respond_json(send, 500, body)
        return await respond_json(send, 200, body)

    async def _handle_ready(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        if self.init_error:  # final: a readiness check can stop waiting and report it
            return await respond_json(send, 500, {"ready": False, "error": self.init_error})
        return await respond_json(send, 200 if self.ready else 503, {"ready": self.ready})

    async def _handle_metrics(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        user: list[dict[str, Any]] = []
        if self.ready and callable(self._user_metrics):
            try:
                user = list(self._user_metrics())
            except Exception as exc:  # noqa: BLE001 - the job's own metrics must not break /metrics
                logger.error("metrics() of the job failed: %s", exc)
        text = self.metrics.render(user)
        return await respond(send, 200, text.encode(), b"text/plain; version=0.0.4; charset=utf-8")

    async def _handle_docs(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        html = swagger_html(
            title=f"Job {self.options.job_name}",
            openapi_url=base + "/openapi.json",
            version=self._swagger.version,
        )
        return await respond(send, 200, html.encode(), b"text/html; charset=utf-8")

    async def _handle_swagger_asset(
        self, scope: Scope, receive: Receive, send: Send, base: str, path: str
    ) -> int:
        name = path[len(SWAGGER_ASSET_PATH) :]
        body = self._swagger.file(name)
        if body is None:
            return await respond_error(
                send,
                404,
                f"Swagger UI file {name} is not installed in this job "
                f"(looked in {self._swagger.folder or 'JOB_SWAGGER_UI_DIR, which is not set'})",
            )
        return await respond(
            send, 200, body, SWAGGER_UI_FILES[name], [(b"cache-control", ASSET_CACHE_CONTROL)]
        )

    async def _handle_openapi(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        if not self.ready:
            return await self._respond_not_ready(send)
        cached = self._openapi_cache.get(base)
        if cached is None:
            spec = openapi_spec(
                job_name=self.options.job_name,
                job_version=self.options.job_version,
                base_path=base,
                perform=self._perform.func if self._perform is not None else None,
                examples=self._examples,
                aux_endpoints=self._aux_docs,
                static_paths=self._static_docs,
                has_webview=self._webview is not None,
            )
            cached = json.dumps(spec, default=str).encode()
            # Bounded: the prefix comes from the request, and a caller could send endless variants.
            if len(self._openapi_cache) < 8:
                self._openapi_cache[base] = cached
        return await respond(send, 200, cached)

    async def _handle_home(self, scope: Scope, receive: Receive, send: Send, base: str, path: str) -> int:
        location = (base + _slash(self.options.home_page)).encode()
        return await respond(send, 307, b"", b"text/plain", [(b"location", location)])


# Helpers ---------------------------------------------------------------------------------------


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _slash(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _call_optional(job: Any, name: str, default: Any) -> Any:
    method = getattr(job, name, None)
    if not callable(method):
        return default
    return method() or default


def _input_examples(job: Any) -> dict[str, Any]:
    """Examples per endpoint, from docs_input_examples() and docs_input_example(); checked here."""
    examples = dict(_call_optional(job, "docs_input_examples", {}))
    single = _call_optional(job, "docs_input_example", None)
    if single is not None:
        examples.setdefault("/perform", single)
    for endpoint, example in examples.items():
        if not isinstance(example, dict):
            raise ValueError(f"input example for {endpoint} must be a dict, got {type(example).__name__}")
        try:
            encoded = json.dumps(example)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"input example for {endpoint} cannot be encoded as JSON: {exc}") from None
        if len(encoded) > MAX_EXAMPLE_BYTES:
            raise ValueError(f"input example for {endpoint} is larger than 1 MB")
    return {_slash(key): value for key, value in examples.items()}


_CONVERTERS: dict[Any, Callable[[str], Any]] = {
    int: int,
    float: float,
    bool: lambda v: v.lower() in ("1", "true"),
}


def _aux_handler(app: JobApp, func: Callable[..., Any], path: str, method: str) -> Handler:
    """A route calling an auxiliary endpoint: path, query and body parameters become kwargs."""
    runner = FunctionRunner(func, app.pool, app.options.inline_threshold)
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations: no type checks
        hints = {}
    path_names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
    sources: dict[str, str] = {}
    converters: dict[str, Callable[[str], Any]] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        hint = hints.get(param.name, param.annotation)
        marker = ""
        if typing.get_origin(hint) is typing.Annotated:
            args = typing.get_args(hint)
            hint = args[0]
            marker = next(
                (
                    type(meta).__name__
                    for meta in args[1:]
                    if type(meta).__name__ in ("Body", "Query", "Path")
                ),
                "",
            )
        if param.name in path_names or marker == "Path":
            sources[param.name] = "path"
        elif marker == "Query" or (method == "GET" and marker != "Body"):
            sources[param.name] = "query"
        elif marker == "Body":
            sources[param.name] = "whole-body"
        else:
            sources[param.name] = "body"
        converter = _CONVERTERS.get(hint)
        if converter is not None:
            converters[param.name] = converter
    body_fields = [name for name, source in sources.items() if source == "body"]
    regex = re.compile("^/api/v1" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
    check = ArgumentCheck(func, f"endpoint {path}") if set(sources.values()) <= {"body"} else None
    endpoint_name = "/api/v1" + path

    async def handler(scope: Scope, receive: Receive, send: Send, base: str, req_path: str) -> int:
        started = time.perf_counter()
        app.metrics.started(endpoint_name)
        status = await call(scope, receive, send, req_path)
        app.metrics.done(status, time.perf_counter() - started, endpoint_name)
        return status

    async def call(scope: Scope, receive: Receive, send: Send, req_path: str) -> int:
        kwargs: dict[str, Any] = {}
        try:
            if path_names:
                match = regex.match(req_path)
                if match:
                    for name, value in match.groupdict().items():
                        kwargs[name] = converters.get(name, str)(value)
            if scope.get("query_string"):
                for name, value in parse_qsl(scope["query_string"].decode("latin-1")):
                    if sources.get(name) == "query":
                        kwargs[name] = converters.get(name, str)(value)
        except ValueError as exc:
            return await respond_error(send, 400, f"bad parameter for {path}: {exc}")
        if method != "GET":
            body = await read_body(receive)
            try:
                payload = json.loads(body) if body else None
            except ValueError as exc:
                return await respond_error(send, 400, f"request body is not valid JSON: {exc}")
            whole = [name for name, source in sources.items() if source == "whole-body"]
            if whole:
                kwargs[whole[0]] = payload
            elif isinstance(payload, dict) and (check is not None or any(k in payload for k in body_fields)):
                if check is not None:
                    try:
                        check.check(payload)
                    except BadArguments as exc:
                        return await respond_error(send, 400, str(exc))
                kwargs.update(payload)
            elif len(body_fields) == 1 and payload is not None:
                kwargs[body_fields[0]] = payload
        missing = [
            name
            for name, p in signature.parameters.items()
            if name in sources and p.default is p.empty and name not in kwargs
        ]
        if missing:
            return await respond_error(
                send, 400, f"missing required argument '{missing[0]}' for endpoint {path}"
            )
        return await app._run(scope, send, runner, kwargs, f"endpoint {path}")

    return handler
