"""Getting a job's code into a build workspace: a shallow git clone, or the client's upload.

    source = fetch_git_source(workspace, remote="https://github.com/me/jobs",
                              branch="main", directory="adder", username="me", token="...")
    source = unpack_build_context(workspace, encoded_tar_gz, directory="adder")

Git runs with the remote's host checked and pinned (`jobtypes.remotes`), redirects off, and only
http(s); credentials reach git through a credential helper reading environment variables, never
through its command line or the URL. Every failure to fetch gives the same message, so the
platform cannot be used to learn which hosts and ports answer; the cause goes to the operator's
log. A checkout may keep symbolic links that stay inside the build context; one that points out
is refused, naming it. Uploads hold only files and folders (`jobtypes.archive`).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import shutil
import subprocess
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from core.errors import InvalidInput

from .archive import extract_tar
from .config import BuildSettings
from .contextpaths import check_links, context_root
from .remotes import RemoteRefused, ResolvedHost, resolve_public_host
from .templatevalues import control_character

__all__ = ["SourceInfo", "fetch_git_source", "unpack_build_context", "pack_directory", "redact_url"]

MAX_CONTEXT_BYTES = 512 * 1024 * 1024
GIT_TIMEOUT = 600.0

logger = logging.getLogger("racetrack.git")

# Answers git's `get` with the variables below, and only for https: the secret stays out of argv.
_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || exit 0; ok=; '
    'while IFS= read -r line && test -n "$line"; do '
    'case "$line" in protocol=https) ok=1;; esac; done; '
    'test -n "$ok" || exit 0; '
    'printf \'username=%s\\npassword=%s\\n\' "$RACETRACK_GIT_USERNAME" "$RACETRACK_GIT_PASSWORD"; }; f'
)


@dataclass(frozen=True)
class SourceInfo:
    """Where the job's code is: the workspace, the build context in it, and its git version."""

    workspace: Path
    context_dir: Path
    git_version: str = ""


def redact_url(url: str) -> str:
    """The URL without user name or password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port:
        host += f":{port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _cannot_fetch(shown: str, branch: str | None) -> InvalidInput:
    """The one message for every failure to fetch: it must not tell which hosts or ports answer."""
    return InvalidInput(
        f"cannot fetch {shown}"
        + (f" (branch '{branch}')" if branch else "")
        + ": the repository could not be fetched. Check the URL, the branch and the git credentials "
        "(`racetrack set credentials`); redirects are not followed, and remotes on internal "
        "(loopback, private, link-local) addresses need the operator's setting allowed_internal_hosts"
    )


def git_clone_command(
    url: str, target: Path, host: ResolvedHost, *, branch: str | None, with_credentials: bool
) -> list[str]:
    """The clone's command line: no secret in it, connections pinned to the checked addresses."""
    options = [
        "-c",
        "http.followRedirects=false",
        "-c",
        "credential.helper=",
        "-c",
        "core.hooksPath=/dev/null",
    ]
    if not host.literal:
        addresses = ",".join(f"[{a}]" if ":" in a else a for a in host.addresses)
        options += ["-c", f"http.curloptResolve={host.host}:{host.port}:{addresses}"]
    if with_credentials:
        options += ["-c", f"credential.helper={_CREDENTIAL_HELPER}"]
    command = ["git", *options, "clone", "--depth", "1", "--single-branch"]
    if branch:
        command += ["--branch", branch]
    return [*command, "--", url, str(target)]


def _git_environment(username: str | None, token: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RACETRACK_GIT_")}
    env.pop("SSH_ASKPASS", None)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "GIT_ALLOW_PROTOCOL": "http:https",
            "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
            "GIT_HTTP_LOW_SPEED_TIME": "60",
        }
    )
    if token:
        env["RACETRACK_GIT_USERNAME"] = username or "git"
        env["RACETRACK_GIT_PASSWORD"] = token
    return env


def fetch_git_source(
    workspace: Path,
    *,
    remote: str,
    branch: str | None = None,
    directory: str = ".",
    username: str | None = None,
    token: str | None = None,
    log: Callable[[str], None] | None = None,
    settings: BuildSettings,
) -> SourceInfo:
    """Clones `remote` (depth 1, one branch) into `workspace/src`; returns the build context."""
    shown = redact_url(remote)
    parts = urlsplit(remote)
    if parts.password and not token:  # a token written into the URL moves out of the command line
        username, token = unquote(parts.username or ""), unquote(parts.password)
    url = shown
    if token and parts.scheme != "https":
        raise InvalidInput(f"git.remote {shown}: credentials are only sent over https")
    for value, name in ((username, "username"), (token, "token"), (branch, "branch")):
        if value and control_character(value) is not None:
            raise InvalidInput(f"git {name}: contains a control character; remove it")
    if branch and branch.startswith("-"):
        raise InvalidInput(f"git.branch '{branch}': a branch name cannot start with '-'")
    target = workspace / "src"
    if target.exists():
        shutil.rmtree(target)
    workspace.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"cloning {shown}" + (f" branch {branch}" if branch else ""))
    try:
        host = resolve_public_host(url, allowed=settings.allowed_internal_hosts)
    except RemoteRefused as exc:
        logger.warning("not fetching %s: %s", shown, exc.reason)
        raise _cannot_fetch(shown, branch) from None
    command = git_clone_command(url, target, host, branch=branch, with_credentials=bool(token))
    try:
        result = subprocess.run(
            command,
            env=_git_environment(username, token),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=GIT_TIMEOUT,
            check=False,
        )
        failure = (result.stderr.strip().splitlines() or ["no output"])[-1] if result.returncode else ""
    except subprocess.TimeoutExpired:
        failure = f"no answer within {GIT_TIMEOUT:.0f} s"
    if failure:
        logger.warning("fetching %s failed: %s", shown, failure)
        shutil.rmtree(target, ignore_errors=True)
        raise _cannot_fetch(shown, branch)
    describe = subprocess.run(
        ["git", "-C", str(target), "describe", "--long", "--tags", "--dirty", "--always"],
        capture_output=True,
        text=True,
        check=False,
    )
    git_version = describe.stdout.strip() if describe.returncode == 0 else ""
    shutil.rmtree(target / ".git", ignore_errors=True)
    context = context_root(target, directory)
    check_links(context, what="the job's code")
    return SourceInfo(workspace=workspace, context_dir=context, git_version=git_version)


def unpack_build_context(workspace: Path, encoded: str | bytes, *, directory: str = ".") -> SourceInfo:
    """Unpacks the client's upload (base64 of a tar.gz of the job's folder) into `workspace/src`.

    The upload is the job's folder itself, so `directory` is normally "."; it exists for uploads
    of a whole repository.
    """
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("build context is not valid base64") from None
    target = workspace / "src"
    if target.exists():
        shutil.rmtree(target)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as archive:
            extract_tar(archive, target, what="build context", max_bytes=MAX_CONTEXT_BYTES)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise InvalidInput(f"build context is not a readable tar.gz: {exc}") from None
    return SourceInfo(workspace=workspace, context_dir=context_root(target, directory), git_version="local")


def pack_directory(folder: Path) -> str:
    """The base64 tar.gz of a folder, as the client uploads it (used by tests and the CLI)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if any(part in ("__pycache__", ".git") for part in relative.parts):
                continue
            archive.add(path, arcname=str(relative), recursive=False)
    return base64.b64encode(buffer.getvalue()).decode()
