"""`python -m api.lifecycle`: upgrades the database, then serves the lifecycle API with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from api.lifecycle.app import create_app
from api.settings import get_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.lifecycle_host, port=settings.lifecycle_port, log_level="info")


if __name__ == "__main__":
    main()
