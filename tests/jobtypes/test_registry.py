"""Job type references, jobtype_extra validation and plugin zips (no Docker)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

import jobtypes
from api.errors import AlreadyExists, InvalidInput, NotFound
from api.settings import Settings

PLUGIN_PY = """
class Plugin:
    def job_types(self):
        return {
            "mllab:1.3.0-3.9": {"images": [{"source": "jobtype", "dockerfile_path": "job-template.Dockerfile",
                                            "template": True}]},
            "mllab:1.4.0-3.11": ["job-template.Dockerfile"],
        }
"""


def _plugin_zip(name: str = "mllab-job-type", version: str = "1.4.0", plugin_py: str = PLUGIN_PY) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-manifest.yaml", f"name: {name}\nversion: {version}\ncategory: job-type\n")
        archive.writestr("plugin.py", plugin_py)
        archive.writestr("job-template.Dockerfile", "FROM {{ base_image }}\nCOPY . /src/job/\n")
    return buffer.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_builtin_types_are_listed(settings: Settings) -> None:
    refs = [job_type.ref for job_type in jobtypes.list_job_types(settings=settings)]
    assert refs == ["python3:1.0.0", "golang:1.0.0", "docker-proxy:1.0.0"]


@pytest.mark.parametrize("ref", ["python3:latest", "python3:1.0.0", "python3:1.*", "python3"])
def test_resolve_builtin(ref: str, settings: Settings) -> None:
    resolved = jobtypes.resolve_job_type(ref, settings=settings)
    assert resolved.job_type.ref == "python3:1.0.0" and resolved.note is None


def test_upstream_version_of_builtin_type_falls_back_with_a_note(settings: Settings) -> None:
    resolved = jobtypes.resolve_job_type("python3:2.15.1", settings=settings)
    assert resolved.job_type.ref == "python3:1.0.0"
    assert resolved.note and "python3:2.15.1 is not installed" in resolved.note


def test_unknown_type_names_the_known_ones(settings: Settings) -> None:
    with pytest.raises(
        NotFound, match="job type 'rust' is not installed; available: docker-proxy, golang, python3"
    ):
        jobtypes.resolve_job_type("rust:1.0", settings=settings)


def test_plugin_install_list_resolve_and_remove(settings: Settings) -> None:
    info = jobtypes.install_plugin(_plugin_zip(), "mllab.zip", settings=settings)
    assert info.name == "mllab-job-type" and info.job_types == ("mllab:1.3.0-3.9", "mllab:1.4.0-3.11")
    assert (settings.data_dir / "plugins" / "mllab-job-type-1.4.0.zip").is_file()
    refs = [job_type.ref for job_type in jobtypes.list_job_types(settings=settings)]
    assert "mllab:1.3.0-3.9" in refs and "mllab:1.4.0-3.11" in refs
    assert jobtypes.resolve_job_type("mllab:1.3.*-3.9", settings=settings).job_type.ref == "mllab:1.3.0-3.9"
    assert jobtypes.resolve_job_type("mllab:latest", settings=settings).job_type.ref == "mllab:1.4.0-3.11"
    plugin_type = jobtypes.resolve_job_type("mllab:1.4.0-3.11", settings=settings).job_type
    assert plugin_type.origin == "plugin mllab-job-type 1.4.0"
    assert plugin_type.image_specs[0].template is not None and plugin_type.image_specs[0].template.is_file()
    with pytest.raises(AlreadyExists):
        jobtypes.install_plugin(_plugin_zip(), settings=settings)
    jobtypes.install_plugin(_plugin_zip(), settings=settings, replace=True)
    jobtypes.remove_plugin("mllab-job-type", settings=settings)
    with pytest.raises(NotFound):
        jobtypes.resolve_job_type("mllab:latest", settings=settings)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip", "is not a ZIP file"),
        (
            _plugin_zip(plugin_py="raise ImportError('numpy missing')"),
            "cannot be loaded: ImportError: numpy missing",
        ),
    ],
)
def test_bad_plugins_are_refused(content: bytes, message: str, settings: Settings) -> None:
    with pytest.raises(InvalidInput, match=message):
        jobtypes.install_plugin(content, "bad.zip", settings=settings)
    assert not list((settings.data_dir / "plugins").glob("*.zip"))


def test_plugin_without_manifest_is_refused(settings: Settings) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin.py", PLUGIN_PY)
    with pytest.raises(InvalidInput, match="plugin-manifest.yaml is missing"):
        jobtypes.install_plugin(buffer.getvalue(), "x.zip", settings=settings)


def test_python3_extra_errors_name_field_and_fix(settings: Settings) -> None:
    job_type = jobtypes.resolve_job_type("python3:latest", settings=settings).job_type
    with pytest.raises(InvalidInput) as caught:
        job_type.validate_extra({"entrypoint_pth": "x.py", "max_concurrency": 0})
    message = caught.value.message
    assert "jobtype_extra.entrypoint_path: Field required (the path of the Python file" in message
    assert "jobtype_extra.entrypoint_pth: unknown field for python3:1.0.0" in message
    assert "jobtype_extra.max_concurrency: Input should be greater than or equal to 1" in message


def test_upstream_python3_extra_fields_are_accepted(settings: Settings) -> None:
    job_type = jobtypes.resolve_job_type("python3:2.15.1", settings=settings).job_type
    extra = job_type.validate_extra(
        {
            "entrypoint_path": "job.py",
            "entrypoint_class": "Job",
            "requirements_path": "req.txt",
            "check_requirements": False,
            "python_version": "3.13",
            "debian_version": "slim-trixie",
            "debian_backports": True,
            "memray_profiler": True,
            "home_page": "/docs",
            "max_concurrency": 2,
            "max_concurrency_queue": 5,
        }
    )
    assert job_type.build_warnings(extra) == [
        "memray_profiler is not supported by this platform and is ignored"
    ]
    assert job_type.base_image(extra, settings) == settings.base_image_python_trixie
    with pytest.raises(InvalidInput) as caught:
        job_type.validate_extra(
            {"entrypoint_path": "job.py", "python_version": "3.9", "debian_version": "slim-bullseye"}
        )
    assert caught.value.message == (
        "invalid jobtype_extra: jobtype_extra.python_version: python_version '3.9' is not available: "
        "jobs run on Debian's Python, so the accepted values are python_version 3.11 "
        "(debian_version bookworm, the default) or 3.13 (debian_version trixie) "
        "(quote the value in YAML: '3.13'); "
        "jobtype_extra.debian_version: debian_version 'slim-bullseye' is not available; accepted: bookworm "
        "(Python 3.11), trixie (Python 3.13), with or without upstream's slim- prefix"
    )


def test_manifest_legacy_fields() -> None:
    base = {"name": "old", "owner_email": "a@example.com", "git": {"remote": "https://example.com/j.git"}}
    parsed = jobtypes.job_manifest({**base, "lang": "python3:latest", "python": {"entrypoint_path": "a.py"}})
    assert parsed.jobtype == "python3:latest" and parsed.jobtype_extra == {"entrypoint_path": "a.py"}
    with pytest.raises(InvalidInput, match="invalid manifest: field `jobtype`: required field is missing"):
        jobtypes.job_manifest(base)
    with pytest.raises(InvalidInput, match="field `name`: 'Bad_Name' is not a valid name"):
        jobtypes.job_manifest({**base, "name": "Bad_Name", "jobtype": "python3:latest"})
    with pytest.raises(InvalidInput, match="field `build_env`: '1X' is not a valid environment variable"):
        jobtypes.job_manifest({**base, "jobtype": "python3:latest", "build_env": {"1X": "y"}})


def test_runtime_env_and_reserved_names() -> None:
    manifest = {
        "name": "adder",
        "owner_email": "a@example.com",
        "git": {"remote": "https://example.com/jobs.git"},
        "version": "1.0.0",
        "jobtype": "python3:latest",
        "runtime_env": {"MODE": "x"},
    }
    env = jobtypes.job_runtime_env(
        manifest,
        pub_url="http://pub/pub",
        auth_token="tok",
        deployment_timestamp=5,
        secret_runtime_env={"API_KEY": "k", "MODE": "secret-wins"},
    )
    assert env["JOB_NAME"] == "adder" and env["JOB_VERSION"] == "1.0.0" and env["PUB_URL"] == "http://pub/pub"
    assert env["AUTH_TOKEN"] == "tok" and env["JOB_DEPLOYMENT_TIMESTAMP"] == "5"
    assert env["MODE"] == "secret-wins" and env["API_KEY"] == "k"
    with pytest.raises(InvalidInput, match="runtime_env sets AUTH_TOKEN"):
        jobtypes.job_runtime_env(
            {**manifest, "runtime_env": {"AUTH_TOKEN": "x"}}, pub_url="p", auth_token="t"
        )


def test_public_api_is_exported() -> None:
    exported = set(jobtypes.__all__)
    assert {
        "plan_build",
        "BuildSettings",
        "fetch_git_source",
        "unpack_build_context",
        "job_runtime_env",
        "job_containers",
        "list_job_types",
        "resolve_job_type",
        "install_plugin",
    } <= exported
    for name in exported:
        assert getattr(jobtypes, name) is not None
