"""The Kubernetes provider is built when a Kubernetes stack first needs it, not by `make setup`; two
processes building one cache entry take turns."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from stacks.engine import EngineConfig, check_installed, provider_versions
from stacks.providers import ensure_providers, plugin_path

REPO = Path(__file__).resolve().parents[2]


def test_setup_builds_no_provider_unless_asked() -> None:
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert 'build-providers.sh" kubernetes' in setup and "RACETRACK_SETUP_KUBERNETES" in setup
    assert 'build-providers.sh" all' not in setup
    steps = [line for line in setup.splitlines() if line.startswith("step ")]
    assert steps.index('step "Docker engine"') < steps.index('step "Pulumi provider plugins"')
    assert steps.index('step "Base images"') < steps.index('step "Pulumi CLI v$PULUMI_VERSION"')


def test_a_stack_needing_the_provider_gets_it_with_a_progress_line(
    engine_config: EngineConfig, tmp_path: Path
) -> None:
    """A fresh plugin cache: the first use installs the provider (building it first if this machine never
    did, which takes 15-35 minutes once)."""
    config = EngineConfig(
        pulumi_root=engine_config.pulumi_root,
        pulumi_home=tmp_path / "fresh-pulumi-home",
        backend_url=engine_config.backend_url,
        passphrase="p",
    )
    lines: list[str] = []
    ensure_providers(config, ("kubernetes",), log=lines.append)
    version = provider_versions()["kubernetes"]
    assert os.access(plugin_path(config.pulumi_home, "kubernetes", version), os.X_OK)
    assert any(
        "installing the one built before" in line or "first time only, about 15-35 minutes" in line
        for line in lines
    ), lines
    check_installed(config, ("kubernetes",))
    again: list[str] = []
    ensure_providers(config, ("kubernetes",), log=again.append)
    assert again == []  # installed: nothing to say, nothing to run


def test_two_builds_of_one_cache_entry_take_turns(tmp_path: Path) -> None:
    env = {**os.environ, "RACETRACK_CACHE_DIR": str(tmp_path / "cache")}
    release = tmp_path / "release"
    os.mkfifo(release)
    hold = f'. "{REPO}/scripts/versions.sh"; lock_cache_entry demo; echo locked; read _ < "{release}"'
    first = subprocess.Popen(["bash", "-c", hold], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "locked"
        take = f'. "{REPO}/scripts/versions.sh"; lock_cache_entry demo; echo "got it"'
        second = subprocess.Popen(
            ["bash", "-c", take], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert second.stderr is not None
        waiting = second.stderr.readline()
        assert "demo: another process is building it" in waiting and "waiting for it" in waiting
        assert second.poll() is None  # still waiting while the first holds the lock
        with open(release, "w") as fifo:
            fifo.write("go\n")
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 0 and out.strip() == "got it"
    finally:
        first.kill()
        first.wait()
