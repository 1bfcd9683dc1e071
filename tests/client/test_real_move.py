"""`racetrack move` for real: a deployed job goes to a second infrastructure target and back, with our
CLI and with upstream's client 2.35.1, each move a revision on both targets and no image rebuilt.

The second target is the Docker engine again under other names (tests/deployer/sibling_target.py),
installed as a plugin target is: an entry point of a distribution on the lifecycle's path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
import yaml

from tests.client.upstream import upstream_client
from tests.deployer import lifecycle_process
from tests.deployer.sibling_target import NAME as SIBLING
from tests.deployer.sibling_target import PREFIX, install_sibling_target

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample" / "python-class"
REAL_HOME = os.environ.get("HOME", str(Path.home()))  # read before the CLI tests' fixtures move HOME

pytestmark = pytest.mark.engine


@pytest.fixture
def family() -> Iterator[str]:
    name = f"mv-{uuid.uuid4().hex[:6]}"
    yield name
    lifecycle_process.remove_job_families([name])


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[lifecycle_process.LifecycleProcess]:
    site = install_sibling_target(tmp_path / "site")
    path = os.pathsep.join(filter(None, [str(site), str(REPO), os.environ.get("PYTHONPATH")]))
    extra = {"HOME": REAL_HOME, "PYTHONPATH": path}
    server = lifecycle_process.LifecycleProcess(tmp_path / "data", extra_env=extra).start()
    yield server
    server.stop()


def _upstream(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost")
    return subprocess.run(
        [str(upstream_client()), *args], env=env, capture_output=True, text=True, timeout=900
    )


def _containers(family: str) -> dict[str, str]:
    """Running job containers of the family: name (without the suffix each replacement gets) -> image id."""
    found = docker.from_env().containers.list(filters={"label": f"racetrack/job-name={family}"})
    return {container.name.rsplit("-", 1)[0]: container.image.id for container in found}


def _serves(lifecycle: lifecycle_process.LifecycleProcess, family: str, version: str, target: str) -> None:
    job = lifecycle.request("GET", f"/job/{family}/{version}").json()
    assert (job["status"], job["infrastructure_target"]) == ("running", target), job
    url = f"http://{job['internal_name']}/pub/job/{family}/{version}/api/v1/perform"
    assert httpx.post(url, json={"numbers": [40, 2]}, timeout=30).json() == 42


def test_move_to_another_target_and_back(rt, lifecycle, family: str, tmp_path: Path) -> None:
    job = tmp_path / "adder"
    shutil.copytree(SAMPLE, job)
    manifest = {**yaml.safe_load((job / "job.yaml").read_text()), "name": family}
    (job / "job.yaml").write_text(yaml.safe_dump(manifest))
    version = str(manifest["version"])
    resource = f"job-{family}-v-{version.replace('.', '-')}"

    assert rt("login", lifecycle.token, "--remote", lifecycle.url).exit_code == 0
    assert rt("set", "remote", lifecycle.url).exit_code == 0
    result = rt("deploy", str(job), "--build-context", "local")
    assert result.exit_code == 0, result.output
    ((name, image),) = _containers(family).items()
    assert name == resource

    result = rt("move", family, "--version", version, "--infrastructure", SIBLING, "--preview")
    assert result.exit_code == 0, result.output
    assert f'Moving job "{family}" v{version} to {SIBLING} would change:' in result.stdout
    steps = [line.split() for line in result.stdout.splitlines()]
    assert ["+", "create", f"{PREFIX}{resource}"] in [[s[0], s[1], s[-1]] for s in steps if len(s) > 2]
    assert ["-", "delete", resource] in [[s[0], s[1], s[-1]] for s in steps if len(s) > 2]
    assert _containers(family) == {resource: image}  # a preview changes nothing

    home = tmp_path / "upstream-home"
    home.mkdir()
    assert _upstream(home, "login", lifecycle.token, "--remote", lifecycle.url).returncode == 0
    moved = _upstream(
        home, "move", family, "--version", version, "--infrastructure", SIBLING, "--remote", lifecycle.url
    )
    assert moved.returncode == 0, moved.stdout + moved.stderr
    # The answer came once the move had ended: the job serves from the other target, same image.
    assert _containers(family) == {f"{PREFIX}{resource}": image}
    _serves(lifecycle, family, version, SIBLING)
    listed = rt("list", "-c", "infrastructure").stdout.splitlines()
    assert any(line.split()[:4] == [family, version, "RUNNING", SIBLING] for line in listed), listed

    history = rt("history", family).stdout
    assert f"move {version} from docker" in history and f"move {version} to {SIBLING}" in history

    result = rt("move", family, "--version", version, "--infrastructure", "docker")
    assert result.exit_code == 0, result.output
    assert f'Job "{family}" v{version} has been moved to docker' in result.stdout
    assert _containers(family) == {resource: image}
    _serves(lifecycle, family, version, "docker")

    result = rt("move", family, "--version", version, "--infrastructure", "docker")
    assert result.exit_code == 1 and "already runs on docker" in result.stderr
    result = rt("move", family, "--version", version, "--infrastructure", "mars")
    assert result.exit_code == 1
    assert f"'mars' is not known (accepted: docker, {SIBLING}, kubernetes)" in result.stderr
