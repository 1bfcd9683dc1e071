"""Executing a job's build plan on the local Docker engine, through BuildKit.

    for image in plan.images:                     # plan: jobtypes.build.plan_build(...)
        build_image(image, log=print, settings=build_settings)

`DOCKER_BUILDKIT=1 docker build`: build secrets are handed over as `--secret` files and never reach
an image layer or the image history. The Image resource (stacks.docker.resources) calls this in the
provider process, with the build settings it was given as inputs.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jobtypes.baseimages import docker_cli, ensure_base_images
from jobtypes.build import BuildPlan, ImageBuild
from jobtypes.config import BuildSettings
from jobtypes.errors import BuildFailed

__all__ = ["build_image", "build_images", "build_from_inputs", "image_digest_label", "saved_image"]

_STEP_PREFIX = re.compile(r"^#\d+ (\d+\.\d+ )?")
_CERTIFICATE_ERROR = (
    r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|x509: certificate|SSL certificate problem"
    r"|server certificate verification failed|self[- ]signed certificate"
)
_ERROR_LINE = re.compile(
    rf"(ERROR|error:|Error:|SyntaxError|No matching distribution|not found|{_CERTIFICATE_ERROR})",
    re.IGNORECASE,
)


def _certificate_hint(lines: list[str], used: Path | None, settings: BuildSettings) -> str:
    """For a build that failed on an untrusted certificate: the CA bundle it trusted, what changes it."""
    if not any(re.search(_CERTIFICATE_ERROR, line, re.IGNORECASE) for line in lines[-300:]):
        return ""
    trusted = settings.describe_ca() if settings.extra_ca_bundle == used else str(used or "none")
    return (
        f". A TLS certificate was not trusted: this build trusted the CA bundle {trusted}. "
        "Give image builds your proxy's or registry's CA with RACETRACK_EXTRA_CA_BUNDLE=<PEM bundle file> "
        "(or add it to the host's trust store), restart the platform, then deploy again"
    )


def _summarise_failure(lines: list[str]) -> str:
    """The lines of a failed build log that say why, without BuildKit's step prefixes."""
    picked: list[str] = []
    for line in lines[-200:]:
        text = _STEP_PREFIX.sub("", line).strip()
        if text and _ERROR_LINE.search(text) and text not in picked and not text.startswith("------"):
            picked.append(text)
    # BuildKit's own closing line repeats the whole RUN command; the lines before it say more.
    specific = [
        text for text in picked if "executor failed running" not in text and "failed to solve" not in text
    ]
    return "; ".join((specific or picked)[-6:]) or (lines[-1] if lines else "no output")


def build_image(
    image: ImageBuild,
    *,
    log: Callable[[str], None],
    no_cache: bool = False,
    settings: BuildSettings,
    timeout: float | None = None,
) -> str:
    """Builds one image with the local engine, passing each log line to `log`; returns the image id.

    Raises DeployFailed with the lines that say why when the build fails or runs past `timeout`.
    """
    cli = docker_cli(settings)
    ensure_base_images(image.dockerfile, log=log, settings=settings)
    with tempfile.TemporaryDirectory(prefix="racetrack-dockerfile-") as folder:
        dockerfile = image.dockerfile
        if no_cache:
            dockerfile = Path(folder) / "Dockerfile"
            dockerfile.write_text(_declaring_rebuild(image.dockerfile.read_text(encoding="utf-8")))
        return _build(image, dockerfile, cli, log=log, no_cache=no_cache, settings=settings, timeout=timeout)


# `--no-cache` is not passed on: the BuildKit of Docker 20.10 (Debian's docker.io, what setup installs)
# panics on it and takes the engine down ("failed to get edge", moby/buildkit#2303) when a build uses one
# stage twice, as the job types' Dockerfiles do. A build argument that every stage declares, new for each
# build, gives every RUN step a cache key no earlier build has, so each runs again; COPY steps keep their
# content-addressed layers, which a rebuild would produce identically anyway.
REBUILD_ARG = "RACETRACK_REBUILD"
_FROM_LINE = re.compile(r"^\s*FROM\s", re.IGNORECASE)


