"""`make platform-*` never modifies the checkout: what Pulumi writes for one installation (the stack's
encryption salt, config it sets) lives in that installation's data directory, next to its state and
passphrase, so a second data directory with its own passphrase works too."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from api.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout


def _platform(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RACETRACK_DATA_DIR": str(data_dir)}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "platform.sh"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(autouse=True)
def _the_cli_is_built() -> None:
    if not os.access(Settings().pulumi_root / "bin" / "pulumi", os.X_OK):
        pytest.fail("the Pulumi CLI is missing: run `make setup`")


def test_platform_commands_leave_the_checkout_as_it_was(tmp_path: Path) -> None:
    tracked = (REPO / "Pulumi.local.yaml").read_bytes()
    before = _git_status()
    first, second = tmp_path / "first", tmp_path / "second"

    listed = _platform(first, "config", "--show-secrets")  # creates the stack, decrypts its config
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "lifecyclePort  7102" in listed.stdout
    previewed = _platform(first, "preview", "--non-interactive")  # runs the program from the checkout
    assert previewed.returncode == 0, previewed.stdout[-3000:] + previewed.stderr[-3000:]
    assert "to create" in previewed.stdout and 'lifecycleUrl  : "http://127.0.0.1:7102/lifecycle"' in (
        previewed.stdout
    )
    # With no extraCaBundle in the stack, the platform's image builds trust what this host trusts.
    host_ca = Settings().build_ca().path
    if host_ca is not None:
        assert f'ca_bundle: "{host_ca}"' in previewed.stdout

    # Another installation, another passphrase: its own salt, no "incorrect passphrase".
    other = _platform(second, "config")
    assert other.returncode == 0, other.stdout + other.stderr
    salts = [
        yaml.safe_load((d / "platform-project" / "Pulumi.local.yaml").read_text()).get("encryptionsalt")
        for d in (first, second)
    ]
    assert all(salts) and salts[0] != salts[1]
    assert (first / "secrets" / "platform-passphrase").read_text() != (
        second / "secrets" / "platform-passphrase"
    ).read_text()

    set_value = _platform(first, "config", "set", "racetrack:adminUsername", "root")
    assert set_value.returncode == 0, set_value.stderr
    assert "root" in _platform(first, "config", "get", "racetrack:adminUsername").stdout
    assert (REPO / "Pulumi.local.yaml").read_bytes() == tracked
    assert _git_status() == before
