"""Upstream's `racetrack-client` 2.35, for the tests that check our server and config file against it.

`RACETRACK_UPSTREAM_CLIENT` names its `racetrack` executable; otherwise it lives in a venv in the cache
folder (`$RACETRACK_CACHE_DIR/racetrack-client-2.35.venv`), installed from the package index by `make setup`
(`python -m tests.client.upstream`) or the first time a test needs it, and reused after. A failed install
fails the test with pip's words, never skips it.
"""

from __future__ import annotations

import fcntl
import functools
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["upstream_client"]

REQUIREMENT = "racetrack-client>=2.35,<2.36"
# Read once, when the suite starts: tests give the client their own HOME, and the cache must not follow it
# (a cache under a test's temporary HOME meant a fresh install, minutes long, in every test process).
CACHE = Path(os.environ.get("RACETRACK_CACHE_DIR") or Path.home() / ".cache" / "racetrack")


@functools.cache
def upstream_client() -> Path:
    given = os.environ.get("RACETRACK_UPSTREAM_CLIENT")
    if given:
        assert Path(given).is_file(), f"RACETRACK_UPSTREAM_CLIENT={given} is not a file"
        return Path(given)
    cache = CACHE
    venv = cache / "racetrack-client-2.35.venv"
    program, done = venv / "bin" / "racetrack", venv / ".installed"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "racetrack-client-2.35.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install it once
        if not done.is_file():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", REQUIREMENT], capture_output=True, text=True
            )
            assert pip.returncode == 0, f"could not install {REQUIREMENT}: {pip.stderr.strip()[-2000:]}"
            done.touch()
    return program


if __name__ == "__main__":
    print(f"upstream racetrack-client: {upstream_client()}")
