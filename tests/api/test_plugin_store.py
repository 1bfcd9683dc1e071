"""One plugin store: the lifecycle refuses at upload what the job-type registry could not load, and a broken
ZIP found in data_dir/plugins is skipped with a warning while the built-in job types keep deploying.

The deploys run through the real lifecycle with its real deploy engine; they stop at "preparing job type",
before any image is built, so neither Pulumi nor Docker is needed to see which job types the engine knows.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.deployer import DeployEngine
from api.lifecycle import create_app
from api.settings import Settings
from jobtypes.source import pack_directory
from tests.api.conftest import Api, World

LAYOUT = "a plugin ZIP holds plugin-manifest.yaml and plugin.py at its root"


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


MANIFEST = "name: broken\nversion: 1.0.0\ncategory: job-type\n"
GOOD_PLUGIN = """
class Plugin:
    def job_types(self):
        return {"extra:1.0.0": ["extra.Dockerfile"]}
"""


@pytest.fixture
def real(settings: Settings) -> Iterator[tuple[Api, DeployEngine, World]]:
    app = create_app(settings, run_migrations=False)
    engine = DeployEngine(settings, app.state.sessions, max_parallel=1)
    app.state.engine = engine
    with TestClient(app) as client:
        yield Api(client, app), engine, World(app)
    engine.shutdown()
    app.state.db_engine.dispose()


def _deploy(api: Api, engine: DeployEngine, token: str, jobtype: str, tmp_path: Path) -> dict[str, Any]:
    job = tmp_path / "job"
    job.mkdir(exist_ok=True)
    (job / "entrypoint.py").write_text("class Job:\n    def perform(self):\n        return 1\n")
    manifest = {
        "name": "adder",
        "owner_email": "alice@example.com",
        "git": {"remote": "https://github.com/example/adder"},
        "jobtype": jobtype,
        "jobtype_extra": {"entrypoint_path": "entrypoint.py"},
    }
    response = api.post("/deploy", token, json={"manifest": manifest, "build_context": pack_directory(job)})
    assert response.status_code == 202, response.text
    engine.wait_idle(timeout=120)
    deployment: dict[str, Any] = api.get(f"/deploy/{response.json()['id']}", token).json()
    return deployment


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"plugin-manifest.yaml": MANIFEST}, f"plugin.py is missing ({LAYOUT})"),
        ({"plugin.py": GOOD_PLUGIN}, f"plugin-manifest.yaml is missing ({LAYOUT})"),
        (
            {"plugin-manifest.yaml": MANIFEST, "plugin.py": "import numpy_is_not_here\n"},
            "cannot be loaded: ModuleNotFoundError: No module named 'numpy_is_not_here'",
        ),
        (
            {
                "plugin-manifest.yaml": MANIFEST,
                "plugin.py": "class Plugin:\n    def job_types(self):\n"
                "        return {'nameonly': ['x.Dockerfile']}\n",
            },
            "job type 'nameonly' must be named name:version",
        ),
    ],
    ids=["no-plugin-py", "no-manifest", "import-fails", "bad-job-type"],
)
def test_a_plugin_the_registry_cannot_load_is_refused_at_upload(
    real: tuple[Api, DeployEngine, World], files: dict[str, str], problem: str
) -> None:
    api, _, world = real
    staff = world.user("staff@example.com", staff=True)
    response = api.post("/plugin/upload/broken.zip", staff, content=_zip(files))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert problem in error and "broken" in error  # names the upload and what is wrong with it
    assert api.get("/plugin", staff).json() == []
    assert not list((world.settings.data_dir / "plugins").glob("*.zip"))


def test_a_failed_replace_keeps_the_plugin_that_works(real: tuple[Api, DeployEngine, World]) -> None:
    api, _, world = real
    staff = world.user("staff@example.com", staff=True)
    good = _zip({"plugin-manifest.yaml": MANIFEST, "plugin.py": GOOD_PLUGIN})
    assert api.post("/plugin/upload/broken.zip", staff, content=good).status_code == 201
    bad = _zip({"plugin-manifest.yaml": MANIFEST})
    assert api.post("/plugin/upload/broken.zip", staff, content=bad, params={"replace": 1}).status_code == 400
    assert api.get("/plugin/broken/1.0.0/download", staff).content == good
    assert api.get("/plugin/job_type/versions", staff).json()[-1] == "extra:1.0.0"  # after the built-in ones


def test_a_broken_plugin_on_disk_is_skipped_and_built_in_job_types_keep_working(
    real: tuple[Api, DeployEngine, World], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api, engine, world = real
    alice = world.user("alice@example.com")
    plugins = world.settings.data_dir / "plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    (plugins / "broken-1.0.0.zip").write_bytes(_zip({"plugin-manifest.yaml": MANIFEST}))

    with caplog.at_level(logging.WARNING, logger="jobtypes.registry"):
        unknown = _deploy(api, engine, alice, "nosuch:1.0", tmp_path)
    # The engine still knows every built-in job type: the broken ZIP is not what the deploy trips on.
    assert unknown["status"] == "failed"
    assert "job type 'nosuch' is not installed; available: docker-proxy, golang, python3" in unknown["error"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("broken-1.0.0.zip is skipped" in w and "plugin.py is missing" in w for w in warnings), warnings

    staff = world.user("staff@example.com", staff=True)
    good = _zip({"plugin-manifest.yaml": MANIFEST, "plugin.py": GOOD_PLUGIN})
    # Uploading a working plugin of the same name and version replaces the broken file.
    assert api.post("/plugin/upload/broken.zip", staff, content=good).status_code == 201
    extra = _deploy(api, engine, alice, "extra:9.9", tmp_path)
    assert "versions of extra: 1.0.0" in extra["error"]
