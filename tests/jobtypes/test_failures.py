"""Broken jobs end in a clear message, never in a hang."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import jobtypes
from api.errors import DeployFailed, InvalidInput
from api.settings import Settings

from .jobs import Built, build_job, job_settings, remove_images, run_job, wait_live

MANIFEST = {
    "name": "broken",
    "owner_email": "nobody@example.com",
    "jobtype": "python3:latest",
    "git": {"remote": "https://github.com/example/broken"},
    "version": "0.0.1",
    "jobtype_extra": {"entrypoint_path": "job.py"},
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return job_settings(tmp_path_factory.mktemp("data"))


@pytest.fixture
def built_images() -> Iterator[list[Built]]:
    items: list[Built] = []
    yield items
    for item in items:
        remove_images(item)


def _job(tmp_path: Path, code: str, requirements: str | None = None) -> Path:
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "job.py").write_text(code)
    if requirements is not None:
        (folder / "requirements.txt").write_text(requirements)
    return folder


@pytest.mark.engine
def test_failing_init_is_reported_by_live(
    tmp_path: Path, settings: Settings, built_images: list[Built]
) -> None:
    code = (
        "class Job:\n    def __init__(self):\n        raise RuntimeError('model file missing')\n\n"
        "    def perform(self):\n        return 1\n"
    )
    built = build_job(_job(tmp_path, code), settings, tmp_path / "ws", manifest=MANIFEST)
    built_images.append(built)
    with run_job(built) as (base, _):
        live = wait_live(base, timeout=60)
        assert live.status_code == 500
        assert live.json()["error"] == "RuntimeError: model file missing"
        response = httpx.post(base + "/api/v1/perform", json={})
        assert response.status_code == 500 and "model file missing" in response.json()["error"]


@pytest.mark.engine
def test_missing_class_is_reported_by_live(
    tmp_path: Path, settings: Settings, built_images: list[Built]
) -> None:
    manifest = {**MANIFEST, "jobtype_extra": {"entrypoint_path": "job.py", "entrypoint_class": "Missing"}}
    built = build_job(
        _job(tmp_path, "class Job:\n    def perform(self):\n        return 1\n"),
        settings,
        tmp_path / "ws",
        manifest=manifest,
    )
    built_images.append(built)
    with run_job(built) as (base, _):
        live = wait_live(base, timeout=60)
        assert live.status_code == 500
        assert "class 'Missing' not found in job.py" in live.json()["error"]


def test_missing_entrypoint_fails_before_building(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "other.py").write_text("x = 1\n")
    source = jobtypes.unpack_build_context(tmp_path / "ws", jobtypes.pack_directory(folder))
    with pytest.raises(InvalidInput, match=r"jobtype_extra.entrypoint_path: file 'job.py' not found"):
        jobtypes.plan_build(MANIFEST, source, build_id="x", settings=settings.build_settings())


@pytest.mark.engine
def test_syntax_error_fails_the_build_with_the_line(tmp_path: Path, settings: Settings) -> None:
    folder = _job(tmp_path, "class Job:\n    def perform(self)\n        return 1\n")
    with pytest.raises(DeployFailed, match=r"syntax error in job.py line 2"):
        build_job(folder, settings, tmp_path / "ws", manifest=MANIFEST)


@pytest.mark.engine
def test_bad_requirement_fails_the_build_naming_it(tmp_path: Path, settings: Settings) -> None:
    folder = _job(
        tmp_path,
        "class Job:\n    def perform(self):\n        return 1\n",
        "racetrack-no-such-package-xyz==0.0.1\n",
    )
    manifest = {
        **MANIFEST,
        "jobtype_extra": {"entrypoint_path": "job.py", "requirements_path": "requirements.txt"},
    }
    with pytest.raises(DeployFailed) as caught:
        build_job(folder, settings, tmp_path / "ws", manifest=manifest)
    assert "racetrack-no-such-package-xyz" in caught.value.message
    assert caught.value.details and "pip install" in caught.value.details


@pytest.mark.engine
def test_plugin_job_type_builds_with_files_from_the_plugin(
    tmp_path: Path, settings: Settings, built_images: list[Built]
) -> None:
    """An upstream-style plugin template: Jinja variables and `COPY --from=jobtype` of its own files."""
    import io
    import zipfile

    import docker

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-manifest.yaml", "name: hello-job-type\nversion: 0.1.0\ncategory: job-type\n")
        archive.writestr(
            "plugin.py",
            "class Plugin:\n    def job_types(self):\n        return {'hello:0.1.0': {'images': [\n"
            "            {'source': 'jobtype', 'dockerfile_path': 'hello.Dockerfile', 'template': True}]}}\n",
        )
        archive.writestr(
            "hello.Dockerfile",
            "FROM {{ base_image_python }}\nCOPY --from=jobtype greeting.txt /greeting.txt\n"
            "COPY . /src/job/\n"
            "ENV JOB_VERSION={{ manifest.version }} EXTRA={{ manifest_jobtype_extra.color }}\n",
        )
        archive.writestr("greeting.txt", "hello from the plugin\n")
    plugin_settings = settings.model_copy(update={"data_dir": tmp_path / "data"})
    jobtypes.install_plugin(buffer.getvalue(), "hello.zip", settings=plugin_settings)
    manifest = {**MANIFEST, "jobtype": "hello:latest", "jobtype_extra": {"color": "blue"}}
    built = build_job(_job(tmp_path, "x = 1\n"), plugin_settings, tmp_path / "ws", manifest=manifest)
    built_images.append(built)
    output = docker.from_env().containers.run(
        built.plan.images[0].image,
        ["sh", "-c", "cat /greeting.txt; echo $JOB_VERSION $EXTRA; ls /src/job"],
        remove=True,
    )
    assert output.decode().split("\n")[:3] == ["hello from the plugin", "0.0.1 blue", "job.py"]


@pytest.mark.engine
def test_golang_init_panic_ends_the_ready_check_with_the_panic(
    tmp_path: Path, settings: Settings, built_images: list[Built]
) -> None:
    """Go cannot catch a panic in init(): the server exits, Docker's restart policy (as the stack sets
    it) restarts it, and the Docker stack's ready check stops at once with the job's own lines."""
    from urllib.parse import urlsplit

    from stacks.docker.resources import _wait_ready

    folder = tmp_path / "gojob"
    folder.mkdir()
    (folder / "go.mod").write_text("module example.com/broken\n\ngo 1.21\n")
    (folder / "handler.go").write_text(
        "package handler\n\n"
        'func init() {\n\tpanic("cannot open the lookup table")\n}\n\n'
        "func Perform(input map[string]interface{}) (interface{}, error) {\n\treturn nil, nil\n}\n"
    )
    manifest = {**MANIFEST, "jobtype": "golang:latest", "jobtype_extra": {"gomod": "go.mod"}}
    built = build_job(folder, settings, tmp_path / "ws", manifest=manifest)
    built_images.append(built)
    with run_job(built, restart_policy="unless-stopped") as (base, container):
        with pytest.raises(RuntimeError) as caught:
            _wait_ready(
                container,
                {"published": {"7000": urlsplit(base).netloc}, "ip_address": ""},
                {"port": 7000, "timeout": 300},
            )
    message = str(caught.value)
    assert message.startswith("the job stopped while starting ("), message
    assert "): last log lines:" in message
    assert "panic: cannot open the lookup table" in message


@pytest.mark.engine
def test_a_missing_base_image_fails_naming_the_command_that_makes_it(
    tmp_path: Path, settings: Settings
) -> None:
    from jobtypes.baseimages import ensure_base_images

    missing = f"racetrack/base-missing-{uuid.uuid4().hex[:8]}:bookworm"
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM scratch AS jobtype\nFROM {missing}\n")
    with pytest.raises(DeployFailed) as caught:
        ensure_base_images(
            dockerfile, log=print, settings=settings.model_copy(update={"base_image_debian": missing})
        )
    assert caught.value.message == (
        f"base image {missing} is missing on the Docker engine; make it with `make setup` "
        "(scripts/build-base-images.sh), then deploy again"
    )
    # An on-demand image whose bootstrap image is missing: nothing is built, the error says why.
    on_demand = f"racetrack/base-python-test-{uuid.uuid4().hex[:8]}:trixie"
    dockerfile.write_text(f"FROM {on_demand}\n")
    lines: list[str] = []
    with pytest.raises(DeployFailed) as caught:
        ensure_base_images(
            dockerfile,
            log=lines.append,
            settings=settings.model_copy(
                update={"base_image_python_trixie": on_demand, "base_image_python": missing}
            ),
        )
    assert caught.value.message == (
        f"base image {on_demand} (Debian trixie with Python 3.13) is built from {missing}, which is "
        "missing; make it with `make setup`, then deploy again"
    )
    assert lines == []
