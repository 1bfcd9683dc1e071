"""Git remotes a tenant names: no internal hosts, no redirects, one message, no token in argv.

Each test deploys through a real lifecycle that runs real git against a real git server
(`git http-backend`) on loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from api.settings import Settings
from jobtypes.remotes import ResolvedHost, resolve_public_host
from jobtypes.source import GIT_TIMEOUT, git_clone_command
from tests.deployer.lifecycle_process import LifecycleProcess

from .gitserver import GitHttpServer, make_repository
from .hostile import deploy, manifest_of

JOB_FILES = {"job/README.md": "no job here: the deploy fails after the fetch\n"}


def _git_manifest(remote: str, branch: str | None = None) -> dict:
    git = {"remote": remote, "directory": "job"}
    if branch:
        git["branch"] = branch
    return manifest_of("python-class", git=git)


def _message(deployment: dict, remote: str) -> str:
    return deployment["error"].replace(remote, "<remote>")


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory):
    """The platform as a user installs it: no setting about git."""
    server = LifecycleProcess(tmp_path_factory.mktemp("git-default") / "data").start()
    yield server
    server.stop()


def test_internal_remotes_are_refused_before_any_request(lifecycle: LifecycleProcess, tmp_path: Path) -> None:
    make_repository(tmp_path, files=JOB_FILES)
    with GitHttpServer(tmp_path) as server:
        port = server.url.rsplit(":", 1)[1].strip("/")
        remotes = [
            server.url + "jobs.git",
            f"http://localhost:{port}/jobs.git",
            f"http://2130706433:{port}/jobs.git",  # 127.0.0.1 written as a number
            f"http://[::ffff:127.0.0.1]:{port}/jobs.git",
        ]
        messages = set()
        for remote in remotes:
            deployment = deploy(lifecycle, _git_manifest(remote))
            assert deployment["status"] == "failed"
            messages.add(_message(deployment, remote))
        assert server.requests == [], "the platform connected to a loopback git server"
    unknown = "https://no-such-host.invalid/jobs.git"
    deployment = deploy(lifecycle, _git_manifest(unknown))
    # One message whatever went wrong: refused address, no such host, nothing listening.
    assert len(messages) == 1, messages
    assert _message(deployment, unknown) in messages, (messages, deployment["error"])
    assert "could not be fetched" in deployment["error"]


@pytest.fixture(scope="module")
def internal_git(tmp_path_factory: pytest.TempPathFactory):
    """A lifecycle whose operator allows the git server on 127.0.0.1 (trusting its certificate)."""
    root = tmp_path_factory.mktemp("git-internal")
    make_repository(root, files=JOB_FILES)
    with GitHttpServer(
        root, tls=True, auth=("alice", "s3cr3t-git-t0ken-4711"), on_authorised=_look_at_processes
    ) as https:
        server = LifecycleProcess(
            root / "data",
            extra_env={
                "RACETRACK_ALLOWED_INTERNAL_HOSTS": '["127.0.0.1"]',
                "GIT_SSL_CAINFO": str(https.ca_file),
            },
        ).start()
        yield server, https, root
        server.stop()


_seen_while_git_ran: list[str] = []


def _look_at_processes(handler: BaseHTTPRequestHandler) -> None:
    """Runs while git waits for the answer to its authorised request: reads every process's argv."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "git" in argv:
            _seen_while_git_ran.append(argv)


def test_git_token_is_never_in_a_command_line(internal_git) -> None:
    lifecycle, https, _ = internal_git
    _seen_while_git_ran.clear()
    remote = https.url + "jobs.git"
    deployment = deploy(
        lifecycle,
        _git_manifest(remote),
        git_credentials={"username": "alice", "password": "s3cr3t-git-t0ken-4711"},
    )
    assert any("/jobs.git" in argv for argv in _seen_while_git_ran), "git never sent its credentials"
    assert not [argv for argv in _seen_while_git_ran if "s3cr3t-git-t0ken-4711" in argv]
    assert not [argv for argv in _seen_while_git_ran if "alice" in argv]
    # The fetch worked: the deploy went on and failed later, on the job's missing entrypoint.
    assert "could not be fetched" not in deployment["error"], deployment["error"]
    assert "s3cr3t-git-t0ken-4711" not in deployment["error"]


def test_a_token_in_the_remote_url_leaves_the_command_line_too(internal_git) -> None:
    lifecycle, https, _ = internal_git
    _seen_while_git_ran.clear()
    remote = https.url.replace("https://", "https://alice:s3cr3t-git-t0ken-4711@") + "jobs.git"
    deployment = deploy(lifecycle, _git_manifest(remote))
    assert _seen_while_git_ran and not [a for a in _seen_while_git_ran if "s3cr3t-git-t0ken-4711" in a]
    assert "could not be fetched" not in deployment["error"], deployment["error"]
    assert "s3cr3t" not in deployment["error"]


def test_redirects_are_not_followed(internal_git, tmp_path: Path) -> None:
    """Only 127.0.0.1 is allowed: a redirect to 127.0.0.2 must not be followed."""
    lifecycle, _, _ = internal_git
    make_repository(tmp_path, files=JOB_FILES)
    with GitHttpServer(tmp_path, host="127.0.0.2") as target:
        with GitHttpServer(tmp_path, redirect_to=target.url) as redirecting:
            deployment = deploy(lifecycle, _git_manifest(redirecting.url + "jobs.git"))
            assert redirecting.requests, "the allowed server was asked"
        assert target.requests == [], "git followed the redirect to a host that is not allowed"
    assert deployment["status"] == "failed" and "could not be fetched" in deployment["error"]


def test_the_clone_command_holds_no_secret_and_pins_the_address(tmp_path: Path) -> None:
    host = resolve_public_host("http://localhost:8080/x.git", allowed=["127.0.0.0/8", "::1"])
    command = git_clone_command(
        "http://localhost:8080/x.git", tmp_path, host, branch="main", with_credentials=True
    )
    text = " ".join(command)
    assert "http.followRedirects=false" in text
    assert re.search(r"http\.curloptResolve=localhost:8080:(\[::1\]|127\.0\.0\.1)", text), text
    assert command[-3:] == ["--", "http://localhost:8080/x.git", str(tmp_path)]
    assert "$RACETRACK_GIT_PASSWORD" in text  # the helper reads the secret from its environment
    assert GIT_TIMEOUT > 0 and Settings().allowed_internal_hosts == []


def test_git_connects_to_the_checked_address_not_to_a_second_lookup(tmp_path: Path) -> None:
    """The pinned address wins over what the name resolves to when git looks it up again."""
    make_repository(tmp_path, files=JOB_FILES)
    with GitHttpServer(tmp_path, host="127.0.0.2") as pinned:  # localhost itself is 127.0.0.1
        port = int(pinned.url.rsplit(":", 1)[1].strip("/"))
        url = f"http://localhost:{port}/jobs.git"
        checked = ResolvedHost(host="localhost", port=port, addresses=("127.0.0.2",), literal=False)
        command = git_clone_command(url, tmp_path / "clone", checked, branch=None, with_credentials=False)
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert pinned.requests, "git did not use the pinned address"
