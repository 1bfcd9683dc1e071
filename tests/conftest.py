"""Fixtures every part of the suite shares."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps a developer's own cluster or platform settings from leaking into tests."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("RACETRACK_CONFIG_FILE", raising=False)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh platform data directory, also exported as RACETRACK_DATA_DIR."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("RACETRACK_DATA_DIR", str(path))
    from api.settings import get_settings

    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def cache_dir() -> Path:
    return Path(os.environ.get("RACETRACK_CACHE_DIR", Path.home() / ".cache" / "racetrack"))
