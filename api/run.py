"""`python -m api.run` (`make run`): the whole platform in the foreground.

Starts the lifecycle (with its deploy engine), pub and the dashboard as child processes on their
configured ports, stops them all on Ctrl-C, and stops the rest when one of them exits. Job
containers call other jobs through pub at `host.docker.internal`: pub also listens on the Docker
bridge's gateway address (reachable from local containers only) unless `RACETRACK_PUB_BRIDGE=false`.
That is a second address of the same pub, not a second pub, so both share one auth cache and one
async-call service.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time

from api.data_dir import make_private
from api.settings import get_settings, settings_or_exit

COMPONENTS = ("api.lifecycle", "api.pub", "api.dashboard")


def _docker_bridge_gateway() -> str | None:
    """The Docker host's address on the default bridge (what `host-gateway` resolves to)."""
    try:
        import docker

        config = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
    except Exception:  # noqa: BLE001 - no Docker engine, or an unusual one: jobs just cannot call pub
        return None
    # Engines since Docker 28 record only the subnet; the gateway is then its first address.
    return config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


def commands() -> list[list[str]]:
    settings = get_settings()
    runs = [[sys.executable, "-m", name] for name in COMPONENTS]
    if os.environ.get("RACETRACK_PUB_BRIDGE", "true").lower() != "false":
        from api.deployer.targets import cluster_host_address

        # Jobs on the local Kubernetes cluster call pub at this host's address on the pod network.
        gateways = [_docker_bridge_gateway(), cluster_host_address(settings)]
        extra = [g for g in dict.fromkeys(gateways) if g and g != settings.pub_host]
        if extra:
            pub = runs[COMPONENTS.index("api.pub")]
            pub += ["--host", settings.pub_host]
            for gateway in extra:
                pub += ["--host", gateway]
            pub += ["--port", str(settings.pub_port)]
    return runs


def main() -> int:
    settings = settings_or_exit()
    # The children inherit the owner-only umask; the local cluster's state is the cluster scripts' to keep.
    make_private(settings.data_dir, leave=(settings.cluster_dir,))
    runs = commands()
    children = [subprocess.Popen(command) for command in runs]
    print(
        f"racetrack: lifecycle {settings.effective_lifecycle_url}, "
        f"dashboard {settings.effective_dashboard_url}, "
        f"pub {settings.effective_pub_url}, job pages at {settings.job_url('<job>')}; "
        f"data in {settings.data_dir}",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for command, child in zip(runs, children, strict=True):
            if child.poll() is not None:
                print(f"racetrack: {' '.join(command[1:])} exited with {child.returncode}", file=sys.stderr)
                code = child.returncode or 1
                stopping = True
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
    return code


if __name__ == "__main__":
    sys.exit(main())
