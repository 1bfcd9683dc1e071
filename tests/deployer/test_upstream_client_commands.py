"""Upstream's PyPI client 2.35.1 against the real platform (lifecycle with its deploy engine, pub), one
command after another as its docs show them: login, set/get remote and config, deploy, list, logs,
build-logs, call, delete, logout. (move: tests/client/test_real_move.py; plugin install, list,
download, bundle, uninstall: test_plugin_hooks.py; logs -f: test_live_logs.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from api.run import _docker_bridge_gateway
from tests.client.upstream import upstream_client
from tests.deployer.conftest import SAMPLE
from tests.deployer.lifecycle_process import LifecycleProcess, free_port
from tests.pub.servers import PubProcess

pytestmark = pytest.mark.engine


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[LifecycleProcess]:
    """Lifecycle and pub as `make run` pairs them: the lifecycle gives jobs pub's address."""
    port = free_port()
    lifecycle = LifecycleProcess(tmp_path / "data", extra_env={"RACETRACK_PUB_PORT": str(port)}).start()
    env = {key: value for key, value in lifecycle.env.items() if key.startswith("RACETRACK_")}
    gateway = _docker_bridge_gateway()
    pub = PubProcess(env, port=port, args=("--host", "127.0.0.1", "--host", gateway) if gateway else ())
    yield lifecycle
    pub.stop()
    lifecycle.stop()


def _rt(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost")
    result = subprocess.run(
        [str(upstream_client()), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=1200
    )
    return result


def test_every_command_of_upstreams_client(platform: LifecycleProcess, family: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    job = tmp_path / "adder"
    shutil.copytree(SAMPLE, job)
    manifest = {**yaml.safe_load((job / "job.yaml").read_text()), "name": family}
    (job / "job.yaml").write_text(yaml.safe_dump(manifest))
    version = str(manifest["version"])

    assert _rt(home, "set", "remote", platform.url).returncode == 0
    assert _rt(home, "get", "remote", "-q").stdout.strip() == platform.url
    assert _rt(home, "login", platform.token).returncode == 0
    config = yaml.safe_load(_rt(home, "get", "config").stdout)
    assert config["lifecycle_url"] == platform.url and config["user_auths"] == {platform.url: platform.token}

    deployed = _rt(home, "deploy", str(job), "--build-context", "local")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    listed = _rt(home, "list", "-c", "all")
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith(family))
    assert row[:3] == [family, version, "RUNNING"] and "docker" in row

    called = _rt(home, "call", family, "/api/v1/perform", '{"numbers": [40, 2]}')
    assert called.returncode == 0, called.stdout + called.stderr
    assert called.stdout.strip() == "42"

    logs = _rt(home, "logs", family, "--version", version)
    assert logs.returncode == 0 and logs.stdout.strip(), logs.stderr  # the wrapper's own lines
    build_logs = _rt(home, "build-logs", family)
    assert build_logs.returncode == 0 and "racetrack_job_wrapper check" in build_logs.stdout, (
        build_logs.stderr
    )

    deleted = _rt(home, "delete", family, "--version", version)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert family not in _rt(home, "list").stdout

    assert _rt(home, "logout").returncode == 0
    after = _rt(home, "list")
    assert after.returncode != 0 and "racetrack login" in after.stdout + after.stderr