def _declaring_rebuild(dockerfile: str) -> str:
    lines = []
    for line in dockerfile.splitlines():
        lines.append(line)
        if _FROM_LINE.match(line) and not line.rstrip().endswith("\\"):
            lines.append(f"ARG {REBUILD_ARG}")
    return "\n".join(lines) + "\n"


def _build(
    image: ImageBuild,
    dockerfile: Path,
    cli: str,
    *,
    log: Callable[[str], None],
    no_cache: bool,
    settings: BuildSettings,
    timeout: float | None,
) -> str:
    command = [
        cli,
        "build",
        "--progress=plain",
        "-f",
        str(dockerfile),
        "-t",
        image.image,
    ]
    for key, value in image.labels.items():
        command += ["--label", f"{key}={value}"]
    for key, value in image.build_args.items():
        command += ["--build-arg", f"{key}={value}"]
    for secret_id, path in image.secrets.items():
        command += ["--secret", f"id={secret_id},src={path}"]
    if no_cache:
        command += ["--build-arg", f"{REBUILD_ARG}={uuid.uuid4().hex}"]
    command.append(str(image.context))
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    log(f"building image {image.image} ({image.role})")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, errors="replace"
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout or settings.image_build_timeout, kill)
    timer.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if len(lines) > 2000:
                del lines[:1000]
            log(line)
        code = process.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        raise BuildFailed(
            f"building image {image.image} took longer than {timeout or settings.image_build_timeout:.0f} s"
        )
    if code != 0:
        raise BuildFailed(
            f"building image {image.image} failed: {_summarise_failure(lines)}"
            + _certificate_hint(lines, image.secrets.get("ca_bundle"), settings),
            details="\n".join(lines[-100:]),
        )
    inspect = subprocess.run(
        [cli, "image", "inspect", "-f", "{{.Id}}", image.image],
        capture_output=True,
        text=True,
        check=False,
    )
    return inspect.stdout.strip()


def build_images(
    plan: BuildPlan, *, log: Callable[[str], None], no_cache: bool = False, settings: BuildSettings
) -> list[str]:
    """Builds every image of the plan in turn (`building image i/N`); returns their ids."""
    ids = []
    for index, image in enumerate(plan.images, start=1):
        log(f"building image {index}/{len(plan.images)}")
        ids.append(build_image(image, log=log, no_cache=no_cache, settings=settings))
    return ids


def build_from_inputs(props: dict[str, Any], *, labels: dict[str, str], log: Callable[[str], None]) -> str:
    """Builds the image an Image resource's inputs describe (build secrets as files only while it
    builds); returns the image id."""
    with tempfile.TemporaryDirectory(prefix="racetrack-secrets-") as folder:
        secret_files = {key: Path(path) for key, path in (props.get("secret_files") or {}).items()}
        for key, content in (props.get("build_secrets") or {}).items():
            path = Path(folder) / key
            path.touch(mode=0o600)
            path.write_text(content)
            secret_files[key] = path
        image = ImageBuild(
            role=props.get("role", "job"),
            image=props["tag"],
            dockerfile=Path(props["dockerfile"]),
            context=Path(props["context"]),
            port=int(props.get("port") or 7000),
            build_args=props.get("build_args") or {},
            labels={**(props.get("labels") or {}), **labels},
            secrets=secret_files,
        )
        return build_image(
            image,
            log=log,
            no_cache=bool(props.get("no_cache")),
            settings=BuildSettings.from_inputs(props.get("build_settings") or {}),
        )


def saved_image(tag: str) -> Iterator[bytes]:
    """The image as `docker save` writes it (a tar `docker load` reads), in chunks."""
    import docker

    yield from docker.from_env().images.get(tag).save(named=True)


def image_digest_label(tag: str) -> str | None:
    """The context digest the image with this tag was built from (None: no such image)."""
    import docker

    from stacks.docker.resources import DIGEST_LABEL

    try:
        return docker.from_env().images.get(tag).labels.get(DIGEST_LABEL)
    except docker.errors.ImageNotFound:
        return None
