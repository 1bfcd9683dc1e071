"""Fetching a job's code (git, upload) and planning its build (no Docker work)."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import git
import pytest

import jobtypes
from api.errors import InvalidInput
from api.settings import Settings

from .gitserver import GitHttpServer
from .jobs import SAMPLES, load_manifest


def _repository(tmp_path: Path) -> Path:
    """A local repository with branch `feature` holding jobs/adder."""
    origin = tmp_path / "origin"
    repo = git.Repo.init(origin, initial_branch="main")
    (origin / "README.md").write_text("main branch\n")
    repo.index.add(["README.md"])
    repo.index.commit("first")
    repo.create_tag("v1.0.0")
    repo.git.checkout("-b", "feature")
    job = origin / "jobs" / "adder"
    job.mkdir(parents=True)
    (job / "adder.py").write_text("class A:\n    def perform(self):\n        return 1\n")
    repo.index.add(["jobs/adder/adder.py"])
    repo.index.commit("add the adder")
    repo.git.checkout("main")
    return origin


def _loopback_allowed(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", allowed_internal_hosts=["127.0.0.1"])


def test_git_clone_branch_and_directory(tmp_path: Path) -> None:
    _repository(tmp_path)
    logged: list[str] = []
    with GitHttpServer(tmp_path) as server:
        remote = server.url + "origin/.git"
        source = jobtypes.fetch_git_source(
            tmp_path / "ws",
            remote=remote,
            branch="feature",
            directory="jobs/adder",
            log=logged.append,
            settings=_loopback_allowed(tmp_path),
        )
    assert (source.context_dir / "adder.py").is_file()
    assert source.context_dir == (tmp_path / "ws" / "src" / "jobs" / "adder").resolve()
    assert not (tmp_path / "ws" / "src" / ".git").exists()
    assert len(source.git_version) >= 7  # a shallow clone sees no tags: the commit's short hash
    assert logged == [f"cloning {remote} branch feature"]


def test_git_errors_are_clear(tmp_path: Path) -> None:
    _repository(tmp_path)
    settings = _loopback_allowed(tmp_path)
    with GitHttpServer(tmp_path) as server:
        remote = server.url + "origin/.git"
        with pytest.raises(InvalidInput, match="branch 'nope'.*could not be fetched"):
            jobtypes.fetch_git_source(tmp_path / "ws", remote=remote, branch="nope", settings=settings)
        with pytest.raises(InvalidInput, match="git.directory: folder 'missing' does not exist"):
            jobtypes.fetch_git_source(tmp_path / "ws2", remote=remote, directory="missing", settings=settings)
        with pytest.raises(InvalidInput, match="git.directory: '../..' leads outside"):
            jobtypes.fetch_git_source(tmp_path / "ws3", remote=remote, directory="../..", settings=settings)


def test_git_credentials_never_appear_in_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    logged: list[str] = []
    with caplog.at_level("DEBUG"), pytest.raises(Exception) as caught:
        jobtypes.fetch_git_source(
            tmp_path / "ws",
            remote="https://127.0.0.1:1/team/jobs.git",
            username="alice",
            token="s3cr3t-t0ken",
            log=logged.append,
            settings=jobtypes.BuildSettings(),
        )
    text = str(caught.value) + " ".join(logged) + caplog.text
    assert "s3cr3t-t0ken" not in text and "alice" not in text
    assert "https://127.0.0.1:1/team/jobs.git" in str(caught.value)


def test_credentials_only_over_https(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="only sent over https"):
        jobtypes.fetch_git_source(
            tmp_path / "ws",
            remote="http://example.invalid/x.git",
            token="t",
            settings=jobtypes.BuildSettings(),
        )


def test_upload_round_trip_and_unsafe_members(tmp_path: Path) -> None:
    source = jobtypes.unpack_build_context(tmp_path / "ws", jobtypes.pack_directory(SAMPLES / "python-class"))
    assert (source.context_dir / "adder.py").is_file() and source.git_version == "local"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(InvalidInput, match="'../escape.txt' leaves the folder"):
        jobtypes.unpack_build_context(tmp_path / "ws2", base64.b64encode(buffer.getvalue()).decode())
    with pytest.raises(InvalidInput, match="not a readable tar.gz"):
        jobtypes.unpack_build_context(tmp_path / "ws4", base64.b64encode(b"not a tar").decode())
    with pytest.raises(InvalidInput, match="not valid base64"):
        jobtypes.unpack_build_context(tmp_path / "ws3", "***")


def test_plan_renders_dockerfile_with_cached_dependency_layer_and_secret_mounts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", extra_ca_bundle=None)
    source = jobtypes.unpack_build_context(
        tmp_path / "ws", jobtypes.pack_directory(SAMPLES / "python-env-secrets")
    )
    plan = jobtypes.plan_build(
        load_manifest(SAMPLES / "python-env-secrets"),
        source,
        build_id="b42",
        secret_build_env={"PIP_EXTRA_INDEX_URL": "https://user:pw@index"},
        settings=settings,
    )
    image = plan.images[0]
    assert image.image == "racetrack/job-entrypoint/env-secrets:1.0.0-b42"
    assert image.labels["racetrack.job-name"] == "env-secrets" and image.labels["racetrack.build-id"] == "b42"
    dockerfile = image.dockerfile.read_text()
    assert "user:pw" not in dockerfile
    assert 'ENV BUILT_WITH="racetrack"' in dockerfile
    lines = dockerfile.splitlines()
    copy_requirements = next(i for i, line in enumerate(lines) if "/src/job-requirements.txt" in line)
    copy_code = next(i for i, line in enumerate(lines) if line.startswith("COPY . /src/job/"))
    assert copy_requirements < copy_code  # dependencies install before the code is copied
    assert "--mount=type=secret,id=build_secrets" in lines[copy_requirements + 1]
    secret_file = image.secrets["build_secrets"]
    assert secret_file.stat().st_mode & 0o077 == 0
    assert "export PIP_EXTRA_INDEX_URL=https://user:pw@index" in secret_file.read_text()
    plan.cleanup()
    assert not secret_file.exists()


def test_docker_proxy_plan_yields_two_images_connected_by_env(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    source = jobtypes.unpack_build_context(tmp_path / "ws", jobtypes.pack_directory(SAMPLES / "docker-proxy"))
    plan = jobtypes.plan_build(
        load_manifest(SAMPLES / "docker-proxy"), source, build_id="b1", settings=settings
    )
    assert [(i.role, i.port) for i in plan.images] == [("job", 7000), ("user-module", 7004)]
    assert plan.images[1].dockerfile.name == "Dockerfile"
    env = jobtypes.job_runtime_env(
        load_manifest(SAMPLES / "docker-proxy"), pub_url="p", auth_token="t", job_type_env=plan.runtime_env
    )
    containers = jobtypes.job_containers(plan, name="job-docker-adder", env=env)
    assert containers[0].env["JOB_USER_MODULE_HOSTNAME"] == "job-docker-adder-user-module:7004"
    assert containers[1].name == "job-docker-adder-user-module"
    plan.cleanup()
