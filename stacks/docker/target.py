"""The local Docker engine as an infrastructure target.

Images are built on the same engine inside the stack (the Image resource), so delivering them is
nothing more; each replica is a container publishing the job's port on the bind address, and pub
forwards to all of them. Jobs call pub at `host.docker.internal` (mapped to the host's gateway in
every job container). Logs and the monitor read the containers by their `racetrack/*` labels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from stacks.spec import FamilySpec
from stacks.target import DRAINING, LogFollower, Replica, TargetConfig

__all__ = ["DockerTarget", "DRAINING_SUFFIX", "INSTALLATION_LABEL"]

# Set by the stack's container provider on a job container it drains before removing it.
DRAINING_SUFFIX = "-draining"
INSTALLATION_LABEL = "racetrack/installation"

logger = logging.getLogger("racetrack.deployer")


class DockerTarget:
    name = "docker"
    # Upstream's Docker plugin registers its target as "docker" too, so its manifests work unchanged.
    aliases: tuple[str, ...] = ()
    # The lifecycle reaches job containers at their addresses as pub does: the monitor asks their /live.
    live_probes = True

    def __init__(self, config: TargetConfig) -> None:
        self.config = config

    @staticmethod
    def program(spec: FamilySpec) -> Callable[[], None]:
        from stacks.docker.program import program

        return program(spec)

    @property
    def name_prefix(self) -> str:
        """Set for a second Docker-based target on the same engine: its containers' names start with it."""
        return str(self.config.options.get("name_prefix") or "")

    def stack_settings(self, *, build_log_path: str | None) -> dict[str, Any]:
        options = self.config.options
        return {
            **({"name_prefix": self.name_prefix} if self.name_prefix else {}),
            "network": options.get("network", "racetrack"),
            "build_log_path": build_log_path or "",
            "ready_timeout": options.get("ready_timeout", 300),
            **{
                key: options[key]
                for key in ("memory_max", "cpu_max", "pids_limit", "drain_seconds", "installation")
                if options.get(key)
            },
            "build_settings": self.config.build.as_inputs(),
        }

    def deliver_images(self, spec: FamilySpec) -> None:
        """Nothing to do: the stack's Image resources build on the engine that runs the containers."""

    def addresses(self, version_outputs: Mapping[str, Any]) -> list[str]:
        return [address for address in version_outputs.get("addresses") or [] if address]

    def job_pub_url(self) -> str:
        return self.config.job_pub_url or f"http://host.docker.internal:{self.config.pub_port}/pub"

    def public_url(self, name: str, version: str) -> str:
        return f"{self.config.pub_url.rstrip('/')}/job/{name}/{version}"

    def runtime_logs(self, name: str, version: str, tail: int) -> str:
        containers = self._containers([f"racetrack/job-name={name}", f"racetrack/job-version={version}"])
        parts = []
        for container in containers:
            text = container.logs(tail=tail if tail > 0 else "all").decode("utf-8", "replace")
            if len(containers) > 1:
                replica = container.labels.get("racetrack/replica", "?")
                text = f"==> replica {replica} ({container.name}) <==\n{text}"
            parts.append(text)
        return "\n".join(parts)

    def follow_logs(self, name: str, version: str, tail: int) -> LogFollower | None:
        from stacks.docker.logs import DockerLogFollower

        containers = self._containers([f"racetrack/job-name={name}", f"racetrack/job-version={version}"])
        running = [container for container in containers if container.status == "running"]
        return DockerLogFollower(running, tail) if running else None

    def replicas(self) -> dict[tuple[str, str], list[Replica]]:
        import docker.errors

        found: dict[tuple[str, str], list[Replica]] = {}
        for container in self._containers([]):
            key = (container.labels["racetrack/job-name"], container.labels["racetrack/job-version"])
            state = container.status
            if state == "running" and container.name.endswith(DRAINING_SUFFIX):
                state = DRAINING
            try:
                detail = "" if state in ("running", DRAINING) else _log_tail(container)
            except docker.errors.NotFound:
                continue  # removed since it was listed
            index = int(container.labels.get("racetrack/replica", "0"))
            installation = container.labels.get(INSTALLATION_LABEL, "")
            found.setdefault(key, []).append(
                Replica(container.name, state, detail, index, _address(container), installation)
            )
        return found

    def _containers(self, labels: list[str]) -> list[Any]:
        """This target's job containers (not those of another Docker-based target on the engine)."""
        return [c for c in _job_containers(labels) if c.name.startswith(f"{self.name_prefix}job-")]

    def remove_replica(self, name: str) -> None:
        """Removes a job container (an orphan the monitor found); gone already is fine."""
        import docker

        try:
            docker.from_env().containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass

    def watch(self, changed: Callable[[], None], stop: threading.Event) -> None:
        """Follows the engine's container events. After an engine restart (a host reboot) the jobs'
        containers come back with new addresses, and pub must learn them within seconds; a lost
        connection to the engine (it is restarting) is retried every second."""
        import docker

        # A deploy renames a container it is about to remove (DRAINING_SUFFIX): the registry must move
        # off it at once.
        events = {"type": "container", "label": "racetrack/resource=job", "event": ["start", "die", "rename"]}
        while not stop.is_set():
            try:
                client = docker.from_env()
                changed()  # the engine answers (again): what happened while it was away counts too
                for _ in client.events(decode=True, filters=events):
                    changed()
                    if stop.is_set():
                        return
            except Exception as exc:  # noqa: BLE001 - the engine is away (restarting); try again
                logger.debug("following job containers: %s", exc)
            stop.wait(1.0)


def _job_containers(labels: list[str]) -> list[Any]:
    """The containers serving jobs (not their extra images), replica 0 first."""
    import docker

    client = docker.from_env()
    # A container removed between the engine's list and its inspection (a delete, a redeploy) is skipped:
    # without ignore_removed one such race fails the whole listing, and with it a monitor round.
    containers = client.containers.list(
        all=True,
        filters={"label": ["racetrack/resource=job", "racetrack/role=job", *labels]},
        ignore_removed=True,
    )
    return sorted(containers, key=lambda c: int(c.labels.get("racetrack/replica", "0")))


def _address(container: Any) -> str:
    """The replica's address on its version's network and the port it labels ("" when it has none yet)."""
    port = container.labels.get("racetrack/port")
    networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    ips = [network["IPAddress"] for network in networks.values() if network.get("IPAddress")]
    return f"{ips[0]}:{port}" if ips and port and container.status == "running" else ""


def _log_tail(container: Any, lines: int = 5) -> str:
    import docker

    try:
        return str(container.logs(tail=lines).decode("utf-8", "replace").strip()[-500:])
    except docker.errors.NotFound:  # removed since it was listed
        return ""
