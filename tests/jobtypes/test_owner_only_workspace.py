"""What a deploy writes into its workspace (under the data directory) is owner-only, as the lifecycle's
umask (077) asks: the client's upload unpacked, a plugin's zip unpacked, the job type's own files
copied next to the job's code, the rendered Dockerfile. Archives say 0644 and 0755, and the job type
folder in the platform's tree is 0644/0755; neither may leak into the data directory."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import jobtypes
from api.data_dir import make_private
from api.settings import Settings
from jobtypes.archive import extract_zip

from .jobs import SAMPLES, load_manifest


@pytest.fixture
def lifecycle_umask(tmp_path: Path) -> Iterator[Path]:
    """The data directory made private as the lifecycle makes it at start (umask 077), and the
    umask this test process had put back after."""
    before = os.umask(0o022)
    data_dir = tmp_path / "data"
    try:
        make_private(data_dir)
        yield data_dir
    finally:
        os.umask(before)


def _reachable(root: Path) -> list[str]:
    found = [root, *root.rglob("*")]
    return [
        f"{stat.filemode(p.lstat().st_mode)} {p.relative_to(root)}"
        for p in found
        if p.lstat().st_mode & 0o077
    ]


def test_a_workspace_is_owner_only(lifecycle_umask: Path) -> None:
    sample = SAMPLES / "python-class"
    assert sample.joinpath("adder.py").stat().st_mode & 0o044  # readable by all in the repository
    workspace = lifecycle_umask / "workspaces" / "d1"
    source = jobtypes.unpack_build_context(workspace, jobtypes.pack_directory(sample))
    plan = jobtypes.plan_build(
        load_manifest(sample), source, build_id="b1", settings=Settings(data_dir=lifecycle_umask)
    )
    assert (source.context_dir / "adder.py").is_file() and plan.images[0].dockerfile.is_file()
    assert _reachable(lifecycle_umask) == []
    plan.cleanup()


def test_an_unpacked_zip_is_owner_only(lifecycle_umask: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        script = zipfile.ZipInfo("bin/run.sh")
        script.external_attr = (stat.S_IFREG | 0o755) << 16
        script.create_system = 3
        archive.writestr(script, "#!/bin/sh\n")
        archive.writestr("plugin.py", "class Plugin:\n    pass\n")
    with zipfile.ZipFile(buffer) as archive:
        extract_zip(archive, lifecycle_umask / "plugins" / "x", what="x.zip", max_bytes=1 << 20)
    assert _reachable(lifecycle_umask) == []
    assert os.access(lifecycle_umask / "plugins" / "x" / "bin" / "run.sh", os.X_OK)  # its owner may run it
