"""The Pulumi program of a job family on the local Docker engine: a pure function of its FamilySpec.

Per version: its images (built, or found again by tag and context digest), one container per
replica running the job image with its port published on the configured address (loopback by
default; pub forwards there), and one container per extra image (e.g. the user's own server behind
the docker-proxy job type) reachable by alias on the platform's network.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from stacks.docker.resources import Container, Image, Network
from stacks.quantities import memory_bytes, nano_cpus
from stacks.spec import FamilySpec, VersionSpec, resource_name

__all__ = ["program"]


def program(spec: FamilySpec) -> Callable[[], None]:
    def declare() -> None:
        settings = spec.target_settings
        network = Network("network", {"name": settings.get("network", "racetrack")})
        versions = {}
        for version in spec.versions:
            versions[version.version] = _declare_version(spec, version, network, settings)
        pulumi.export("versions", versions)
        pulumi.export("latest", spec.latest)
        pulumi.export("revision", spec.revision)

    return declare


def _declare_version(spec: FamilySpec, version: VersionSpec, network: Network, settings: dict) -> dict:
    name = resource_name(spec.family, version.version)
    labels = {
        "racetrack/job-name": spec.family,
        "racetrack/job-version": version.version,
        "racetrack/resource": "job",
        **version.labels,
    }
    images = {}
    for image in version.images:
        images[image.role] = Image(
            f"{name}-{image.role}-image",
            {
                "tag": image.tag,
                "context": image.context,
                "dockerfile": image.dockerfile,
                "context_digest": image.context_digest,
                # Not the revision label: an image is the same image in every revision that uses it.
                "labels": {k: v for k, v in labels.items() if k != "racetrack/revision"},
                "build_args": image.build_args,
                "build_secrets": pulumi.Output.secret(image.build_secrets) if image.build_secrets else {},
                "secret_files": image.secret_files,
                "role": image.role,
                "port": image.port,
                "log_path": settings.get("build_log_path", ""),
                "build_settings": settings.get("build_settings") or {},
            },
        )
    run = version.run
    limits = {}
    if run.memory_max:
        limits["memory_limit"] = memory_bytes(run.memory_max)
    if run.cpu_max:
        limits["nano_cpus"] = nano_cpus(run.cpu_max)
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
                "labels": {**labels, "racetrack/role": "job", "racetrack/replica": str(replica)},
                "ports": [
                    {
                        "container_port": main.port,
                        "host_ip": settings.get("bind_address", "127.0.0.1"),
                        "host_port": 0,
                    }
                ],
                "ready_check": {"port": main.port, "timeout": settings.get("ready_timeout", 300)}
                if settings.get("ready_check", True)
                else None,
                "network": network.name,
                "network_aliases": [f"{name}{suffix}"],
                "restart_policy": "unless-stopped",
                "extra_hosts": extra_hosts,
                **limits,
            },
        )
        port = str(main.port)
        addresses.append(container.published.apply(lambda published, port=port: published.get(port)))
        containers.append(container.container_name)
    return {"addresses": addresses, "containers": containers, "network_address": f"{name}:{main.port}"}
