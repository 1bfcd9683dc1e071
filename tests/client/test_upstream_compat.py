"""The config file is shared with upstream's `racetrack-client` 2.35: each client reads what the other wrote.

The upstream client comes from tests/client/upstream.py (installed into the cache folder on first use).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.client.conftest import LIFECYCLE, write_config
from tests.client.upstream import upstream_client


def upstream(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(
        [str(upstream_client()), *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def home(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One home for both clients: ours reads $HOME/.racetrack like upstream's."""
    home = isolated.parent / "shared-home"
    home.mkdir()
    monkeypatch.setenv("RACETRACK_CONFIG_DIR", str(home / ".racetrack"))
    return home


def test_upstream_reads_what_we_wrote(rt, home: Path) -> None:
    assert rt("set", "alias", "dev", "rt.dev.example.com").exit_code == 0
    assert rt("set", "remote", "dev").exit_code == 0
    assert rt("set", "credentials", "https://github.com/org", "me@example.com", "tok-git").exit_code == 0
    write_config(
        home / ".racetrack",
        (home / ".racetrack" / "config.yaml")
        .read_text()
        .replace("user_auths: {}", "user_auths:\n  https://rt.dev.example.com/lifecycle: tok-user"),
    )

    remote = upstream(home, "get", "remote", "-q")
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout.strip() == "https://rt.dev.example.com/lifecycle"
    token = upstream(home, "get", "auth-token")
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip() == "tok-user"
    config = upstream(home, "get", "config")
    assert config.returncode == 0 and "readable by" not in config.stderr + config.stdout


def test_we_read_what_upstream_wrote(rt, home: Path) -> None:
    assert upstream(home, "set", "alias", "docker", "http://127.0.0.1:7102/").returncode == 0
    assert upstream(home, "set", "remote", "docker").returncode == 0
    assert (
        upstream(home, "set", "credentials", "https://gitlab.example.com", "bob", "tok-bob").returncode == 0
    )
    data = yaml.safe_load((home / ".racetrack" / "config.yaml").read_text())
    assert data["lifecycle_url"] == "docker"

    assert rt("get", "remote", "-q").stdout.strip() == "http://127.0.0.1:7102/lifecycle"
    shown = yaml.safe_load(rt("get", "config", "--show-secrets").stdout)
    assert shown["git_credentials"] == {
        "https://gitlab.example.com": {"username": "bob", "password": "tok-bob"}
    }
    assert shown["lifecycle_url_aliases"] == {"docker": "http://127.0.0.1:7102"}
    assert LIFECYCLE.startswith("http://127.0.0.1:7002")  # our default remote is upstream's default too
