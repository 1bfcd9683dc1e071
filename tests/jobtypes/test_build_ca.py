"""Image builds trust what the host trusts, with no setting: the CA bundle named by the host's usual
variables, else the distribution's; `extra_ca_bundle` chooses another file or `none`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import jobtypes
from api.settings import DISTRIBUTION_CA_BUNDLE, HOST_CA_ENV, Settings, host_ca_bundle
from jobtypes.errors import BuildFailed

from .jobs import SAMPLES, build_job, job_settings, load_manifest, remove_images

ROOT = Path(__file__).resolve().parents[2]


def _plan(tmp_path: Path, settings: Settings) -> jobtypes.BuildPlan:
    source = jobtypes.unpack_build_context(tmp_path / "ws", jobtypes.pack_directory(SAMPLES / "python-class"))
    manifest = load_manifest(SAMPLES / "python-class")
    return jobtypes.plan_build(manifest, source, build_id="ca", settings=settings.build_settings())


def test_the_first_host_variable_naming_a_file_wins(tmp_path: Path) -> None:
    bundle = tmp_path / "proxy-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    environ = {"SSL_CERT_FILE": str(tmp_path / "gone.pem"), "PIP_CERT": str(bundle)}
    found = host_ca_bundle(environ)
    assert found.path == bundle and found.source == "from PIP_CERT"
    assert set(HOST_CA_ENV) == {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE"}


@pytest.mark.skipif(not DISTRIBUTION_CA_BUNDLE.is_file(), reason="this host has no distribution CA bundle")
def test_without_variables_the_distribution_bundle_is_used() -> None:
    assert host_ca_bundle({}).path == DISTRIBUTION_CA_BUNDLE


def test_builds_get_the_host_bundle_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "host-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    for name in HOST_CA_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.delenv("RACETRACK_EXTRA_CA_BUNDLE", raising=False)
    plan = _plan(tmp_path, Settings(data_dir=tmp_path / "data"))
    assert plan.images[0].secrets["ca_bundle"] == bundle
    plan.cleanup()


def test_the_setting_overrides_and_none_turns_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.pem"
    mine.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("RACETRACK_EXTRA_CA_BUNDLE", str(mine))
    plan = _plan(tmp_path / "a", Settings(data_dir=tmp_path / "data"))
    assert plan.images[0].secrets["ca_bundle"] == mine
    plan.cleanup()
    monkeypatch.setenv("RACETRACK_EXTRA_CA_BUNDLE", "none")
    settings = Settings(data_dir=tmp_path / "data")
    assert settings.build_ca().path is None
    plan = _plan(tmp_path / "b", settings)
    assert "ca_bundle" not in plan.images[0].secrets
    plan.cleanup()


def test_a_bundle_path_that_does_not_exist_stops_the_platform_with_the_fix(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RACETRACK_DATA_DIR": str(tmp_path / "data"),
        "RACETRACK_EXTRA_CA_BUNDLE": str(tmp_path / "no-such-ca.pem"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.lifecycle"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"extra_ca_bundle: {tmp_path / 'no-such-ca.pem'} is not a file" in done.stderr
    assert "RACETRACK_EXTRA_CA_BUNDLE" in done.stderr and "none" in done.stderr


@pytest.mark.engine
def test_a_build_without_the_proxy_ca_names_the_ca_it_used_and_the_setting(tmp_path: Path) -> None:
    """On a network that intercepts TLS (as here), pip fails without the host's CA; the error says so."""
    settings = job_settings(tmp_path / "data").model_copy(update={"extra_ca_bundle": "none"})
    if settings.build_ca().path is not None:
        pytest.fail("extra_ca_bundle=none must give builds no CA bundle")
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "job.py").write_text("class Job:\n    def perform(self):\n        return 1\n")
    (folder / "requirements.txt").write_text("six==1.17.0\n")
    manifest = {
        "name": "no-ca",
        "owner_email": "nobody@example.com",
        "jobtype": "python3:latest",
        "git": {"remote": "https://github.com/example/no-ca"},
        "version": "0.0.1",
        "jobtype_extra": {"entrypoint_path": "job.py", "requirements_path": "requirements.txt"},
    }
    try:
        built = build_job(folder, settings, tmp_path / "ws", manifest=manifest)
    except BuildFailed as exc:
        if "certificate" not in exc.message.lower():
            raise
        assert "this build trusted the CA bundle none (RACETRACK_EXTRA_CA_BUNDLE=none)" in exc.message
        assert "RACETRACK_EXTRA_CA_BUNDLE=<PEM bundle file>" in exc.message
    else:
        remove_images(built)
        pytest.skip("this network does not intercept TLS: builds need no extra CA here")
