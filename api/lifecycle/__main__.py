"""`python -m api.lifecycle`: upgrades the database, then serves the lifecycle API and its deploy engine."""

from __future__ import annotations

import logging
import threading

import uvicorn

from api.data_dir import make_private
from api.db import create_db_engine, session_factory
from api.lifecycle.app import create_app
from api.settings import settings_or_exit


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_or_exit()
    make_private(settings.data_dir)
    db_engine = create_db_engine(settings.effective_database_url)
    app = create_app(settings, db_engine=db_engine)
    if not settings.deploy_engine:
        logging.getLogger("racetrack.lifecycle").warning("RACETRACK_DEPLOY_ENGINE=false: deploys will fail")
        uvicorn.run(app, host=settings.lifecycle_host, port=settings.lifecycle_port, log_level="info")
        return
    from api.deployer import DeployEngine  # imported only when used: it brings in Pulumi and Docker clients

    engine = DeployEngine(settings, session_factory(db_engine))
    app.state.engine = engine
    # Bringing interrupted families back to their last revision runs Pulumi: not before serving.
    threading.Thread(target=engine.recover, name="recover", daemon=True).start()
    engine.start_monitor(settings.monitor_interval)
    try:
        uvicorn.run(app, host=settings.lifecycle_host, port=settings.lifecycle_port, log_level="info")
    finally:
        engine.shutdown()


if __name__ == "__main__":
    main()
