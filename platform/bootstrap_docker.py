"""The platform on this machine's Docker engine.

Resources (all named `racetrack-<stack>-*` and labelled `racetrack/platform=<stack>`):
a bridge network (the jobs the lifecycle deploys join it too), PostgreSQL (image built from
platform/images/postgres, data in a named volume, port on 127.0.0.1), a data volume (the lifecycle's
Pulumi state, build workspaces, the CLI's PULUMI_HOME), the platform image built from this repository,
and containers for the lifecycle (with its deploy engine), pub and the dashboard.

The three platform containers use the host's network and listen on 127.0.0.1 at the configured
ports: the jobs the lifecycle deploys publish their port on the host's loopback, where the deploy
engine checks that they are ready and pub forwards calls. The lifecycle also gets the Docker socket,
a Docker CLI whose `build` speaks BuildKit (`racetrack:dockerCli`, a static binary mounted
read-only) and the Pulumi CLI built by `make setup` (mounted read-only) to deploy jobs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pulumi
from bootstrap_config import PlatformConfig

from api.run import _docker_bridge_gateway
from api.settings import CA_BUNDLE_OFF, Settings
from stacks.docker.resources import Container, Image, Network, Volume

__all__ = ["declare", "platform_image_digest"]

REPO = Path(__file__).resolve().parents[1]
IMAGES = Path(__file__).resolve().parent / "images"
# What the platform image copies (keep in step with .dockerignore and platform/images/platform/Dockerfile).
IMAGE_SOURCES = ("pyproject.toml", "core", "api", "stacks", "jobtypes", "client", "platform/images/platform")
DATA = "/var/lib/racetrack"


def _digest(paths: list[Path], root: Path, *, base_image: str) -> str:
    """Names an image by what it is built from: the files it copies and its base image."""
    digest = hashlib.sha256(base_image.encode() + b"\0")
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(oct(path.stat().st_mode & 0o111).encode())
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _files(root: Path, names: tuple[str, ...]) -> list[Path]:
    found = []
    for name in names:
        path = root / name
        candidates = [path] if path.is_file() else path.rglob("*")
        found += [
            p for p in candidates if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        ]
    return found


def platform_image_digest(base_image: str, base_image_golang: str = "", goproxy: str = "") -> str:
    # The gateway's build stage starts from the Go base image: another base, another image.
    bases = "\0".join(part for part in (base_image, base_image_golang, goproxy) if part)
    return _digest(_files(REPO, IMAGE_SOURCES), REPO, base_image=bases)


def _ca_bundle(configured: str | None, settings: Settings) -> str:
    """The CA bundle the platform's image builds and its job builds trust: racetrack:extraCaBundle (a
    file, or "none"), else this machine's choice (Settings.build_ca: by default what the host trusts)."""
    if configured is not None and configured.strip().lower() == CA_BUNDLE_OFF:
        return ""
    if configured:
        if not Path(configured).is_file():
            raise ValueError(
                f"racetrack:extraCaBundle: {configured} is not a file; name a PEM CA bundle, set it to "
                f"{CA_BUNDLE_OFF} for no bundle, or remove the key to use the host's"
            )
        return configured
    ca = settings.build_ca()
    return str(ca.path) if ca.path else ""


