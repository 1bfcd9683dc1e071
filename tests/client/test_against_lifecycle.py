"""The CLI against the real lifecycle app (over HTTP, no deploy engine).

It checks the contract in docs/cli.md end to end: auth flows, error bodies, deploy/preview records,
validation messages.
"""

from __future__ import annotations

import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.lifecycle import create_app
from api.settings import Settings
from tests.client.conftest import write_job

ADMIN_PASSWORD = "Cli-test-pass-7"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("lcdata"), admin_password=ADMIN_PASSWORD, lifecycle_port=port
    )
    app = create_app(settings, engine=None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/lifecycle/api/v1/info", timeout=1).is_success:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the lifecycle app did not start")
        time.sleep(0.1)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def test_cli_against_the_lifecycle_app(rt, lifecycle: str, tmp_path: Path) -> None:
    url = f"{lifecycle}/lifecycle"
    job = write_job(tmp_path / "adder")

    result = rt("list", "--remote", lifecycle)
    assert result.exit_code == 1
    assert f"racetrack login <token> --remote {url}" in result.stderr

    result = rt("login", "--username", "admin", "--remote", lifecycle, input="wrong-password\n")
    assert result.exit_code == 1 and "incorrect username or password" in result.stderr
    result = rt("login", "--username", "admin", "--remote", lifecycle, input=f"{ADMIN_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert f"Logged in as admin to Racetrack: {url}" in result.stdout

    assert rt("set", "alias", "here", lifecycle).exit_code == 0
    assert rt("set", "remote", "here").exit_code == 0
    assert rt("list").stdout.strip() == f"No jobs deployed at {url}."
    assert rt("get", "pub", "-q").stdout.strip().startswith("http")
    token = rt("get", "auth-token").stdout.strip()
    assert token

    result = rt("login", "not-a-token", "--remote", "here")
    assert result.exit_code == 1 and "invalid token" in result.stderr
    assert rt("login", token).exit_code == 0

    result = rt("deploy", str(job), "-e", "resources.memory_max=lots")
    assert result.exit_code == 1
    assert "the server rejected the manifest:" in result.stderr and "resources.memory_max" in result.stderr

    result = rt("deploy", str(job))  # accepted, then failed: this app runs without a deploy engine
    assert result.exit_code == 1
    assert 'deployment of job "adder" v0.0.1 failed' in result.stderr
    assert "Traceback" not in result.output

    result = rt("preview", str(job))
    assert result.exit_code == 1 and 'preview of job "adder" v0.0.1 failed' in result.stderr

    result = rt("delete", "adder", "--version", "0.0.1")
    assert result.exit_code == 1 and 'job "adder" not found' in result.stderr
    assert rt("plugin", "list").exit_code == 0
    assert rt("history", "nosuchjob").exit_code == 1

    result = rt("logout")
    assert result.exit_code == 0 and f"Logged out from Racetrack: {url}" in result.stdout


def test_plugin_bundle_install_download_with_built_in_job_types(rt, lifecycle: str, tmp_path: Path) -> None:
    source = tmp_path / "recorder"
    (source / "notes").mkdir(parents=True)
    (source / "plugin.py").write_text(
        "class Plugin:\n    def markdown_docs(self):\n        return '# Recorder'\n"
    )
    (source / "plugin-manifest.yaml").write_text("name: recorder\nversion: 0.1.0\ncategory: core\n")
    (source / "notes" / "draft.txt").write_text("not for the server\n")
    (source / ".racetrackignore").write_text("notes/\n")
    result = rt("plugin", "bundle", str(source), "--out", str(tmp_path / "dist"), "--plugin-version", "0.2.0")
    assert result.exit_code == 0, result.output
    bundled = tmp_path / "dist" / "recorder-0.2.0.zip"
    with zipfile.ZipFile(bundled) as archive:
        assert sorted(archive.namelist()) == ["plugin-manifest.yaml", "plugin.py"]
        assert "version: 0.2.0" in archive.read("plugin-manifest.yaml").decode()

    assert (
        rt("login", "--username", "admin", "--remote", lifecycle, input=f"{ADMIN_PASSWORD}\n").exit_code == 0
    )
    result = rt("plugin", "install", str(bundled), "--remote", lifecycle)
    assert result.exit_code == 0, result.output
    assert rt("plugin", "list", "--remote", lifecycle).stdout.split() == ["recorder==0.2.0"]
    job_types = rt("plugin", "list", "--job-types", "--remote", lifecycle).stdout.split()
    assert job_types[:3] == ["python3:1.0.0", "golang:1.0.0", "docker-proxy:1.0.0"], job_types  # built in

    result = rt(
        "plugin", "download", "recorder", "0.2.0", "--out-dir", str(tmp_path / "got"), "--remote", lifecycle
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "got" / "recorder-0.2.0.zip").read_bytes() == bundled.read_bytes()
    result = rt(
        "plugin", "download", "recorder", "9.9.9", "--out-dir", str(tmp_path / "got"), "--remote", lifecycle
    )
    assert result.exit_code == 1 and "recorder" in result.stderr
    assert sorted(p.name for p in (tmp_path / "got").iterdir()) == ["recorder-0.2.0.zip"]
    assert rt("plugin", "uninstall", "recorder", "--version", "0.2.0", "--remote", lifecycle).exit_code == 0
