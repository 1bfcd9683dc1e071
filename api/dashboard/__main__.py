"""`python -m api.dashboard` serves the dashboard on the configured port (default 7003)."""

from __future__ import annotations

import uvicorn

from api.dashboard.app import create_app
from api.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        create_app(settings), host=settings.lifecycle_host, port=settings.dashboard_port, proxy_headers=True
    )


if __name__ == "__main__":
    main()