def declare(config: PlatformConfig) -> dict[str, Any]:
    settings = Settings()  # this machine's settings: where `make setup` put the CLI, base images, CA bundle
    prefix = config.name_prefix
    labels = {"racetrack/platform": config.stack}
    base_image = config.get("baseImage", settings.base_image_python)
    ca_bundle = _ca_bundle(config.get("extraCaBundle"), settings)
    secret_files = {"ca_bundle": ca_bundle} if ca_bundle else {}
    docker_cli = config.get("dockerCli", settings.docker_build_cli)
    pulumi_root = Path(config.get("pulumiRoot", str(settings.pulumi_root)))

    network = Network("network", {"name": prefix, "labels": labels})
    database_volume = Volume("postgres-data", {"name": f"{prefix}-postgres", "labels": labels})
    data_volume = Volume("data", {"name": f"{prefix}-data", "labels": labels})

    postgres_context = IMAGES / "postgres"
    postgres_files = _files(postgres_context, ("Dockerfile", "entrypoint.sh"))
    postgres_digest = _digest(postgres_files, postgres_context, base_image=base_image)
    postgres_image = Image(
        "postgres-image",
        {
            "tag": f"racetrack/platform-postgres:{postgres_digest[:12]}",
            "context": str(postgres_context),
            "dockerfile": str(postgres_context / "Dockerfile"),
            "context_digest": postgres_digest,
            "labels": {"racetrack-component": "platform-postgres"},
            "build_args": {"BASE_IMAGE": base_image},
            "secret_files": secret_files,
            "role": "postgres",
            "port": 5432,
        },
    )
    base_image_golang = config.get("baseImageGolang", settings.base_image_golang)
    # pub's gateway is compiled in the image build, with modules from the Go proxy the host uses (the
    # Dockerfile's default otherwise, as for golang jobs).
    goproxy = os.environ.get("GOPROXY", "")
    image_digest = platform_image_digest(base_image, base_image_golang, goproxy)
    platform_image = Image(
        "platform-image",
        {
            "tag": f"{config.get('imagePrefix', 'racetrack')}/platform:{image_digest[:12]}",
            "context": str(REPO),
            "dockerfile": str(IMAGES / "platform" / "Dockerfile"),
            "context_digest": image_digest,
            "labels": {"racetrack-component": "platform"},
            "build_args": {
                "BASE_IMAGE": base_image,
                "BASE_IMAGE_GOLANG": base_image_golang,
                **({"GOPROXY": goproxy} if goproxy else {}),
            },
            "secret_files": secret_files,
            "role": "platform",
            "port": config.lifecycle_port,
        },
    )

    secrets = config.secrets
    postgres = Container(
        "postgres",
        {
            "name": f"{prefix}-postgres",
            "image": postgres_image.tag,
            "image_id": postgres_image.image_id,
            "env": {"POSTGRES_USER": "racetrack", "POSTGRES_DB": "racetrack"},
            "secret_env": {"POSTGRES_PASSWORD": secrets["databasePassword"]},
            "labels": {**labels, "racetrack/role": "postgres"},
            "ports": [{"container_port": 5432, "host_ip": "127.0.0.1", "host_port": config.postgres_port}],
            "network": network.name,
            "network_aliases": ["postgres"],
            "volumes": [{"source": database_volume.name, "target": "/var/lib/postgresql/data"}],
            "restart_policy": "unless-stopped",
        },
    )

    database_url = secrets["databasePassword"].apply(
        lambda password: (
            f"postgresql+psycopg://racetrack:{quote(password, safe='')}"
            f"@127.0.0.1:{config.postgres_port}/racetrack"
        )
    )
    env = {
        "RACETRACK_DATA_DIR": DATA,
        "RACETRACK_CACHE_DIR": f"{DATA}/cache",
        "RACETRACK_LIFECYCLE_HOST": "127.0.0.1",
        "RACETRACK_LIFECYCLE_PORT": str(config.lifecycle_port),
        "RACETRACK_DASHBOARD_PORT": str(config.dashboard_port),
        "RACETRACK_PUB_PORT": str(config.pub_port),
        "RACETRACK_PUB_HOST": "127.0.0.1",
        "RACETRACK_ADMIN_USERNAME": config.admin_username,
        "RACETRACK_DOCKER_NETWORK": prefix,
        "RACETRACK_PULUMI_VERSION": settings.pulumi_version,
        "RACETRACK_BASE_IMAGE_PYTHON": base_image,
        "RACETRACK_BASE_IMAGE_GOLANG": base_image_golang,
        "RACETRACK_DOCKER_BUILD_CLI": "/usr/local/bin/docker-buildkit",
    }
    # Only the lifecycle builds images, and only it has the CA bundle mounted.
    lifecycle_env = {"RACETRACK_EXTRA_CA_BUNDLE": "/etc/racetrack/ca-bundle.crt"} if ca_bundle else {}
    secret_env = {
        "RACETRACK_DATABASE_URL": database_url,
        "RACETRACK_ADMIN_PASSWORD": secrets["adminPassword"],
        "RACETRACK_AUTH_KEY": secrets["authKey"],
        "RACETRACK_INTERNAL_TOKEN": secrets["internalToken"],
        "RACETRACK_PULUMI_PASSPHRASE": secrets["pulumiPassphrase"],
    }
    data_mount = {"source": data_volume.name, "target": DATA}
    lifecycle_mounts: list[dict[str, Any]] = [
        data_mount,
        {"source": "/var/run/docker.sock", "target": "/var/run/docker.sock"},
        {"source": docker_cli, "target": "/usr/local/bin/docker-buildkit", "read_only": True},
        {
            "source": str(pulumi_root),
            "target": f"{DATA}/cache/pulumi/v{settings.pulumi_version}",
            "read_only": True,
        },
    ]
    if ca_bundle:
        lifecycle_mounts.append(
            {"source": ca_bundle, "target": "/etc/racetrack/ca-bundle.crt", "read_only": True}
        )

    def component(
        name: str,
        command: list[str],
        mounts: list[dict[str, Any]],
        ready_path: str,
        port: int,
        depends_on: list[pulumi.Resource],
        *,
        host: str = "127.0.0.1",
        env_of: str | None = None,
        own_env: dict[str, str] | None = None,
    ) -> Container:
        return Container(
            name,
            {
                "name": f"{prefix}-{name}",
                "image": platform_image.tag,
                "image_id": platform_image.image_id,
                "command": command,
                "env": {**env, **(own_env or {}), **config.env_for(env_of or name)},
                "secret_env": pulumi.Output.secret(secret_env),
                "labels": {**labels, "racetrack/role": name},
                "network_mode": "host",
                "volumes": mounts,
                "restart_policy": "unless-stopped",
                "ready_url": {"url": f"http://{host}:{port}{ready_path}", "timeout": 300},
            },
            pulumi.ResourceOptions(depends_on=depends_on),
        )

    lifecycle = component(
        "lifecycle",
        ["python", "-m", "api.lifecycle"],
        lifecycle_mounts,
        "/lifecycle/live",
        config.lifecycle_port,
        [postgres],
        own_env=lifecycle_env,
    )
    pub = ["python", "-m", "api.pub", "--host", "127.0.0.1"]
    gateway = _docker_bridge_gateway()
    if gateway:
        # Jobs call other jobs through pub at host.docker.internal (the default bridge's gateway),
        # as with `make run`: the same pub also listens there, reachable from local containers only.
        pub += ["--host", gateway]
    pub += ["--port", str(config.pub_port)]
    components = [lifecycle, component("pub", pub, [data_mount], "/pub/live", config.pub_port, [lifecycle])]
    components.append(
        component(
            "dashboard",
            ["python", "-m", "api.dashboard"],
            [data_mount],
            "/dashboard/live",
            config.dashboard_port,
            [lifecycle],
        )
    )

    outputs = {
        "lifecycleUrl": f"http://127.0.0.1:{config.lifecycle_port}/lifecycle",
        "dashboardUrl": f"http://127.0.0.1:{config.dashboard_port}/dashboard",
        "pubUrl": f"http://127.0.0.1:{config.pub_port}/pub",
        "adminUsername": config.admin_username,
        "adminPassword": secrets["adminPassword"],
        "adminToken": (
            "pulumi stack output adminPassword --show-secrets, then log into the dashboard "
            f"(http://127.0.0.1:{config.dashboard_port}/dashboard) and copy the token from your profile, or: "
            f"curl -s -X POST http://127.0.0.1:{config.lifecycle_port}/lifecycle/api/v1/users/login "
            f'-H \'Content-Type: application/json\' -d \'{{"username": "{config.admin_username}", '
            '"password": "<adminPassword>"}\' (the answer\'s token goes into `racetrack login <token>`)'
        ),
        "network": prefix,
        # Where the lifecycle keeps its job stacks' Pulumi state (and the data a removal deletes).
        "jobStacksState": f"file://{DATA}/pulumi-state in the volume {prefix}-data",
        "containers": [c.container_name for c in [postgres, *components]],
        "platformImage": platform_image.tag,
    }
    return outputs
