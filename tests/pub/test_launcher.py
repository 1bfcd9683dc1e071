"""`python -m api.pub`, the launcher: finds the gateway, runs it next to the async service, and stops
with it. Black-box: real processes, looked at through /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.pub import BinaryNotFound, find_binary

from .conftest import ALICE, INTERNAL
from .servers import ROOT, PubProcess, free_port, gateway_binary


def _env(world, tmp_path) -> dict[str, str]:
    return {
        "RACETRACK_LIFECYCLE_URL": world.config.lifecycle_url,
        "RACETRACK_INTERNAL_TOKEN": INTERNAL,
        "RACETRACK_DATA_DIR": str(tmp_path),
    }


def _gone(pid: int, limit: float = 10) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited, not yet reaped by its parent
            return True
        time.sleep(0.05)
    return False


def test_find_binary_order(tmp_path, monkeypatch):
    given = tmp_path / "given"
    given.write_text("#!/bin/sh\n")
    given.chmod(0o755)
    assert find_binary({"RACETRACK_PUB_BINARY": str(given)}) == str(given)
    with pytest.raises(BinaryNotFound, match="make setup"):
        find_binary({"RACETRACK_PUB_BINARY": str(tmp_path / "missing")})
    venv = tmp_path / "venv"
    venv.mkdir()
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    on_path = tmp_path / "bin"
    on_path.mkdir()
    (on_path / "racetrack-pub").write_text("#!/bin/sh\n")
    (on_path / "racetrack-pub").chmod(0o755)
    assert find_binary({"PATH": str(on_path)}) == str(on_path / "racetrack-pub")
    (venv / "racetrack-pub").write_text("#!/bin/sh\n")
    (venv / "racetrack-pub").chmod(0o755)
    assert find_binary({"PATH": str(on_path)}) == str(venv / "racetrack-pub")  # the virtualenv's first
    (venv / "racetrack-pub").unlink()
    with pytest.raises(BinaryNotFound, match="make setup"):
        find_binary({"PATH": str(tmp_path / "nowhere")})


def test_missing_binary_is_one_line_naming_make_setup(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "api.pub", "--port", str(free_port())],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RACETRACK_DATA_DIR": str(tmp_path),
            "RACETRACK_PUB_BINARY": str(tmp_path / "racetrack-pub"),
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "make setup" in lines[0], done.stderr


def test_gateway_runs_as_a_child_and_stops_with_the_launcher(world, tmp_path):
    pub = PubProcess(_env(world, tmp_path), args=("--host", "127.0.0.1", "--host", "127.0.0.2"))
    try:
        (child,) = pub.children()
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0] == gateway_binary().encode()
        assert INTERNAL.encode() not in b" ".join(cmdline)  # the token travels in the environment
        for host in ("127.0.0.1", "127.0.0.2"):  # --host twice: one gateway, both addresses
            r = httpx.post(
                f"http://{host}:{pub.port}/pub/job/adder/0.0.1/api/v1/perform",
                json={"numbers": [2, 3]},
                headers={"X-Racetrack-Auth": ALICE},
                trust_env=False,
            )
            assert r.status_code == 200 and r.json()["result"] == 5
        pub.proc.send_signal(signal.SIGTERM)
        assert pub.proc.wait(15) == 0
        assert _gone(child)
    finally:
        pub.kill()


def test_launcher_exits_non_zero_when_the_gateway_dies(world, tmp_path):
    pub = PubProcess(_env(world, tmp_path))
    try:
        (child,) = pub.children()
        os.kill(child, signal.SIGKILL)
        assert pub.proc.wait(15) != 0
    finally:
        pub.kill()


def test_gateway_does_not_outlive_a_killed_launcher(world, tmp_path):
    pub = PubProcess(_env(world, tmp_path))
    (child,) = pub.children()
    pub.kill()  # SIGKILL: the launcher cannot stop its child itself
    assert _gone(child)


def test_sidecar_form_is_the_gateway_itself(world, tmp_path):
    world.lifecycle.add_job("solo", "1.0.0", "127.0.0.1:1")
    env = {
        **_env(world, tmp_path),
        "RACETRACK_PUB_SIDECAR_TARGET": world.job_server.address,
        "RACETRACK_PUB_SIDECAR_JOB_NAME": "solo",
    }
    sidecar = PubProcess(env, sidecar=True)
    try:
        assert Path(f"/proc/{sidecar.proc.pid}/exe").resolve() == Path(gateway_binary()).resolve()
        assert sidecar.children() == []
        r = httpx.get(f"{sidecar.url}/pub/async/task/x/poll", trust_env=False)
        assert r.status_code == 404 and "not served by a sidecar" in r.json()["error"]
    finally:
        sidecar.stop()


def test_make_run_starts_one_pub_listening_on_the_docker_bridge_too(monkeypatch, data_dir):
    from api import run

    monkeypatch.setattr(run, "_docker_bridge_gateway", lambda: "172.17.0.1")
    pubs = [command for command in run.commands() if command[1:3] == ["-m", "api.pub"]]
    assert pubs == [
        [sys.executable, "-m", "api.pub", "--host", "127.0.0.1", "--host", "172.17.0.1", "--port", "7005"]
    ]
    monkeypatch.setenv("RACETRACK_PUB_BRIDGE", "false")
    assert [c for c in run.commands() if c[1:3] == ["-m", "api.pub"]] == [[sys.executable, "-m", "api.pub"]]


def test_a_taken_port_stops_pub_with_the_gateways_reason(world, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "api.pub",
                "--port",
                str(taken.getsockname()[1]),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "RACETRACK_PUB_BINARY": gateway_binary(),
                **_env(world, tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode != 0
    assert "cannot listen on 127.0.0.1:" in done.stderr and "exited with status" in done.stderr, done.stderr
    assert INTERNAL not in done.stderr
