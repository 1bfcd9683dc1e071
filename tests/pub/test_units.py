"""Pub's pure pieces: configuration, header reading, redirect rewriting."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from api.errors import InvalidInput
from api.pub import PubConfig
from api.pub._headers import read_incoming
from api.pub._proxy import rewrite_location
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


def test_token_precedence_and_cookie_stripping():
    seen = read_incoming(
        [(b"cookie", b"a=1; X-Racetrack-Auth=%22tok%20c%22; b=2"), (b"x-racetrack-esc-auth", b"esc")]
    )
    assert seen.token == "esc"
    assert seen.headers == [(b"cookie", b"a=1; b=2")]
    seen = read_incoming([(b"cookie", b"X-Racetrack-Auth=tok%2Fc")])
    assert seen.token == "tok/c" and seen.headers == []
    seen = read_incoming([(b"x-racetrack-user-auth", b"user"), (b"x-racetrack-auth", b"main")])
    assert seen.token == "main"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/pub/job/adder/1.2.0/docs", "/pub/job/adder/latest/docs"),
        ("/pub/job/adder/1.2.0", "/pub/job/adder/latest"),
        ("/pub/job/adder/1.2.0?x=1", "/pub/job/adder/latest?x=1"),
        ("http://10.0.0.5:7000/pub/job/adder/1.2.0/a?b=c#d", "/pub/job/adder/latest/a?b=c#d"),
        ("/docs", "/pub/job/adder/latest/docs"),
        ("docs/page", "docs/page"),
        ("/pub/job/adder/1.0.0/x", "/pub/job/adder/1.0.0/x"),
        ("https://other.example/x", "https://other.example/x"),
    ],
)
def test_rewrite_location(location, expected):
    assert (
        rewrite_location(
            location,
            internal_name="10.0.0.5:7000",
            upstream_prefix="/pub/job/adder/1.2.0",
            public_prefix="/pub/job/adder/latest",
            name="adder",
        )
        == expected
    )
