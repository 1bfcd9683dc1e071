"""A user's machine that only deploys installs the CLI with one command, without the server's dependencies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "client"
# Distributions only the server needs: none of them may come with the CLI.
SERVER_ONLY = {
    "racetrack-pulumi",
    "pulumi",
    "pulumi-kubernetes",
    "docker",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "gitpython",
    "argon2-cffi",
    "limits",
    "pyjwt",
    "cryptography",
    "jinja2",
    "dockerfile",
    "prometheus-client",
    "python-multipart",
    "swagger-ui-bundle",
    "pydantic-settings",
}


def test_pip_install_of_the_client_folder_gives_a_working_racetrack_command(tmp_path: Path) -> None:
    source = tmp_path / "client"  # a copy: pip builds in the folder it is given
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    shown = subprocess.run(
        [str(venv / "bin" / "racetrack"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "deploy" in shown.stdout and "login" in shown.stdout
    version = subprocess.run([str(venv / "bin" / "racetrack"), "version"], capture_output=True, text=True)
    assert "racetrack-client version 0.1.0" in version.stdout

    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {line.split("==")[0].lower().replace("_", "-") for line in listed.stdout.splitlines()}
    assert "racetrack-pulumi-client" in installed
    assert not installed & SERVER_ONLY, (
        f"server packages came with the CLI: {sorted(installed & SERVER_ONLY)}"
    )


def test_setup_links_the_cli_into_local_bin_and_says_when_path_lacks_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    script = str(CLIENT.parent / "scripts" / "link-cli.sh")
    bare = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    linked = subprocess.run(["bash", script], env=bare, capture_output=True, text=True, check=True)
    bin_dir = home / ".local" / "bin"
    assert (bin_dir / "racetrack").is_symlink()
    assert f"{bin_dir} is not on this shell's PATH" in linked.stdout
    assert f'export PATH="{bin_dir}:$PATH"' in linked.stdout

    # A new login shell, as a new terminal starts, with the distribution's ~/.profile for a new user.
    skeleton = Path("/etc/skel/.profile")
    if skeleton.is_file():
        shutil.copy(skeleton, home / ".profile")
    else:
        (home / ".profile").write_text(f'PATH="{bin_dir}:$PATH"\n')  # what the printed hint says to add
    shell = subprocess.run(
        ["bash", "-lc", "racetrack --help"], env=bare, capture_output=True, text=True, timeout=60
    )
    assert shell.returncode == 0, shell.stderr
    assert "deploy" in shell.stdout

    on_path = {**bare, "PATH": f"{bin_dir}:/usr/bin:/bin"}
    again = subprocess.run(["bash", script], env=on_path, capture_output=True, text=True, check=True)
    assert "not on this shell's PATH" not in again.stdout

    (bin_dir / "racetrack").unlink()
    (bin_dir / "racetrack").write_text("#!/bin/sh\necho someone else's\n")
    kept = subprocess.run(["bash", script], env=on_path, capture_output=True, text=True, check=True)
    assert "exists and is not a link; kept" in kept.stdout
    assert (bin_dir / "racetrack").read_text().endswith("someone else's\n")
