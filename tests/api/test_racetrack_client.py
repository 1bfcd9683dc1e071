"""The PyPI `racetrack-client` 2.35.x, in its own virtualenv, against a real lifecycle server.

The client's venv is the one tests/client/upstream.py keeps in the cache folder. The server,
`python -m api.lifecycle`, runs on a free port, started as a user would start it; the client runs with its
own HOME.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from api.auth import grant_deployer, subject_for_user
from api.auth.permissions import grant_owner
from api.db import User, create_db_engine, session_factory, session_scope
from api.db.repository import ensure_family, upsert_job
from tests.client.upstream import upstream_client

REPO = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "client-test-admin-password"


@pytest.fixture(scope="session")
def racetrack_cli() -> Path:
    return upstream_client()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACETRACK_")}
    env.update(
        PYTHONPATH=str(REPO),
        RACETRACK_DATA_DIR=str(tmp_path / "data"),
        RACETRACK_LIFECYCLE_PORT=str(port),
        RACETRACK_DATABASE_URL=database_url,
        RACETRACK_ADMIN_PASSWORD=ADMIN_PASSWORD,
        # The client's protocol is under test here, not building and running jobs (tests/deployer/ does that).
        RACETRACK_DEPLOY_ENGINE="false",
    )
    log = open(tmp_path / "lifecycle.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "api.lifecycle"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"lifecycle exited: {(tmp_path / 'lifecycle.log').read_text()}")
            try:
                if httpx.get(f"{base}/lifecycle/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"lifecycle did not become ready: {(tmp_path / 'lifecycle.log').read_text()}"
                )
            time.sleep(0.1)  # polling readiness against a deadline
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _run(cli: Path, home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost")
    return subprocess.run([str(cli), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # a lifecycle process per database and a dozen runs of the client: a minute of CPU
def test_racetrack_client_works_against_the_lifecycle(
    racetrack_cli: Path, server: str, tmp_path: Path, database_url: str
) -> None:
    api = f"{server}/lifecycle/api/v1"
    admin = httpx.post(f"{api}/users/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()[
        "token"
    ]
    assert (
        httpx.post(
            f"{api}/users/register", json={"username": "alice@example.com", "password": "alice-password-1"}
        ).status_code
        == 201
    )
    httpx.patch(
        f"{api}/users/alice@example.com", json={"is_active": True}, headers={"X-Racetrack-Auth": admin}
    )
    token = httpx.post(
        f"{api}/users/login", json={"username": "alice@example.com", "password": "alice-password-1"}
    ).json()["token"]
    # What a deploy engine would have recorded for an earlier version, with alice as its deployer.
    engine = create_db_engine(database_url)
    with session_scope(session_factory(engine)) as session:
        job = upsert_job(
            session,
            name="adder",
            version="0.9.0",
            status="running",
            deployed_by="alice@example.com",
            internal_name="adder:7000",
            job_type_version="python3:2.15.1",
        )
        alice = session.query(User).filter_by(username="alice@example.com").one()
        grant_deployer(session, subject_for_user(session, alice), job)
        grant_owner(
            session, subject_for_user(session, alice), ensure_family(session, "adder")
        )  # first deployer
    engine.dispose()

    home = tmp_path / "home"
    home.mkdir()
    remote = server  # the client appends /lifecycle itself

    # Without a terminal the client logs errors only, so success shows in its exit code and config file.
    result = _run(racetrack_cli, home, "login", token, "--remote", remote)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((home / ".racetrack" / "config.yaml").read_text())
    assert config["user_auths"] == {f"{server}/lifecycle": token}
    result = _run(racetrack_cli, home, "login", "not-a-token", "--remote", remote)
    assert result.returncode != 0 and "Invalid Auth Token" in result.stdout + result.stderr

    result = _run(racetrack_cli, home, "get", "auth-token", "--remote", remote)
    assert result.returncode == 0 and result.stdout.strip() == token

    result = _run(racetrack_cli, home, "list", "--remote", remote, "-c", "all")
    assert result.returncode == 0, result.stderr
    assert "adder" in result.stdout and "0.9.0" in result.stdout and "RUNNING" in result.stdout

    workdir = tmp_path / "adder"
    workdir.mkdir()
    (workdir / "job.yaml").write_text(
        "name: adder\nowner_email: alice@example.com\nversion: 1.0.0\njobtype: python3:latest\n"
        "git:\n  remote: https://github.com/TheRacetrack/racetrack\n  directory: sample/python-class\n"
        "jobtype_extra:\n  entrypoint_path: adder.py\n"
    )
    result = _run(racetrack_cli, home, "validate", str(workdir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "name: adder" in result.stdout

    result = _run(racetrack_cli, home, "deploy", str(workdir), "--remote", remote)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "no deploy engine is configured" in output  # failed, visibly ...
    deployments = httpx.get(f"{api}/deploy", headers={"X-Racetrack-Auth": token}).json()
    assert [(d["job_name"], d["job_version"], d["status"]) for d in deployments] == [
        ("adder", "1.0.0", "failed")
    ]
    assert "entrypoint_path: adder.py" in deployments[0]["manifest_yaml"]  # ... after being recorded

    result = _run(racetrack_cli, home, "delete", "adder", "--version", "0.9.0", "--remote", remote)
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run(racetrack_cli, home, "list", "--remote", remote)
    assert result.returncode == 0 and "0.9.0" not in result.stdout

    result = _run(racetrack_cli, home, "logout", "--remote", remote)
    assert result.returncode == 0
    result = _run(racetrack_cli, home, "list", "--remote", remote)
    assert result.returncode != 0 and "racetrack login" in result.stdout + result.stderr
