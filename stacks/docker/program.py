"""The Pulumi program of a job family on the local Docker engine: a pure function of its FamilySpec.

Per version: its images (built, or found again by tag and context digest), one container per
replica running the job image, and one container per extra image (e.g. the user's own server behind
the docker-proxy job type) reachable by alias, all on the version's own network. No port is published
on the host: pub runs in the host's network namespace and calls each container at its address on the
version's bridge (the registry keeps it; the lifecycle's monitor follows it when a restart changes it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from stacks.docker.resources import Container, Image, Network
from stacks.quantities import memory_bytes, nano_cpus
from stacks.spec import ContainerSpec, FamilySpec, ImageSpec, VersionSpec, resource_name

__all__ = ["image_inputs", "program"]


def program(spec: FamilySpec) -> Callable[[], None]:
    def declare() -> None:
        settings = spec.target_settings
        versions = {}
        for version in spec.versions:
            network = Network(
                f"{resource_name(spec.family, version.version)}-network",
                version_network(spec.family, version.version, settings),
            )
            versions[version.version] = _declare_version(spec, version, network, settings)
        pulumi.export("versions", versions)
        pulumi.export("latest", spec.latest)
        pulumi.export("revision", spec.revision)

    return declare


def version_network(family: str, version: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A bridge of the version's own: its containers reach each other and pub (on the host, which
    reaches every bridge's addresses), but no other job's containers nor the platform's database
    (Docker drops traffic between bridges).

    One per version, not per family: an address on it can only ever be held by one of this version's
    containers. When containers restart (an engine restart, a host reboot) each takes whatever
    address is free on its network; on a network shared by versions, one version's container could
    take the address another version had, and pub, until it learns the new addresses, would forward
    callers of one version to the other. A network keeps its subnet for its whole life."""
    return {
        "name": f"{settings.get('network', 'racetrack')}-{resource_name(family, version)}",
        "labels": {
            "racetrack/job-name": family,
            "racetrack/job-version": version,
            "racetrack/resource": "network",
        },
    }


def _declare_version(
    spec: FamilySpec, version: VersionSpec, network: Network, settings: dict[str, Any]
) -> dict[str, Any]:
    # A second Docker-based target on the same engine names its containers apart (`name_prefix`).
    name = settings.get("name_prefix", "") + resource_name(spec.family, version.version)
    labels = {
        "racetrack/job-name": spec.family,
        "racetrack/job-version": version.version,
        "racetrack/resource": "job",
        **version.labels,
    }
    if settings.get("installation"):
        labels["racetrack/installation"] = settings["installation"]
    images = {}
    for image in version.images:
        images[image.role] = Image(f"{name}-{image.role}-image", image_inputs(image, labels, settings))
    run = version.run
    limits = _limits(run, settings)
    env = {**run.env, "JOB_DEPLOYMENT_TIMESTAMP": str(version.deployment_timestamp)}
    extra_hosts = {"host.docker.internal": "host-gateway"}

    main = version.main_image
    job_env = dict(env)
    for image in version.images[1:]:
        alias = f"{name}-{image.role}"
        if image.address_env:
            job_env[image.address_env] = f"{alias}:{image.port}"
        Container(
            alias,
            {
                "name": alias,
                "image": image.tag,
                "image_id": images[image.role].image_id,
                "env": env,
                "secret_env": pulumi.Output.secret(run.secret_env) if run.secret_env else {},
                "labels": {**labels, "racetrack/role": image.role},
                "network": network.name,
                "network_aliases": [alias],
                "restart_policy": "unless-stopped",
                "extra_hosts": extra_hosts,
                **limits,
                # The user's own server: its image chooses its user; it may need to switch to it.
                **_locked_down(("CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE")),
            },
        )

    addresses = []
    containers = []
    for replica in range(max(1, run.replicas)):
        suffix = "" if replica == 0 else f"-{replica}"
        container = Container(
            f"{name}{suffix}",
            {
                "name": f"{name}{suffix}",
                "image": main.tag,
                "image_id": images[main.role].image_id,
                "env": job_env,
                "secret_env": pulumi.Output.secret(run.secret_env) if run.secret_env else {},
                "labels": {
                    **labels,
                    "racetrack/role": "job",
                    "racetrack/replica": str(replica),
                    "racetrack/port": str(main.port),
                },
                "ready_check": {"port": main.port, "timeout": settings.get("ready_timeout", 300)}
                if settings.get("ready_check", True)
                else None,
                # Replaced or removed, it serves on while pub moves to the replicas that stay.
                "drain": {"seconds": settings["drain_seconds"]} if settings.get("drain_seconds") else None,
                "network": network.name,
                "network_aliases": [f"{name}{suffix}"],
                "restart_policy": "unless-stopped",
                "extra_hosts": extra_hosts,
                **limits,
                **_locked_down(()),
            },
        )
        addresses.append(container.ip_address.apply(_at_port(main.port)))
        containers.append(container.container_name)
    return {"addresses": addresses, "containers": containers, "network_address": f"{name}:{main.port}"}


def _at_port(port: int) -> Callable[[str], str]:
    return lambda ip: f"{ip}:{port}"


def image_inputs(image: ImageSpec, labels: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
    """The inputs of an image built on the local engine (the Kubernetes target's images build here too)."""
    return {
        "tag": image.tag,
        "context": image.context,
        "dockerfile": image.dockerfile,
        "context_digest": image.context_digest,
        # Only when set: a version deployed later without `--no-cache` keeps the image it has.
        **({"rebuild": image.rebuild} if image.rebuild else {}),
        # Not the revision label: an image is the same image in every revision that uses it.
        "labels": {k: v for k, v in labels.items() if k != "racetrack/revision"},
        "build_args": image.build_args,
        "build_secrets": pulumi.Output.secret(image.build_secrets) if image.build_secrets else {},
        "secret_files": image.secret_files,
        "role": image.role,
        "port": image.port,
        "log_path": settings.get("build_log_path", ""),
        "build_settings": settings.get("build_settings") or {},
    }


# Defaults of a job container's limits when its manifest sets none (the Kubernetes target's too);
# target settings `memory_max`, `cpu_max`, `pids_limit` change them.
DEFAULT_LIMITS = {"memory_max": "1Gi", "cpu_max": "1", "pids_limit": 1024}


def _limits(run: ContainerSpec, settings: dict[str, Any]) -> dict[str, Any]:
    """Memory and CPU caps (the manifest's `resources`, else the platform's defaults), `memory_min` as a
    memory reservation and `cpu_min` as a CPU weight (Docker's soft forms of a request), a pids cap."""
    defaults = {**DEFAULT_LIMITS, **{k: settings[k] for k in DEFAULT_LIMITS if settings.get(k)}}
    limits = {
        "memory_limit": memory_bytes(str(run.memory_max or defaults["memory_max"])),
        "nano_cpus": nano_cpus(str(run.cpu_max or defaults["cpu_max"])),
        "pids_limit": int(defaults["pids_limit"]),
    }
    if run.memory_min:
        limits["memory_reservation"] = min(memory_bytes(str(run.memory_min)), limits["memory_limit"])
    if run.cpu_min:
        limits["cpu_shares"] = max(2, nano_cpus(str(run.cpu_min)) * 1024 // 10**9)
    return limits


def _locked_down(capabilities: tuple[str, ...]) -> dict[str, Any]:
    """No capability but those named, and no gaining privileges through setuid binaries."""
    return {
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "cap_add": list(capabilities),
    }
