"""The lifecycle application factory.

`create_app(settings, engine=None)` opens the database, upgrades it to the newest migration, makes sure an
admin exists, and mounts the API under `/lifecycle/api/v1` (where `racetrack-client` looks for it).
`engine` is the deploy engine (`app.state.engine`, see `api.lifecycle.deployments.DeployEngine`); without
one, deployments fail at once with "no deploy engine is configured".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text

from api.auth import ensure_admin
from api.db import create_db_engine, migrate, session_factory, session_scope
from api.lifecycle.body_limits import BodyLimits
from api.lifecycle.deployments import DeployEngine
from api.lifecycle.errors import error_responses, install_error_handlers
from api.lifecycle.log_stream import SOCKETIO_PATH, LogStreams
from api.lifecycle.routes import ROUTERS
from api.lifecycle.routes.async_calls import purge_periodically
from api.lifecycle.routes.info import VERSION
from api.lifecycle.routes.metrics import RequestMetrics, metrics_router
from api.lifecycle.schemas import HealthResponse
from api.lifecycle.throttle import Throttle
from api.settings import Settings

__all__ = ["create_app", "BASE_PATH", "API_PREFIX"]

BASE_PATH = "/lifecycle"
API_PREFIX = f"{BASE_PATH}/api/v1"


def _health_router(app: FastAPI) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/live", response_model=HealthResponse)
    def live() -> HealthResponse:
        return HealthResponse(live=True, ready=True, status="pass")

    @router.get("/ready", response_model=HealthResponse)
    def ready() -> HealthResponse:
        with app.state.db_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return HealthResponse(live=True, ready=True, status="pass")

    @router.get("/health", response_model=HealthResponse)
    def health() -> HealthResponse:
        return ready()

    return router


def create_app(
    settings: Settings,
    engine: DeployEngine | None = None,
    *,
    db_engine: Engine | None = None,
    run_migrations: bool = True,
) -> FastAPI:
    """Builds the lifecycle app. `db_engine` defaults to one for `settings.effective_database_url`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if db_engine is None:
        db_engine = create_db_engine(settings.effective_database_url)
    if run_migrations:
        migrate(db_engine)
    sessions = session_factory(db_engine)
    with session_scope(sessions) as session:
        ensure_admin(session, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        purging = asyncio.create_task(purge_periodically(sessions, settings))
        try:
            yield
        finally:
            purging.cancel()
            await app.state.log_streams.close_all()

    app = FastAPI(
        lifespan=lifespan,
        title="Racetrack lifecycle",
        version=VERSION,
        description='Registry of jobs, deployments, users and permissions. Errors: `{"error", "type"}`.',
        openapi_url=f"{BASE_PATH}/openapi.json",
        docs_url=None,  # served below with Swagger UI from this machine, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.db_engine = db_engine
    app.state.sessions = sessions
    app.state.throttle = Throttle(settings)
    install_error_handlers(app)
    app.add_middleware(BodyLimits, settings=settings, api_prefix=API_PREFIX)
    app.add_middleware(RequestMetrics)

    for router in ROUTERS:
        # Unparseable (400), too large (413) and mismatched (422) bodies may come from any route.
        app.include_router(router, prefix=API_PREFIX, responses=error_responses(400, 413, 422))
    health = _health_router(app)
    app.include_router(health, prefix=BASE_PATH)
    app.include_router(health, include_in_schema=False)
    # At the root, where Prometheus looks by default, and under the lifecycle's prefix for a proxy
    # that forwards only that.
    metrics = metrics_router(app)
    app.include_router(metrics)
    app.include_router(metrics, prefix=BASE_PATH, include_in_schema=False)

    # Live logs (`racetrack logs -f`), where upstream's client looks for them.
    app.state.log_streams = LogStreams(app)
    app.mount(f"/{SOCKETIO_PATH}", app.state.log_streams.asgi_app())
    app.mount(
        f"{BASE_PATH}/docs/static",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger-ui",
    )

    @app.get(f"{BASE_PATH}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{BASE_PATH}/openapi.json",
            title="Racetrack lifecycle",
            swagger_js_url=f"{BASE_PATH}/docs/static/swagger-ui-bundle.js",
            swagger_css_url=f"{BASE_PATH}/docs/static/swagger-ui.css",
            swagger_favicon_url=f"{BASE_PATH}/docs/static/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(BASE_PATH, include_in_schema=False)
    @app.get(f"{BASE_PATH}/", include_in_schema=False)
    def home() -> Any:
        return RedirectResponse(f"{BASE_PATH}/docs")

    return app
