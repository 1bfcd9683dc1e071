"""`python -m api.lifecycle`: upgrades the database, then serves the lifecycle API and its deploy engine."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading

import uvicorn
from fastapi import FastAPI

from api.data_dir import make_private
from api.db import create_db_engine, session_factory
from api.lifecycle.app import create_app
from api.settings import Settings, settings_or_exit


def _serve(app: FastAPI, settings: Settings) -> None:
    """Serves on the lifecycle's host and, when the local Kubernetes cluster runs here, on this host's
    address on its pod network too: the auth sidecars of jobs there ask the lifecycle about each call
    (reachable from the cluster's pods only, as the Docker bridge's address is from containers)."""
    hosts = [settings.lifecycle_host]
    if ipaddress.ip_address(socket.gethostbyname(settings.lifecycle_host)).is_loopback:
        from api.deployer.targets import cluster_host_address

        extra = cluster_host_address(settings)
        if extra:
            hosts.append(extra)
    if len(hosts) == 1:
        uvicorn.run(app, host=hosts[0], port=settings.lifecycle_port, log_level="info")
        return
    sockets = []
    for host in hosts:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, settings.lifecycle_port))
        sockets.append(sock)
    logging.getLogger("racetrack.lifecycle").info(
        "serving on %s, port %d", ", ".join(hosts), settings.lifecycle_port
    )
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=sockets)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_or_exit()
    make_private(settings.data_dir, leave=(settings.cluster_dir,))
    db_engine = create_db_engine(settings.effective_database_url)
    app = create_app(settings, db_engine=db_engine)
    if not settings.deploy_engine:
        logging.getLogger("racetrack.lifecycle").warning("RACETRACK_DEPLOY_ENGINE=false: deploys will fail")
        _serve(app, settings)
        return
    from api.deployer import DeployEngine  # imported only when used: it brings in Pulumi and Docker clients

    engine = DeployEngine(settings, session_factory(db_engine))
    app.state.engine = engine
    # Bringing interrupted families back to their last revision runs Pulumi: not before serving.
    threading.Thread(target=engine.recover, name="recover", daemon=True).start()
    engine.start_monitor(settings.monitor_interval)
    try:
        _serve(app, settings)
    finally:
        engine.shutdown()


if __name__ == "__main__":
    main()
