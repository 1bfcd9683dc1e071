from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings
from stacks.engine import EngineConfig


@pytest.fixture
def engine_config(data_dir: Path) -> EngineConfig:
    """The real engine that `make setup` built, with state in a throwaway data directory."""
    return EngineConfig.from_settings(Settings(data_dir=data_dir))
