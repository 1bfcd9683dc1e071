"""The data directory is owner-only: the real lifecycle process, started as `make run` starts it with a
common umask (022), leaves no file or folder that group or others can read after a run that logs in,
registers, installs a plugin and has a deployment fail at its source.
"""

from __future__ import annotations

import io
import os
import signal
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pub.servers import _wait_live, free_port

ROOT = Path(__file__).resolve().parents[2]


def _plugin_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-manifest.yaml", "name: private-test\nversion: 1.0.0\n")
        archive.writestr("plugin.py", "class Plugin:\n    pass\n")
    return buffer.getvalue()


@pytest.fixture
def lifecycle_process(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RACETRACK_")},
        "RACETRACK_DATA_DIR": str(data_dir),
        "RACETRACK_LIFECYCLE_PORT": str(port),
        "PYTHONPATH": str(ROOT),
    }
    log = open(tmp_path / "lifecycle.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "api.lifecycle"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        umask=0o022,  # what most shells give a user
    )
    base = f"http://127.0.0.1:{port}/lifecycle/api/v1"
    _wait_live(f"http://127.0.0.1:{port}", process, "the lifecycle", process.kill)
    try:
        yield base, data_dir
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_everything_the_lifecycle_writes_is_owner_only(lifecycle_process: tuple[str, Path]) -> None:
    base, data_dir = lifecycle_process
    password = (data_dir / "secrets" / "admin_password").read_text()
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        login = client.post("/users/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
        admin = {"X-Racetrack-Auth": login.json()["token"]}
        client.cookies.clear()
        assert (
            client.post(
                "/users/register", json={"username": "carol@example.com", "password": "a-good-password-1"}
            ).status_code
            == 201
        )
        assert client.post("/escs", json={"name": "billing"}, headers=admin).status_code in (200, 201)
        uploaded = client.post("/plugin/upload/private-test.zip", content=_plugin_zip(), headers=admin)
        assert uploaded.status_code == 201, uploaded.text
        manifest = {
            "name": "private-adder",
            "owner_email": "carol@example.com",
            "jobtype": "python3:latest",
            "git": {"remote": "https://127.0.0.1:9/nowhere.git"},
            "version": "1.0.0",
        }
        deployed = client.post(
            "/deploy",
            json={"manifest": manifest, "secret_vars": {"runtime_env": {"API_KEY": "s3cret"}}},
            headers=admin,
        )
        assert deployed.status_code == 202, deployed.text
        deadline = time.monotonic() + 120
        while (status := client.get(f"/deploy/{deployed.json()['id']}", headers=admin).json())[
            "status"
        ] == "in_progress":
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["status"] == "failed"

    found = [data_dir, *sorted(data_dir.rglob("*"))]
    names = {p.relative_to(data_dir).as_posix() for p in found[1:]}
    assert {"racetrack.db", "racetrack.db-wal", "racetrack.db-shm", "secrets/admin_password"} <= names
    assert any(name.startswith("plugins/") for name in names)
    assert any(name.startswith("build-logs/") for name in names) and "workspaces" in names
    readable = [f"{stat.filemode(p.lstat().st_mode)} {p}" for p in found if p.lstat().st_mode & 0o077]
    assert readable == [], "group or others can reach:\n" + "\n".join(readable)


def test_tightening_leaves_the_local_clusters_state_alone(tmp_path: Path) -> None:
    """The cluster's containerd keeps image files whose modes pods rely on, and mounts network namespaces
    as files there: `make run` with `make cluster` running must neither change nor fail on them."""
    from api.data_dir import tighten

    data = tmp_path / "data"
    (data / "cluster" / "snapshots").mkdir(parents=True)
    image_file = data / "cluster" / "snapshots" / "passwd"
    image_file.write_text("root:x:0:0\n")
    image_file.chmod(0o644)
    ours = data / "racetrack.db"
    ours.write_text("")
    ours.chmod(0o644)

    tighten(data, leave=(data / "cluster",))

    assert (ours.stat().st_mode & 0o777, image_file.stat().st_mode & 0o777) == (0o600, 0o644)
