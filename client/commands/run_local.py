"""`racetrack run-local`: the platform builds the job's image, the caller's Docker runs it.

The image comes over the lifecycle API (`GET /build/{id}/image`, loaded with `docker load`) unless the
caller's Docker already has it (the same engine as the platform's, on one machine): no registry needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Annotated, Any

import typer

from client import output
from client.commands._common import RemoteOpt
from client.commands.deploy import (
    BuildContextOpt,
    ExtraVarsOpt,
    NoCacheOpt,
    WorkdirArg,
    _check,
    _load,
    _payload,
)
from client.errors import ClientError, OperationFailed
from client.http import Session, open_session
from client.manifest import read_secret_vars
from client.progress import failure, wait_for_operation

__all__ = ["run_local"]

JOB_PORT = 7000  # where the wrapper listens inside the container


def _docker(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("docker") is None:
        raise ClientError("docker is not installed here", hint="Install Docker, then run the job again.")
    return subprocess.run(["docker", *args], **kwargs)


def _fetch_image(session: Session, build_id: str, image: str) -> None:
    if _docker("image", "inspect", image, capture_output=True).returncode == 0:
        output.note(f"image {image} is on this Docker engine already")
        return
    output.note(f"loading image {image} from {session.lifecycle_url}")
    loader = subprocess.Popen(["docker", "load"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert loader.stdin is not None
    try:
        session.api.download(f"build/{build_id}/image", loader.stdin.write)
    finally:
        loader.stdin.close()
        code = loader.wait()
    if code != 0:
        raise ClientError(f"docker load of {image} failed (exit code {code})")


def run_local(
    workdir: WorkdirArg = ".",
    remote: RemoteOpt = None,
    port: Annotated[
        int, typer.Option("--port", help="port on this machine (loopback) to publish the job on")
    ] = 7000,
    build_context: BuildContextOpt = None,
    extra_vars: ExtraVarsOpt = None,
    cmd: Annotated[
        str | None, typer.Option("--cmd", help="command to run in the container instead of the job")
    ] = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Build the job's image on the platform and run it on this machine's Docker (CTRL-C stops it).

    Example: racetrack run-local sample/python-class --port 7100
    """
    manifest = _load(workdir, extra_vars)
    _check(manifest)
    session = open_session(remote)
    name, version = manifest.name, manifest.version
    body, _ = _payload(session, manifest, build_context=build_context, force=False, no_cache=no_cache)
    answer = session.api.post("build", json_body=body)
    build_id = str((answer or {}).get("id", "")) if isinstance(answer, dict) else ""
    if not build_id:
        raise ClientError(f"the server started no build: {str(answer)[:200]}")
    record = wait_for_operation(
        session, build_id, title=f'Building job "{name}" v{version} at {session.lifecycle_url}', what="build"
    )
    if str(record.get("status")).lower() == "failed":
        raise OperationFailed(failure(f'build of job "{name}" v{version}', record))
    image = str(record.get("image_name") or "")
    if not image:
        raise ClientError(f"build {build_id} finished without naming its image")
    _fetch_image(session, build_id, image)

    secrets = read_secret_vars(manifest)
    env = {str(k): str(v) for k, v in (manifest.data.get("runtime_env") or {}).items()}
    env.update(secrets.get("runtime_env") or {})
    env.update(JOB_NAME=name, JOB_VERSION=version, JOB_DEPLOYMENT_TIMESTAMP=str(int(time.time())))
    container = f"local-job-{name}-v-{version}".replace(".", "-")
    command = ["run", "--rm", "--name", container, "-p", f"127.0.0.1:{port}:{JOB_PORT}"]
    if output.stdout_is_tty():
        command.append("-it")
    for key in env:
        command += ["--env", key]  # values through the environment: never on a command line
    command += ["--label", f"job-name={name}", "--label", f"job-version={version}", image]
    command += cmd.split() if cmd else []
    output.echo(
        f'Running job "{name}" v{version} locally: http://127.0.0.1:{port}/pub/job/{name}/{version}/ '
        "(CTRL-C to stop)"
    )
    _docker("version", capture_output=True)  # says so when Docker is missing
    process = subprocess.Popen(["docker", *command], env={**os.environ, **env})
    try:
        code = process.wait()
    except KeyboardInterrupt:
        # The container goes with CTRL-C even when only this process got the signal.
        _docker("stop", "--time", "10", container, capture_output=True)
        process.wait()
        return
    if code not in (0, 130, 143):
        raise typer.Exit(code)
