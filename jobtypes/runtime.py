"""What a job's containers need at runtime: their environment and how sidecars connect.

    containers = job_containers(plan, name="job-adder-v-1-0-0", env=job_runtime_env(
        manifest, pub_url="http://pub:7005/pub", auth_token=token, job_type_env=plan.runtime_env))

The deploy engine starts every container of the list on one network; the first one serves port
7000 and gets each sidecar's `host:port` in the sidecar's `address_env` variable.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import InvalidInput

from .build import BuildPlan
from .manifest import Manifest, job_manifest

__all__ = ["RESERVED_ENV", "JobContainer", "job_runtime_env", "job_containers"]

# Set by the platform; a manifest may not set them (as upstream, a conflict fails the deployment).
RESERVED_ENV = frozenset(
    {
        "JOB_NAME",
        "JOB_VERSION",
        "PUB_URL",
        "AUTH_TOKEN",
        "JOB_DEPLOYMENT_TIMESTAMP",
        "REQUEST_TRACING_HEADER",
        "CALLER_NAME_HEADER",
        "JOB_USER_MODULE_HOSTNAME",
        "JOB_USER_MODULE_PORT",
        "JOB_PORT",
        "GIT_VERSION",
        "JOB_TYPE_VERSION",
        "DEPLOYED_BY_RACETRACK_VERSION",
    }
)


def job_runtime_env(
    manifest: Mapping[str, Any] | Manifest,
    *,
    pub_url: str,
    auth_token: str,
    deployment_timestamp: int | None = None,
    job_type_env: Mapping[str, str] | None = None,
    secret_runtime_env: Mapping[str, str] | None = None,
    tracing_header: str = "X-Request-Tracing-Id",
    caller_header: str = "X-Caller-Name",
    log_caller_name: bool = False,
) -> dict[str, str]:
    """The environment of a job's main container: the platform's variables, then the job type's,
    then the manifest's `runtime_env`, then the secret runtime variables (which win over it).

    Raises InvalidInput when the manifest or the secrets set a variable the platform owns.
    """
    parsed = job_manifest(manifest)
    for source, values in (
        ("runtime_env", parsed.runtime_env),
        ("secret_runtime_env", secret_runtime_env or {}),
    ):
        clash = sorted(RESERVED_ENV.intersection(values))
        if clash:
            raise InvalidInput(f"{source} sets {', '.join(clash)}, which the platform sets; rename them")
    env = {
        "JOB_NAME": parsed.name,
        "JOB_VERSION": parsed.version,
        "PUB_URL": pub_url,
        "AUTH_TOKEN": auth_token,
        "JOB_DEPLOYMENT_TIMESTAMP": str(
            int(deployment_timestamp if deployment_timestamp is not None else time.time())
        ),
        "REQUEST_TRACING_HEADER": tracing_header,
        "CALLER_NAME_HEADER": caller_header,
    }
    if log_caller_name:
        env["LOG_CALLER_NAME"] = "true"
    env.update(job_type_env or {})
    env.update(parsed.runtime_env)
    env.update(secret_runtime_env or {})
    return env


@dataclass(frozen=True)
class JobContainer:
    """One container of a job: its name on the network, image, port and environment."""

    role: str
    name: str
    image: str
    port: int
    env: dict[str, str] = field(default_factory=dict)


def job_containers(plan: BuildPlan, *, name: str, env: Mapping[str, str]) -> list[JobContainer]:
    """The containers to run for a built plan, the one serving port 7000 first.

    Sidecars (e.g. the docker-proxy user module) are named `<name>-<role>` and receive the
    manifest's environment too; the main container learns their address through `address_env`.
    """
    main_env = dict(env)
    sidecars = []
    for image in plan.images[1:]:
        sidecar_name = f"{name}-{image.role}"
        if image.address_env:
            main_env[image.address_env] = f"{sidecar_name}:{image.port}"
        sidecars.append(
            JobContainer(
                role=image.role, name=sidecar_name, image=image.image, port=image.port, env=dict(env)
            )
        )
    main = plan.images[0]
    return [
        JobContainer(role=main.role, name=name, image=main.image, port=main.port, env=main_env),
        *sidecars,
    ]
