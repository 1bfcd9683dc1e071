"""Fixtures every part of the suite shares."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


# Markers that mean something ----------------------------------------------------------------------
# `make test-fast` leaves out `engine` and `browser` tests; a test that reaches for Docker, Pulumi or
# Chromium without its marker would make that run slow or fail on a machine without them, so it fails here.

_ENGINE_PROGRAMS = {"docker", "dockerd", "pulumi", "buildctl"}
_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


def _command_line(argv: Any) -> list[str]:
    """Popen's `args` as strings: a string, bytes or path alone, or a sequence of them."""
    items = [argv] if isinstance(argv, str | bytes | os.PathLike) else list(argv or [])
    return [os.fsdecode(a) if isinstance(a, str | bytes | os.PathLike) else str(a) for a in items]


def _needs(args: list[str]) -> str | None:
    """The marker a subprocess's command line calls for, if any."""
    if not args:
        return None
    program = Path(str(args[0]).split(" ")[0]).name  # with shell=True the first word is the program
    if program in _ENGINE_PROGRAMS or program.startswith("pulumi-"):
        return "engine"
    if "playwright" in str(args[0]) or any("ms-playwright" in str(a) for a in args[:2]):
        return "browser"
    return None


@pytest.fixture(autouse=True)
def _markers_mean_something(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    marked = {mark.name for mark in request.node.iter_markers()}
    if {"engine", "browser"} <= marked:
        yield
        return
    missing: list[str] = []

    def check(needed: str | None, what: Callable[[], str]) -> None:
        if needed and needed not in marked:
            problem = f"{what()} needs @pytest.mark.{needed}"
            missing.append(problem)
            raise RuntimeError(f"{problem} (make test-fast runs without it)")

    original_popen = subprocess.Popen.__init__

    def popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        command = _command_line(args)
        check(_needs(command), lambda: f"running {' '.join([Path(command[0]).name, *command[1:]])[:80]}")
        original_popen(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    import docker.api.client

    original_client = docker.api.client.APIClient.__init__

    def client(self: Any, *args: Any, **kwargs: Any) -> None:
        check("engine", lambda: "a Docker client")
        original_client(self, *args, **kwargs)

    monkeypatch.setattr(docker.api.client.APIClient, "__init__", client)
    yield
    # Also when the test swallowed the error (a helper catching every exception) and passed.
    if missing and not request.node.stash.get(_CALL_FAILED, False):
        pytest.fail("; ".join(sorted(set(missing))), pytrace=False)
