"""Image delivery for the Kubernetes target: built with the local engine, pushed to a real registry
(Debian's docker-registry, on loopback), named by digest; found again in the registry without a build."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from jobtypes.config import BuildSettings
from stacks.kubernetes.resources import RegistryImageProvider, manifest_digest

pytestmark = [pytest.mark.engine, pytest.mark.kubernetes]  # the registry comes with `make cluster`


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    program = shutil.which("docker-registry")
    assert program, "Debian's docker-registry is not installed: `make cluster` installs it (scripts/cluster)"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'store'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n"
    )
    process = subprocess.Popen(
        [program, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def test_an_image_is_pushed_once_and_named_by_digest(registry: str, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "hello.txt").write_text(uuid.uuid4().hex)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    tag = f"racetrack/test-delivery:1-{uuid.uuid4().hex[:8]}"
    props = {
        "tag": tag,
        "context": str(context),
        "dockerfile": str(context / "Dockerfile"),
        "context_digest": uuid.uuid4().hex,
        "labels": {},
        "registry": registry,
        "build_settings": BuildSettings().as_inputs(),
    }
    try:
        first = RegistryImageProvider().create(props)
        reference = first.outs["reference"]
        assert reference.startswith(f"{registry}/racetrack/test-delivery@sha256:") and first.outs["pushed"]
        repo, digest = reference.split("@")
        assert manifest_digest(repo, digest) == digest
        # Again (a rollback to it): found in the registry by its content-addressed tag, not rebuilt.
        shutil.rmtree(context)
        again = RegistryImageProvider().create(props)
        assert (again.outs["reference"], again.outs["pushed"]) == (reference, False)
        assert RegistryImageProvider().read(reference, props).id == reference
    finally:
        client = docker.from_env()
        for name in (tag, f"{registry}/{tag}"):
            try:
                client.images.remove(name, force=True)
            except docker.errors.ImageNotFound:
                pass
