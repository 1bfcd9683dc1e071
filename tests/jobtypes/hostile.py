"""Helpers for tests that attack the platform as a hostile tenant: a real lifecycle, deploys that
are meant to fail, and hand-made archives."""

from __future__ import annotations

import base64
import io
import tarfile
import uuid
from pathlib import Path
from typing import Any

from tests.deployer.lifecycle_process import LifecycleProcess

from .jobs import SAMPLES, load_manifest


def family_name(prefix: str = "hostile") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def manifest_of(sample: str, **changes: Any) -> dict[str, Any]:
    manifest = load_manifest(SAMPLES / sample)
    manifest["name"] = family_name(manifest["name"][:20])
    manifest.update(changes)
    return manifest


def deploy(
    lifecycle: LifecycleProcess,
    manifest: dict[str, Any],
    *,
    build_context: str | None = None,
    git_credentials: dict[str, str] | None = None,
    timeout: float = 900,
) -> dict[str, Any]:
    """Submits a deploy and waits for its end; returns the deployment with its build logs."""
    body: dict[str, Any] = {"manifest": manifest, "build_context": build_context}
    if git_credentials:
        body["git_credentials"] = git_credentials
    response = lifecycle.request("POST", "/deploy", json=body)
    assert response.status_code == 202, response.text
    return lifecycle.wait_deployment(response.json()["id"], timeout=timeout)


def everything_said(lifecycle: LifecycleProcess, deployment: dict[str, Any]) -> str:
    """Every text a deployer can read about a deployment: its error and its whole build log."""
    log_file = lifecycle.data_dir / "build-logs" / f"{deployment['id']}.log"
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    return "\n".join([str(deployment.get("error") or ""), str(deployment.get("build_logs") or ""), text])


def tar_of(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> str:
    """A base64 tar.gz upload of the given members: TarInfo (links, folders) or (name, content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
            else:
                name, content = member
                info = tarfile.TarInfo(name)
                info.size = len(content)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(content))
    return base64.b64encode(buffer.getvalue()).decode()


def link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def folder_upload(folder: Path, extra: dict[str, bytes] | None = None) -> str:
    """The upload of a sample folder (regular files only), plus `extra` files."""
    members: list[tarfile.TarInfo | tuple[str, bytes]] = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            members.append((path.relative_to(folder).as_posix(), path.read_bytes()))
    for name, content in (extra or {}).items():
        members.append((name, content))
    return tar_of(members)
