"""The CLI deploying for real: lifecycle with its deploy engine (Pulumi on Docker), the adder sample.

deploy -> list -> preview a change -> deploy it -> history -> rollback -> build-logs -> delete, each as a
user types it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from tests.deployer import lifecycle_process

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"
REAL_HOME = os.environ.get("HOME", str(Path.home()))  # read before the CLI tests' fixtures move HOME


pytestmark = pytest.mark.engine


@pytest.fixture
def family() -> Iterator[str]:
    name = f"cli-adder-{uuid.uuid4().hex[:6]}"
    yield name
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"racetrack/job-name={name}"}):
        container.remove(force=True)
    images = client.images.list(filters={"label": f"racetrack.job-name={name}"})
    images += client.images.list(filters={"reference": f"racetrack/job-entrypoint/{name}:*"})
    for image_id in {image.id for image in images}:
        client.images.remove(image_id, force=True)


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[object]:
    # the server keeps the real home: its Pulumi CLI and providers are cached there by `make setup`
    extra = {"HOME": REAL_HOME}
    server = lifecycle_process.LifecycleProcess(tmp_path / "data", extra_env=extra).start()
    yield server
    server.stop()


def test_deploy_preview_rollback_delete_with_the_cli(rt, lifecycle, family: str, tmp_path: Path) -> None:
    job = tmp_path / "adder"
    shutil.copytree(SAMPLE, job)
    manifest = yaml.safe_load((job / "job.yaml").read_text())
    manifest["name"] = family
    (job / "job.yaml").write_text(yaml.safe_dump(manifest))
    version = str(manifest.get("version", "0.0.1"))

    assert rt("login", lifecycle.token, "--remote", lifecycle.url).exit_code == 0
    assert rt("set", "remote", lifecycle.url).exit_code == 0

    result = rt("deploy", str(job), "--build-context", "local")
    assert result.exit_code == 0, result.output
    assert f'Job "{family}" v{version} is deployed.' in result.stdout
    assert f"/job/{family}/{version}/docs" in result.stdout

    listed = rt("list").stdout.splitlines()
    assert any(line.split()[:3] == [family, version, "RUNNING"] for line in listed), listed

    code = (job / "adder.py").read_text()
    (job / "adder.py").write_text(code.replace("return sum(numbers)", "return sum(numbers) + 100"))
    result = rt("preview", str(job), "--build-context", "local", "-e", "runtime_env.GREETING=hello")
    assert result.exit_code == 0, result.output
    assert '+ env.GREETING: "hello"' in result.stdout and "Resources:" in result.stdout

    result = rt("deploy", str(job), "--build-context", "local", "--force", "-e", "runtime_env.GREETING=hello")
    assert result.exit_code == 0, result.output

    history = rt("history", family).stdout.splitlines()
    assert history[0].split()[:2] == ["REV", "WHEN"] and len(history) >= 3

    result = rt("rollback", family, "--to", "1", "--yes")
    assert result.exit_code == 0, result.output
    assert '- env.GREETING: "hello"' in result.stdout
    assert f'Rolled back job "{family}" to revision 1.' in result.stdout

    assert rt("build-logs", family, "--version", version).exit_code == 0
    result = rt("delete", family, "--version", version)
    assert result.exit_code == 0, result.output
    assert family not in rt("list").stdout
