"""Pub's settings: what the launcher resolves and hands the Go gateway. The gateway's own pure pieces
(token and cookie reading, redirect rewriting, its reading of the environment) are Go tests in
api/pub/gateway, run by test_gateway_go.py."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from api.errors import InvalidInput
from api.pub import PubConfig, SidecarTarget, gateway_env
from api.settings import Settings, managed_secret


def test_config_from_settings(tmp_path):
    settings = Settings(data_dir=tmp_path, lifecycle_url="http://lc:7002/lifecycle/")
    config = PubConfig.from_settings(settings)
    assert config.lifecycle_url == "http://lc:7002/lifecycle"
    assert config.internal_token == managed_secret(tmp_path, "internal_token")  # the lifecycle reads the same
    assert config.sidecar is None
    assert "internal_token='***'" in repr(config) and config.internal_token not in repr(config)
    settings = Settings(
        data_dir=tmp_path,
        internal_token=SecretStr("given"),
        pub_sidecar_target="127.0.0.1:7000",
        pub_sidecar_job_name="adder",
    )
    config = PubConfig.from_settings(settings)
    assert config.internal_token == "given"
    assert config.sidecar is not None and config.sidecar.address == "127.0.0.1:7000"
    with pytest.raises(InvalidInput, match="RACETRACK_PUB_SIDECAR_TARGET"):
        PubConfig.from_settings(Settings(data_dir=tmp_path), sidecar=True)


def test_gateway_env_carries_the_settings_and_drops_stale_ones():
    config = PubConfig(lifecycle_url="http://lc/lifecycle", internal_token="tok", auth_cache_ttl=2.5)
    base = {
        "PATH": "/bin",
        "RACETRACK_PUB_SIDECAR_TARGET": "10.0.0.1:7000",  # not this pub's: it is a gateway
        "RACETRACK_INTERNAL_TOKEN_FILE": "/elsewhere",
        "RACETRACK_PUB_ASYNC_UPSTREAM": "http://stale",
    }
    env = gateway_env(config, ["127.0.0.1:7005", "172.17.0.1:7005"], "http://127.0.0.1:4000", base)
    assert env["PATH"] == "/bin"
    assert env["RACETRACK_PUB_LISTEN"] == "127.0.0.1:7005,172.17.0.1:7005"
    assert env["RACETRACK_INTERNAL_TOKEN"] == "tok"
    assert env["RACETRACK_PUB_AUTH_CACHE_TTL"] == "2.5"
    assert env["RACETRACK_PUB_ASYNC_UPSTREAM"] == "http://127.0.0.1:4000"
    assert "RACETRACK_PUB_SIDECAR_TARGET" not in env and "RACETRACK_INTERNAL_TOKEN_FILE" not in env
    sidecar = PubConfig(
        lifecycle_url="http://lc", internal_token="t", sidecar=SidecarTarget("127.0.0.1:7000", "adder", None)
    )
    env = gateway_env(sidecar, ["0.0.0.0:7005"], None, base)
    assert env["RACETRACK_PUB_SIDECAR_TARGET"] == "127.0.0.1:7000"
    assert env["RACETRACK_PUB_SIDECAR_JOB_NAME"] == "adder"
    assert "RACETRACK_PUB_SIDECAR_JOB_VERSION" not in env and "RACETRACK_PUB_ASYNC_UPSTREAM" not in env


def test_job_hosts_and_secure_cookies_follow_the_settings(tmp_path):
    local = PubConfig.from_settings(Settings(data_dir=tmp_path))
    assert (local.jobs_url, local.secure_cookies) == ("http://jobs.localhost:7005", False)
    assert local.dashboard_url == "http://127.0.0.1:7003/dashboard"
    served = Settings(
        data_dir=tmp_path,
        pub_url="https://racetrack.example.com/pub",
        jobs_domain="Jobs.Racetrack.Example.com",
    )
    config = PubConfig.from_settings(served)
    assert (config.jobs_url, config.secure_cookies) == ("https://jobs.racetrack.example.com", True)
    assert served.job_url("adder") == "https://adder.jobs.racetrack.example.com"
    env = gateway_env(config, ["0.0.0.0:7005"], None, {"RACETRACK_PUB_JOBS_URL": "stale"})
    assert env["RACETRACK_PUB_JOBS_URL"] == "https://jobs.racetrack.example.com"
    assert env["RACETRACK_PUB_SECURE_COOKIE"] == "true"
    # Plain HTTP, but the operator says browsers come over HTTPS (a TLS proxy in front).
    assert PubConfig.from_settings(Settings(data_dir=tmp_path, secure_cookie=True)).secure_cookies
    with pytest.raises(ValueError, match="RACETRACK_JOBS_DOMAIN"):
        Settings(data_dir=tmp_path, jobs_domain="jobs_.example.com")
