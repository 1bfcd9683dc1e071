"""Image builds on the local Docker engine with BuildKit.

BuildKit is needed for `RUN --mount=type=secret` (build secrets that never reach a layer) and for
layer caching of dependency installs. The Pulumi docker-build provider drives BuildKit only through
`docker-container`, `kubernetes` or `remote` builders, which need the moby/buildkit image from a
registry; so builds go through a Docker CLI that can reach the engine's own BuildKit: `docker buildx`
where it is installed, otherwise a classic CLI (before 23.0) with `DOCKER_BUILDKIT=1`, such as the one
in Debian's docker.io package.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from api.errors import DeployFailed, EngineMissing

__all__ = ["context_digest", "build", "docker_build_command"]

LogSink = Callable[[str], None]


def context_digest(context: Path, *, extra: Iterable[str] = ()) -> str:
    """A digest of every file in a build context (names, modes and contents), plus `extra` strings.

    Two contexts with the same digest build the same image, so the digest names the image and lets a
    rollback find an image it built before instead of building again.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(context).as_posix()
        digest.update(relative.encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode())
        else:
            digest.update(oct(path.stat().st_mode & 0o111).encode())
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        digest.update(b"\0")
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def docker_build_command() -> tuple[list[str], dict[str, str]]:
    """The command prefix (and environment) that builds with BuildKit on this machine."""
    candidates = [shutil.which("docker"), "/usr/bin/docker", "/usr/local/bin/docker"]
    seen: set[str] = set()
    for docker in candidates:
        if not docker or docker in seen or not os.access(docker, os.X_OK):
            continue
        seen.add(docker)
        if subprocess.run([docker, "buildx", "version"], capture_output=True).returncode == 0:
            return [docker, "buildx", "build", "--load"], {}
        version = subprocess.run(
            [docker, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
        ).stdout.strip()
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < 23:
            return [docker, "build"], {"DOCKER_BUILDKIT": "1"}
    raise EngineMissing(
        "no Docker CLI here can build with BuildKit: install the buildx plugin, or run `make setup`, "
        "which installs Debian's docker.io"
    )


def build(
    *,
    context: Path,
    dockerfile: Path,
    tag: str,
    labels: Mapping[str, str] | None = None,
    build_args: Mapping[str, str] | None = None,
    secret_files: Mapping[str, Path] | None = None,
    no_cache: bool = False,
    log: LogSink | None = None,
) -> str:
    """Builds `tag` and returns the image id. Each log line goes to `log` as it is printed."""
    prefix, env = docker_build_command()
    command = [*prefix, "--progress=plain", "--network=host", "-t", tag, "-f", str(dockerfile)]
    for key, value in (labels or {}).items():
        command += ["--label", f"{key}={value}"]
    for key, value in (build_args or {}).items():
        command += ["--build-arg", f"{key}={value}"]
    for key, path in (secret_files or {}).items():
        command += ["--secret", f"id={key},src={path}"]
    if no_cache:
        command.append("--no-cache")
    command.append(str(context))
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip("\n")
        tail = (tail + [line])[-40:]
        if log is not None:
            log(line)
    if process.wait() != 0:
        raise DeployFailed(f"building image {tag} failed", details="\n".join(tail))
    inspect = subprocess.run(
        [prefix[0], "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True, check=True
    )
    return inspect.stdout.strip()
