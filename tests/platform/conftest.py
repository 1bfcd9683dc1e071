"""The real Pulumi CLI, run on local programs through Racetrack's language host."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from api.settings import Settings
from stacks.language_host import install_launcher

REPO = Path(__file__).resolve().parents[2]
PulumiRun = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def pulumi_cli(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The built CLI and an environment: a temporary file backend, the shared plugin cache, and this
    checkout's language host first on PATH (so the test runs the code under test)."""
    settings = Settings(data_dir=tmp_path / "data")
    binary = settings.pulumi_root / "bin" / "pulumi"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"the Pulumi CLI is missing at {binary}: run `make setup`")
    host_bin = tmp_path / "host-bin"
    install_launcher(host_bin, python=sys.executable)
    state = tmp_path / "state"
    state.mkdir()
    env = {
        **os.environ,
        "PATH": f"{host_bin}:{binary.parent}:{os.environ.get('PATH', '')}",
        "PULUMI_HOME": str(settings.pulumi_home),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "platform-tests",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_PYTHON_CMD": sys.executable,
        "PYTHONPATH": f"{REPO}:{os.environ.get('PYTHONPATH', '')}".rstrip(":"),
    }
    return binary, env


@pytest.fixture
def pulumi(pulumi_cli: tuple[Path, dict[str, str]]) -> PulumiRun:
    """`pulumi(cwd, *args, check=True, timeout=...)` runs the CLI non-interactively."""
    binary, env = pulumi_cli

    def run(cwd: Path, *args: str, check: bool = True, timeout: float = 900, extra_env: dict | None = None):
        result = subprocess.run(
            [str(binary), *args, "--non-interactive"],
            cwd=cwd,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    return run
