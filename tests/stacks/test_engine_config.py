"""The engine module's offline configuration: what it passes to Pulumi and how it fails."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from api.errors import EngineMissing
from api.settings import Settings
from stacks.engine import EngineConfig, check_installed, open_stack


def test_a_missing_cli_names_the_fix(tmp_path: Path) -> None:
    config = EngineConfig(
        pulumi_root=tmp_path / "nowhere",
        pulumi_home=tmp_path / "home",
        backend_url=f"file://{tmp_path / 'state'}",
        passphrase="p",
    )
    with pytest.raises(EngineMissing, match="make setup"):
        open_stack(config, project="p", stack="s", program=lambda: None)


def test_a_missing_provider_plugin_names_the_fix(engine_config: EngineConfig, tmp_path: Path) -> None:
    config = EngineConfig(
        pulumi_root=engine_config.pulumi_root,
        pulumi_home=tmp_path / "empty-home",
        backend_url=engine_config.backend_url,
        passphrase="p",
    )
    with pytest.raises(EngineMissing, match=r"provider plugin kubernetes v4\.25\.0 .*make setup"):
        check_installed(config, ("kubernetes",))


def test_the_passphrase_is_generated_once_and_owner_only(data_dir: Path) -> None:
    first = EngineConfig.from_settings(Settings(data_dir=data_dir))
    second = EngineConfig.from_settings(Settings(data_dir=data_dir))
    assert first.passphrase == second.passphrase and len(first.passphrase) >= 32
    mode = stat.S_IMODE((data_dir / "secrets" / "pulumi_passphrase").stat().st_mode)
    assert mode == 0o600
    assert first.passphrase not in repr(first)


def test_downloads_and_update_checks_are_off(engine_config: EngineConfig, data_dir: Path) -> None:
    env = engine_config.environment()
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert engine_config.backend_url == f"file://{data_dir / 'pulumi-state'}"
