"""Starting the job's HTTP server (uvicorn, one process) around a JobApp."""

from __future__ import annotations

import logging
import os
from typing import Any

from .app import JobApp, WrapperOptions
from .loader import load_entrypoint_class

__all__ = ["serve_entrypoint", "serve_job_class", "serve_proxy", "serve_app"]


def _configure_logs() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve_app(app: JobApp, *, port: int = 7000, host: str = "0.0.0.0") -> None:
    """Runs `app` with uvicorn until stopped; the job class initialises in the background."""
    import uvicorn

    _configure_logs()
    app.start_initialization()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http="httptools" if _has("httptools") else "h11",
        lifespan="off",
        access_log=os.environ.get("JOB_ACCESS_LOG", "").lower() in ("1", "true"),
        log_config=None,
        backlog=2048,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run()


def serve_entrypoint(
    entrypoint_path: str, entrypoint_class: str | None = None, *, port: int = 7000, host: str = "0.0.0.0"
) -> None:
    """Serves the class found in `entrypoint_path` (run from the job's directory)."""

    def factory() -> Any:
        return load_entrypoint_class(entrypoint_path, entrypoint_class)()

    serve_app(JobApp(factory, WrapperOptions.from_env()), port=port, host=host)


def serve_job_class(job_class: type[Any], *, port: int = 7000) -> None:
    """Serves a class directly, for jobs run outside Racetrack: `serve_job_class(Job)`."""
    serve_app(JobApp(job_class, WrapperOptions.from_env()), port=port)


def serve_proxy(*, port: int = 7000, host: str = "0.0.0.0") -> None:
    """Serves a docker-proxy job: perform forwards to the user's container (see proxy.py)."""
    from .proxy import ProxyJob

    serve_app(JobApp(ProxyJob, WrapperOptions.from_env()), port=port, host=host)


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True
