"""Getting a job's code into a build workspace: a shallow git clone, or the client's upload.

    source = fetch_git_source(workspace, remote="https://github.com/me/jobs",
                              branch="main", directory="adder", username="me", token="...")
    source = unpack_build_context(workspace, encoded_tar_gz, directory="adder")

Credentials only ever appear inside the clone command's URL: messages and logs show the URL
without them, and `.git` (whose config would hold them) is deleted after the clone.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import git

from api.errors import InvalidInput, NotFound, Unauthenticated

__all__ = ["SourceInfo", "fetch_git_source", "unpack_build_context", "pack_directory", "redact_url"]

MAX_CONTEXT_BYTES = 512 * 1024 * 1024

# GitPython logs each command line at DEBUG, and the clone command holds the credentials.
logging.getLogger("git.cmd").setLevel(logging.INFO)


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
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _with_credentials(url: str, username: str | None, token: str | None) -> str:
    if not token:
        return url
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise InvalidInput(f"git.remote {redact_url(url)}: credentials are only sent over https")
    user = quote(username or "git", safe="")
    netloc = f"{user}:{quote(token, safe='')}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _context_dir(root: Path, directory: str) -> Path:
    context = (root / (directory or ".")).resolve()
    if context != root.resolve() and root.resolve() not in context.parents:
        raise InvalidInput(f"git.directory '{directory}' points outside the repository")
    if not context.is_dir():
        raise InvalidInput(f"git.directory '{directory}' does not exist in the job's code")
    return context


def fetch_git_source(
    workspace: Path,
    *,
    remote: str,
    branch: str | None = None,
    directory: str = ".",
    username: str | None = None,
    token: str | None = None,
    log: Callable[[str], None] | None = None,
) -> SourceInfo:
    """Clones `remote` (depth 1, one branch) into `workspace/src`; returns the build context."""
    shown = redact_url(remote)
    target = workspace / "src"
    if target.exists():
        shutil.rmtree(target)
    workspace.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"cloning {shown}" + (f" branch {branch}" if branch else ""))
    options: dict[str, object] = {"depth": 1, "single_branch": True}
    if branch:
        options["branch"] = branch
    try:
        repo = git.Repo.clone_from(
            _with_credentials(remote, username, token),
            target,
            env={"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false"},
            **options,
        )
    except git.GitCommandError as exc:
        raise _clone_error(exc, shown, branch, bool(token)) from None
    try:
        git_version = repo.git.describe("--long", "--tags", "--dirty", "--always")
    except git.GitCommandError:
        git_version = ""
    finally:
        repo.close()
    shutil.rmtree(target / ".git", ignore_errors=True)
    return SourceInfo(
        workspace=workspace, context_dir=_context_dir(target, directory), git_version=git_version
    )


def _clone_error(
    exc: git.GitCommandError, shown: str, branch: str | None, had_credentials: bool
) -> Exception:
    # stderr may echo the URL with credentials; only fixed messages leave this function.
    stderr = str(exc.stderr or "")
    lowered = stderr.lower()
    if "could not read username" in lowered or "terminal prompts disabled" in lowered:
        return Unauthenticated(f"cannot clone {shown}: no git credentials configured for this repository")
    if "authentication failed" in lowered or "403" in lowered or "401" in lowered:
        return Unauthenticated(
            f"cannot clone {shown}: authentication failure, check the git username and token"
        )
    if branch and ("remote branch" in lowered and "not found" in lowered):
        return NotFound(f"cannot clone {shown}: branch '{branch}' does not exist")
    if "not found" in lowered or "does not exist" in lowered or "does not appear to be a git" in lowered:
        return NotFound(
            f"cannot clone {shown}: repository not found"
            + ("" if had_credentials else " (private repositories need git credentials)")
        )
    if (
        "could not resolve host" in lowered
        or "failed to connect" in lowered
        or "connection refused" in lowered
    ):
        return InvalidInput(f"cannot clone {shown}: the git server cannot be reached")
    return InvalidInput(f"cannot clone {shown}: git failed with exit code {exc.status}")


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
    target.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as archive:
            total = sum(member.size for member in archive.getmembers())
            if total > MAX_CONTEXT_BYTES:
                raise InvalidInput(
                    f"build context unpacks to {total >> 20} MB, more than {MAX_CONTEXT_BYTES >> 20} MB"
                )
            _extract_safely(archive, target)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInput(f"build context is not a readable tar.gz: {exc}") from None
    return SourceInfo(workspace=workspace, context_dir=_context_dir(target, directory), git_version="local")


def _extract_safely(archive: tarfile.TarFile, target: Path) -> None:
    """Extracts with the "data" filter (refuses absolute paths, links out, devices). Pythons older than
    3.11.4 (Debian bookworm's 3.11.2, the platform image's) lack it: the same checks are made by hand."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(target, filter="data")
        return
    root = target.resolve()
    for member in archive.getmembers():
        destination = (root / member.name).resolve()
        if not (member.isfile() or member.isdir() or member.issym()) or not destination.is_relative_to(root):
            raise InvalidInput(
                f"build context member {member.name!r} is not allowed (only files and folders inside it)"
            )
        if member.issym() and not (destination.parent / member.linkname).resolve().is_relative_to(root):
            raise InvalidInput(f"build context link {member.name!r} points outside it")
        member.mode = (member.mode | 0o600) & 0o755
    archive.extractall(target)  # noqa: S202 - every member checked above


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
