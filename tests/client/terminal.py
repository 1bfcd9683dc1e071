"""Driving the real `racetrack` process on a real terminal: a tmux session, its screen, waiting for text.

Used by the terminal tests (fake server) and the end-to-end test (live server).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

__all__ = ["Terminal", "ensure_tmux"]

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def ensure_tmux() -> None:
    """Installs Debian's tmux when it is missing (scripts/ensure-tool.sh), or fails saying why."""
    if shutil.which("tmux"):
        return
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "ensure-tool.sh"), "/usr/bin/tmux", "tmux"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"tmux is missing and could not be installed: {result.stderr.strip()}"


class Terminal:
    """One tmux session (its own server socket) with a shell whose environment the test controls."""

    def __init__(self, env: dict[str, str], cwd: Path, width: int = 160, height: int = 50) -> None:
        ensure_tmux()
        self.name = f"rt-{uuid.uuid4().hex[:8]}"
        self.socket = f"rt-test-{self.name}"
        self.env = env
        self.cwd = cwd
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self._tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(width),
            "-y",
            str(height),
            f"env -i {exports} bash --norc --noprofile",
        )
        self.wait_for_prompt_ready()

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True, cwd=self.cwd
        )
        return result.stdout

    def wait_for_prompt_ready(self) -> None:
        self.send("export PS1='$ '; cd " + shlex.quote(str(self.cwd)) + "; clear")
        time.sleep(0.3)

    def send(self, line: str, enter: bool = True) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", line)
        if enter:
            self._tmux("send-keys", "-t", self.name, "Enter")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        """The visible screen plus scrollback, without trailing blank lines."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-3000", "-t", self.name).rstrip()

    def clear(self) -> None:
        self.send("clear")
        self._tmux("clear-history", "-t", self.name)
        time.sleep(0.2)

    def run(self, command: str, *, expect: str | list[str] | None = None, timeout: float = 60.0) -> str:
        """Type a command, wait until it finishes (and `expect` shows), return what it printed."""
        self.clear()
        marker = f"__rc_{uuid.uuid4().hex[:6]}__"
        self.send(f"{command}; echo {marker}=$?")
        screen = self.wait_for(f"{marker}=", timeout=timeout)
        for text in [expect] if isinstance(expect, str) else expect or []:
            assert text in screen, f"{text!r} not on screen after {command!r}:\n{screen}"
        return screen

    def exit_code(self, screen: str) -> int:
        line = [ln for ln in screen.splitlines() if "__rc_" in ln and "=" in ln and "echo" not in ln][-1]
        return int(line.rsplit("=", 1)[1])

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if any(text in ln and "echo" not in ln for ln in screen.splitlines()):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear within {timeout}s; screen:\n{screen}")
            time.sleep(0.1)

    def close(self) -> None:
        """Stop this session's tmux server and remove its socket file."""
        path = subprocess.run(
            ["tmux", "-L", self.socket, "display-message", "-p", "#{socket_path}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False)
        if path:
            Path(path).unlink(missing_ok=True)


def cli_env(config_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment running this worktree's client as `racetrack`."""
    repo = Path(__file__).resolve().parents[2]
    python = Path(os.environ.get("RACETRACK_TEST_PYTHON", "") or __import__("sys").executable)
    bin_dir = config_dir.parent / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "racetrack"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(str(python))} -m client "$@"\n')
    shim.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(config_dir.parent),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(repo),
        "RACETRACK_CONFIG_DIR": str(config_dir),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    env.update(extra or {})
    return env
