"""Uploads and plugin zips cannot write outside their folder, on every Python the platform runs.

The attack: links `a -> .` and `esc -> a/a/a/a/../../../..`, then a file `esc/escaped`. A check of
member names alone passes all three; extracting them writes `escaped` four folders above the
workspace (Pythons without `tarfile.data_filter`, such as Debian bookworm's 3.11.2 in the
platform's base image, extracted them so). The same module runs again inside a container of that
image, where the real lifecycle, started there, receives the upload.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import jobtypes
from api.errors import InvalidInput
from api.settings import Settings
from jobtypes.archive import process_umask
from jobtypes.registry import install_plugin
from tests.deployer.lifecycle_process import LifecycleProcess

from .hostile import deploy, folder_upload, link, manifest_of, tar_of
from .jobs import ROOT, SAMPLES

BASE_IMAGE = Settings().base_image_python
ESCAPED = "escaped-by-upload"
INSIDE = "tests/jobtypes/test_hostile_uploads.py::test_this_module_passes_inside_the_platforms_base_image"
# The attack only bites on a Python without tarfile.data_filter: the image must still have one.
LACKS_DATA_FILTER = (
    'import sys, tarfile; sys.exit("data_filter" in dir(tarfile) and "base image Python has data_filter")'
)


def _link_chain_upload() -> str:
    return tar_of(
        [
            link("a", "."),
            link("esc", "a/a/a/a/../../../.."),
            (f"esc/{ESCAPED}", b"written outside the workspace\n"),
            ("job.py", b"class Job:\n    def perform(self):\n        return 1\n"),
        ]
    )


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory):
    server = LifecycleProcess(tmp_path_factory.mktemp("uploads") / "data").start()
    yield server
    server.stop()


def test_link_chain_in_an_upload_is_refused_by_the_lifecycle(lifecycle: LifecycleProcess) -> None:
    # workspace = data/workspaces/<id>/src: four folders up from src is the data folder's parent.
    outside = lifecycle.data_dir.parent / ESCAPED
    manifest = manifest_of("python-class")
    deployment = deploy(lifecycle, manifest, build_context=_link_chain_upload())
    assert not outside.exists(), "the upload wrote outside the workspace"
    assert not (lifecycle.data_dir / ESCAPED).exists()
    assert deployment["status"] == "failed"
    assert "'a' is a symbolic link" in deployment["error"], deployment["error"]
    assert "only files and folders" in deployment["error"]


@pytest.mark.parametrize(
    "members, refused",
    [
        (
            [link("a", "."), link("esc", "a/a/a/a/../../../.."), (f"esc/{ESCAPED}", b"x")],
            "'a' is a symbolic link",
        ),
        ([link("passwd", "/etc/passwd")], "'passwd' is a symbolic link"),
        ([("f", b"x"), link("hard", "../../../../" + ESCAPED, hard=True)], "'hard' is a hard link"),
        ([link("h", "/etc/hostname", hard=True)], "'h' is a hard link"),
        ([(f"../{ESCAPED}", b"x")], "leaves the folder"),
        ([(f"/tmp/{ESCAPED}", b"x")], "absolute path"),
        ([("d/../../" + ESCAPED, b"x")], "leaves the folder"),
    ],
)
def test_unsafe_tar_members_are_refused_naming_them(tmp_path: Path, members: list, refused: str) -> None:
    workspace = tmp_path / "deep" / "er" / "ws"
    with pytest.raises(InvalidInput, match=refused):
        jobtypes.unpack_build_context(workspace, tar_of(members))
    written = [p for p in tmp_path.rglob(ESCAPED)] + [Path("/tmp") / ESCAPED]
    assert not any(p.exists() for p in written), written


def test_devices_and_fifos_are_refused(tmp_path: Path) -> None:
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    with pytest.raises(InvalidInput, match="'pipe' is not a file or folder"):
        jobtypes.unpack_build_context(tmp_path / "ws", tar_of([fifo]))


def test_a_normal_upload_keeps_files_modes_and_folders(tmp_path: Path) -> None:
    script = tarfile.TarInfo("bin/run.sh")
    script.size = 3
    script.mode = 0o4755  # setuid is dropped, the executable bit kept
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.addfile(tarfile.TarInfo("./"))
        archive.addfile(script, io.BytesIO(b"#!\n"))
    import base64

    source = jobtypes.unpack_build_context(tmp_path / "ws", base64.b64encode(buffer.getvalue()))
    run = source.context_dir / "bin" / "run.sh"
    # less what the umask removes (the lifecycle's, 077, keeps its data directory owner-only)
    assert run.read_bytes() == b"#!\n" and run.stat().st_mode & 0o7777 == 0o755 & ~process_umask()
    sample = jobtypes.unpack_build_context(tmp_path / "ws2", folder_upload(SAMPLES / "python-class"))
    assert (sample.context_dir / "adder.py").read_text() == (
        SAMPLES / "python-class" / "adder.py"
    ).read_text()


def _plugin_zip(extra: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-manifest.yaml", "name: hostile\nversion: 1.0.0\n")
        archive.writestr("plugin.py", "class Plugin:\n    pass\n")
        for info, content in extra:
            archive.writestr(info, content)
    return buffer.getvalue()


def _zip_link(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize(
    "extra, refused",
    [
        ([(_zip_link("etc", "/etc"), b"/etc")], "'etc' is a symbolic link"),
        ([(_zip_link("up", "../../.."), b"../../..")], "'up' is a symbolic link"),
        ([(f"../../{ESCAPED}", b"x")], "leaves the folder"),
        ([(f"/{ESCAPED}", b"x")], "absolute path"),
    ],
)
def test_plugin_zip_with_links_or_climbing_names_is_refused(
    tmp_path: Path, extra: list, refused: str
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(InvalidInput, match=refused):
        install_plugin(_plugin_zip(extra), "hostile.zip", settings=settings)
    assert not (tmp_path / "data" / "plugins" / "hostile-1.0.0.zip").exists()
    assert not list(tmp_path.rglob(ESCAPED)) and not Path("/" + ESCAPED).exists()


@pytest.mark.engine
def test_this_module_passes_inside_the_platforms_base_image(tmp_path: Path) -> None:
    """Runs this module with the base image's python3 (Debian's 3.11.2, which has no
    `tarfile.data_filter`), the lifecycle included."""
    site = next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    command = [
        "docker", "run", "--rm", "--name", f"racetrack-test-uploads-{os.getpid()}",
        "-v", f"{ROOT}:/src:ro", "-v", f"{site}:/site:ro",
        "-e", "PYTHONPATH=/src:/site", "-e", "PYTHONDONTWRITEBYTECODE=1",
        "-e", "GIT_PYTHON_REFRESH=quiet",
        "-w", "/src", BASE_IMAGE,
        "sh", "-c", f"python3 -c '{LACKS_DATA_FILTER}' && python3 -m pytest -q -p no:cacheprovider "
        f"--basetemp=/tmp/pytest tests/jobtypes/test_hostile_uploads.py --deselect {INSIDE}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert " passed" in output and "failed" not in output, output[-2000:]
    assert "skipped" not in output and "1 deselected" in output, output[-2000:]  # all but this one ran
