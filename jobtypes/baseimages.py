"""The platform's base images, as job builds need them.

`make setup` makes the everyday ones (scripts/build-base-images.sh: Debian bookworm with Python,
with Go, and a plain one). Others are built the first time a job's Dockerfile names one, then kept as
images on the engine: Debian trixie with Python 3.13 (`base_image_python_trixie`) takes a few minutes
once, which is too much for every setup when few jobs ask for it.

    ensure_base_images(dockerfile, log=print)   # before building a job's image

A base image that is missing and cannot be built here fails the build with the command that makes it.
The build runs debootstrap inside a `docker build` stage (jobtypes/base_images/), so it needs nothing
from the host but the Docker engine. Building ahead: `bash scripts/build-base-images.sh trixie`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import BuildSettings
from .errors import BuildFailed

__all__ = ["OnDemandImage", "ensure_base_images", "on_demand_images", "docker_cli", "PYTHON_PACKAGES"]

HERE = Path(__file__).resolve().parent / "base_images"
LABEL = "org.racetrack.base-image"
PYTHON_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.I | re.M)


@dataclass(frozen=True)
class OnDemandImage:
    """A base image this platform builds itself: Debian `suite` with `packages`, by debootstrap."""

    tag: str
    suite: str
    packages: str
    bootstrap_image: str
    description: str


def on_demand_images(settings: BuildSettings) -> dict[str, OnDemandImage]:
    """Tag -> recipe of the base images built when first needed."""
    trixie = OnDemandImage(
        tag=settings.base_image_python_trixie,
        suite="trixie",
        packages=PYTHON_PACKAGES,
        bootstrap_image=settings.base_image_python,
        description="Debian trixie with Python 3.13",
    )
    return {trixie.tag: trixie}


def _setup_images(settings: BuildSettings) -> set[str]:
    return {settings.base_image_python, settings.base_image_golang, settings.base_image_debian}


def ensure_base_images(dockerfile: Path, *, log: Callable[[str], None], settings: BuildSettings) -> None:
    """Makes sure the platform's base images named in `dockerfile`'s FROM lines exist."""
    recipes = on_demand_images(settings)
    made_by_setup = _setup_images(settings)
    for image in dict.fromkeys(_FROM.findall(dockerfile.read_text(encoding="utf-8"))):
        if image in recipes:
            _ensure_built(recipes[image], log=log, settings=settings)
        elif image in made_by_setup and not _exists(image, settings):
            raise BuildFailed(
                f"base image {image} is missing on the Docker engine; make it with `make setup` "
                "(scripts/build-base-images.sh), then deploy again"
            )


def _exists(image: str, settings: BuildSettings) -> bool:
    done = subprocess.run(
        [docker_cli(settings), "image", "inspect", "-f", "{{.Id}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def docker_cli(settings: BuildSettings) -> str:
    """The Docker CLI for builds: setting `docker_build_cli`, else the `docker` on PATH when that
    path does not exist here (elsewhere the docker on PATH may speak BuildKit itself)."""
    cli = settings.docker_build_cli
    if "/" in cli and not Path(cli).is_file():
        cli = shutil.which("docker") or cli
    return cli


@contextlib.contextmanager
def _machine_lock(tag: str) -> Iterator[None]:
    """One build of a base image at a time on this machine, whichever platform or data dir asks."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
    path = Path(tempfile.gettempdir()) / f"racetrack-base-image-{name}.lock"
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure_built(recipe: OnDemandImage, *, log: Callable[[str], None], settings: BuildSettings) -> None:
    if _exists(recipe.tag, settings):
        return
    with _machine_lock(recipe.tag):
        if _exists(recipe.tag, settings):  # another build made it while this one waited
            log(f"base image {recipe.tag}: built meanwhile by another deploy")
            return
        if not _exists(recipe.bootstrap_image, settings):
            raise BuildFailed(
                f"base image {recipe.tag} ({recipe.description}) is built from {recipe.bootstrap_image}, "
                "which is missing; make it with `make setup`, then deploy again"
            )
        log(
            f"base image {recipe.tag} ({recipe.description}) is not on this Docker engine yet: "
            "building it once, which takes a few minutes; later jobs reuse it"
        )
        command = [
            docker_cli(settings),
            "build",
            "--progress=plain",
            "-f",
            str(HERE / "Dockerfile"),
            "-t",
            recipe.tag,
            "--label",
            f"{LABEL}={recipe.suite}",
            "--build-arg",
            f"BOOTSTRAP_IMAGE={recipe.bootstrap_image}",
            "--build-arg",
            f"SUITE={recipe.suite}",
            "--build-arg",
            f"PACKAGES={recipe.packages}",
        ]
        if settings.extra_ca_bundle is not None:
            command += ["--secret", f"id=ca_bundle,src={settings.extra_ca_bundle}"]
        command.append(str(HERE))
        lines: list[str] = []
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            lines = [*lines[-99:], line]
            log(line)
        if process.wait() != 0:
            raise BuildFailed(
                f"building base image {recipe.tag} ({recipe.description}) failed; the log ends: "
                + " | ".join(lines[-5:]),
                details="\n".join(lines),
            )
        log(f"base image {recipe.tag}: built")


def main(argv: list[str], settings: BuildSettings) -> int:
    """Builds the on-demand base images of the suites named (all when none), for build-base-images.sh."""
    suites = set(argv)
    recipes = [r for r in on_demand_images(settings).values() if not suites or r.suite in suites]
    if suites - {r.suite for r in recipes}:
        known = ", ".join(sorted(r.suite for r in on_demand_images(settings).values()))
        print(f"unknown suite(s) {', '.join(sorted(suites))}; known: {known}", file=sys.stderr)
        return 2
    for recipe in recipes:
        try:
            _ensure_built(recipe, log=lambda line: None, settings=settings)
        except BuildFailed as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        print(f"base image {recipe.tag} ({recipe.description}): present")
    return 0
