"""The README's "Using it" block, typed on a terminal line by line, against `make run` started as a user
starts it: `make run` in one terminal (the user's environment, no setting but a private data directory),
the README's commands in another, from registration (the admin's token from the dashboard's Profile page)
through deploy, call, preview, history and rollback.

The README's lines are read from README.md, so the test fails when the README stops working.
`make setup` installs tmux and starts Docker, so on a set-up machine nothing here skips.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.client.terminal import Terminal, cli_env, ensure_tmux

REPO = Path(__file__).resolve().parents[2]
# The user's home, read before the client tests' fixtures move HOME: `make setup` caches under it.
REAL_HOME = os.environ.get("HOME", str(Path.home()))
DEFAULT_PORTS = {
    "RACETRACK_LIFECYCLE_PORT": 7002,
    "RACETRACK_DASHBOARD_PORT": 7003,
    "RACETRACK_PUB_PORT": 7005,
}

pytestmark = pytest.mark.engine


def readme_block(section: str) -> list[str]:
    """The first ```shell block of a README section: its lines without trailing comments."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    block = body.split("```shell\n", 1)[1].split("```", 1)[0]
    lines = []
    for raw in block.splitlines():
        if raw.lstrip().startswith("#"):
            lines.append(raw.strip())  # a step done by hand (e.g. in the browser)
        else:
            lines.append(re.split(r"\s{2,}#", raw, maxsplit=1)[0].strip())
    return [line for line in lines if line]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _docker_ok() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture
def server_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[int, int]]]:
    """The user's environment for `make run`: settings of this test run dropped, a private data directory
    (RACETRACK_DATA_DIR, a README setting), the README's ports unless another process holds one."""
    ensure_tmux()
    if not _docker_ok():
        pytest.fail("no Docker engine answers: `make setup` starts one")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACETRACK_", "PYTEST", "PULUMI_"))}
    env["HOME"] = REAL_HOME
    env["RACETRACK_DATA_DIR"] = str(tmp_path / "data")
    moved: dict[int, int] = {}
    for name, port in DEFAULT_PORTS.items():
        if not _port_free(port):  # another platform on this machine: the same setup on other ports
            moved[port] = _free_port()
            env[name] = str(moved[port])
    yield env, moved


def _dashboard_login_command(dashboard: str, password: str) -> str:
    """What the README says to do in the browser: log in as admin, copy the command from Profile."""
    with httpx.Client(base_url=dashboard, follow_redirects=True, timeout=30) as browser:
        page = browser.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text[:2000]
        answer = browser.post(
            "/login", data={"username": "admin", "password": password, "csrf_token": csrf.group(1)}
        )
        assert answer.status_code == 200, answer.text[:2000]
        profile = browser.get("/profile")
        command = re.search(r"racetrack login \S+(?: --remote \S+)?", profile.text.replace("&#34;", '"'))
        assert command, profile.text[:3000]
        return command.group(0)


def test_the_readme_using_it_block_works_as_written(server_env, tmp_path: Path) -> None:
    env, moved = server_env
    lines = readme_block("Using it")
    assert lines[0] == "make run", lines

    def as_here(line: str) -> str:
        for port, other in moved.items():
            line = line.replace(f"127.0.0.1:{port}", f"127.0.0.1:{other}")
        return line

    sample = REPO / "sample" / "python-class"
    family = yaml.safe_load((sample / "job.yaml").read_text())["name"]
    version = str(yaml.safe_load((sample / "job.yaml").read_text()).get("version", "0.0.1"))
    server = Terminal(env, cwd=REPO)
    user = Terminal(cli_env(tmp_path / "home" / ".racetrack"), cwd=REPO)
    began = time.monotonic()

    def took(what: str) -> None:  # the figures docs/setup.md quotes (run with -s to see them)
        print(f"[{time.monotonic() - began:6.1f}s] {what}", flush=True)

    try:
        server.send(lines[0])
        # `make run` runs `make setup` first: seconds when its caches are warm.
        started = server.wait_for("racetrack: lifecycle http://", timeout=1800)
        lifecycle = re.search(r"racetrack: lifecycle (\S+),", started).group(1)  # type: ignore[union-attr]
        dashboard = re.search(r"dashboard (\S+),", started).group(1)  # type: ignore[union-attr]
        screen = server.wait_for("Created Racetrack admin 'admin' with password: ", timeout=120)
        password = re.search(r"with password: (\S+)", screen).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{lifecycle}/live", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, server.screen()[-3000:]
            time.sleep(0.5)
        took("make run: the lifecycle answers")

        for written in lines[1:]:
            line = as_here(written)
            if line.startswith("#"):
                assert "log in as admin" in line and "racetrack login <token>" in line, line
                login = _dashboard_login_command(dashboard, password)
                token = login.split()[2]
                continue
            if "<token>" in line:
                line = line.replace("<token>", token)
            if line.startswith("racetrack rollback"):
                user.clear()
                user.send(f"{line}; echo __rc=$?")
                screen = user.wait_for("Do you want to perform this rollback? [y/N]:", timeout=900)
                assert '- env.GREETING: "hello"' in screen, screen
                user.send("y")
                screen = user.wait_for("__rc=", timeout=900)
                assert "__rc=0" in screen, screen
                assert f'Rolled back job "{family}" to revision 1.' in screen, screen
                took(written)
                continue
            screen = user.run(line, timeout=1200)
            assert user.exit_code(screen) == 0, f"{line!r} failed:\n{screen}"
            if line.startswith("racetrack deploy"):
                assert f'Job "{family}" v{version} is deployed.' in screen, screen
            elif line.startswith("racetrack call"):
                assert "42" in [part.strip() for part in screen.splitlines()], screen
            elif line.startswith("racetrack preview"):
                assert f'Plan for job "{family}" v{version}' in screen, screen
                assert '+ env.GREETING: "hello"' in screen, screen
            elif line.startswith("racetrack history"):
                assert "REV" in screen and "deploy" in screen, screen
            took(written)
    finally:
        # The platform removes what it made; images stay (a cache that other checkouts' deploys share).
        with contextlib.suppress(AssertionError):  # nothing to delete when the deploy failed
            user.run(f"racetrack delete {family} --version {version}", timeout=600)
        server.keys("C-c")  # as the user stops it; the shell then runs what was typed meanwhile
        server.send("echo __stopped__")
        try:
            server.wait_for("__stopped__", timeout=120)
        finally:
            server.close()
            user.close()
            shutil.rmtree(tmp_path / "data", ignore_errors=True)
