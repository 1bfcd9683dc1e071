"""`python -m api.pub [--sidecar] [--host H] [--port P]`: serves pub with uvicorn (uvloop, httptools)."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from api.errors import PlatformError
from api.settings import get_settings

from ._app import create_app
from ._config import PubConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api.pub", description="Racetrack pub gateway")
    parser.add_argument(
        "--sidecar",
        action="store_true",
        help="guard one job at RACETRACK_PUB_SIDECAR_TARGET (job RACETRACK_PUB_SIDECAR_JOB_NAME)",
    )
    parser.add_argument("--host", help="address to listen on (default RACETRACK_PUB_HOST, 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        help="port (default RACETRACK_PUB_PORT=7005; a sidecar takes RACETRACK_PUB_SIDECAR_PORT when set)",
    )
    parser.add_argument("--workers", type=int, help="processes (default RACETRACK_PUB_WORKERS, 1)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        config = PubConfig.from_settings(settings, sidecar=args.sidecar)
    except PlatformError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)  # noqa: T201
        raise SystemExit(1) from None
    port = args.port or (config.sidecar and settings.pub_sidecar_port) or settings.pub_port
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    workers = args.workers or settings.pub_workers
    if workers > 1:
        # Worker processes build their own app from the same settings (the sidecar target included).
        app: object = "api.pub._app:app_from_settings"
    else:
        app = create_app(config)
    uvicorn.run(
        app,  # type: ignore[arg-type]
        factory=workers > 1,
        workers=workers,
        host=args.host or settings.pub_host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        access_log=False,  # one line per call costs more than the proxying; metrics count calls
        server_header=False,  # the job's Server and Date headers are passed through
        date_header=False,
        proxy_headers=False,  # pub appends the peer to X-Forwarded-For itself; uvicorn must not replace it
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
