"""Config file, URL inference, aliases and git credentials matching."""

from __future__ import annotations

import stat

import pytest
import yaml

from client.config import ClientConfig, infer_lifecycle_url, match_git_credentials, resolve_remote
from tests.client.conftest import LIFECYCLE, write_config


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:7002", "http://127.0.0.1:7002/lifecycle"),
        ("http://127.0.0.1:7002/", "http://127.0.0.1:7002/lifecycle"),
        ("127.0.0.1:7002", "https://127.0.0.1:7002/lifecycle"),
        ("racetrack.example.com", "https://racetrack.example.com/lifecycle"),
        ("https://racetrack.example.com/lifecycle", "https://racetrack.example.com/lifecycle"),
        (
            "http://racetrack.platform.example.com:12345/lifecycle",
            "http://racetrack.platform.example.com:12345/lifecycle",
        ),
        ("https://rt.example.com/custom/path/", "https://rt.example.com/custom/path"),
    ],
)
def test_url_inference(given: str, expected: str) -> None:
    assert infer_lifecycle_url(given) == expected


def test_remote_resolution_through_aliases() -> None:
    config = ClientConfig(
        lifecycle_url="dev",
        lifecycle_url_aliases={"dev": "rt.dev.example.com", "kind": "http://127.0.0.1:7002"},
    )
    assert resolve_remote(config, None) == "https://rt.dev.example.com/lifecycle"
    assert resolve_remote(config, "kind") == LIFECYCLE
    assert resolve_remote(config, "http://other:1/lifecycle") == "http://other:1/lifecycle"
    assert resolve_remote(ClientConfig(), None) == LIFECYCLE


def test_credentials_matching_order_and_prefixes() -> None:
    config = ClientConfig(
        git_credentials={
            "https://github.com/org/repo": {"username": "exact", "password": "p1"},
            "https://github.com": {"username": "host", "password": "p2"},
            "gitlab.example.com": {"username": "netloc", "password": "p3"},
            "https://git.example.com/team": {"username": "prefix", "password": "p4"},
        }
    )
    assert match_git_credentials(config, "https://github.com/org/repo")["username"] == "exact"
    assert match_git_credentials(config, "https://github.com/org/repo/")["username"] == "exact"
    assert match_git_credentials(config, "https://github.com/org/repo.git")["username"] == "exact"
    assert match_git_credentials(config, "https://github.com/other/x")["username"] == "host"
    assert match_git_credentials(config, "https://gitlab.example.com/a/b")["username"] == "netloc"
    assert match_git_credentials(config, "https://git.example.com/team/job")["username"] == "prefix"
    assert match_git_credentials(config, "https://git.example.com/teamX/job") is None
    assert match_git_credentials(config, "https://bitbucket.org/a/b") is None
    assert match_git_credentials(config, None) is None


def test_config_created_private_with_upstream_fields(rt, isolated) -> None:
    result = rt("set", "alias", "dev", "https://racetrack.dev.platform.example.com/lifecycle/")
    assert result.exit_code == 0, result.output
    assert (
        'Alias "dev" set to Racetrack URL https://racetrack.dev.platform.example.com/lifecycle'
        in result.stdout
    )
    path = isolated / "config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = yaml.safe_load(path.read_text())
    assert set(data) == {"lifecycle_url", "git_credentials", "lifecycle_url_aliases", "user_auths"}
    assert data["lifecycle_url"] == "http://127.0.0.1:7002"
    assert data["lifecycle_url_aliases"] == {"dev": "https://racetrack.dev.platform.example.com/lifecycle"}


@pytest.mark.parametrize(("mode", "who"), [(0o644, "group and others"), (0o640, "group"), (0o604, "others")])
def test_warns_when_others_can_read_the_config(rt, isolated, mode: int, who: str) -> None:
    path = write_config(isolated, "lifecycle_url: http://127.0.0.1:7002\n", mode)
    result = rt("get", "remote")
    assert result.exit_code == 0
    assert f"can be read or written by {who}" in result.stderr
    assert f"chmod 600 {path}" in result.stderr
    assert result.stdout.strip() == LIFECYCLE  # the warning stays off stdout


def test_no_warning_for_private_config(rt, isolated) -> None:
    write_config(isolated, "lifecycle_url: http://127.0.0.1:7002\n", 0o600)
    assert "Warning" not in rt("get", "remote").output


def test_malformed_config_is_an_actionable_error(rt, isolated) -> None:
    path = write_config(isolated, "user_auths: [1, 2]\n")
    result = rt("get", "remote")
    assert result.exit_code == 1
    assert f"Error: {path}: field 'user_auths' must be a mapping" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_fields_survive_a_save(rt, isolated) -> None:
    write_config(isolated, "lifecycle_url: dev\nfuture_field: 7\n")
    assert rt("set", "alias", "dev", "http://127.0.0.1:7002").exit_code == 0
    data = yaml.safe_load((isolated / "config.yaml").read_text())
    assert data["future_field"] == 7 and data["lifecycle_url"] == "dev"


def test_set_remote_and_get_remote_with_alias(rt, tty) -> None:
    rt("set", "alias", "docker", "http://127.0.0.1:7102")
    result = rt("set", "remote", "docker")
    assert result.exit_code == 0
    assert 'Current remote set to "docker", resolving to http://127.0.0.1:7102/lifecycle' in result.stdout
    assert (
        rt("get", "remote").stdout.strip()
        == 'Current remote is "docker", resolving to http://127.0.0.1:7102/lifecycle'
    )
    assert rt("get", "remote", "-q").stdout.strip() == "http://127.0.0.1:7102/lifecycle"


def test_get_remote_piped_prints_only_the_url(rt) -> None:
    rt("set", "remote", "http://127.0.0.1:7002")
    assert rt("get", "remote").stdout == LIFECYCLE + "\n"


def test_set_credentials_stores_and_never_echoes_the_token(rt, isolated) -> None:
    result = rt(
        "set", "credentials", "https://github.com/theracetrack/racetrack/", "me@example.com", "glpat-SECRET"
    )
    assert result.exit_code == 0
    assert "glpat-SECRET" not in result.output
    assert "https://github.com/theracetrack/racetrack" in result.stdout
    data = yaml.safe_load((isolated / "config.yaml").read_text())
    assert data["git_credentials"] == {
        "https://github.com/theracetrack/racetrack": {
            "username": "me@example.com",
            "password": "glpat-SECRET",
        }
    }


def test_get_config_masks_secrets_unless_asked(rt, isolated) -> None:
    write_config(
        isolated,
        (
            "lifecycle_url: kind\nlifecycle_url_aliases: {kind: 'http://127.0.0.1:7002'}\n"
            f"user_auths: {{'{LIFECYCLE}': eyJhbGciOiJIUzI1NiJ9.payload.signature}}\n"
            "git_credentials: {'https://github.com': {username: me, password: ghp_abcdefghijklmnop}}\n"
        ),
    )
    masked = rt("get", "config")
    assert masked.exit_code == 0
    assert "eyJhbGciOiJIUzI1NiJ9.payload.signature" not in masked.stdout
    assert "ghp_abcdefghijklmnop" not in masked.stdout
    assert LIFECYCLE in masked.stdout and "kind" in masked.stdout
    shown = rt("get", "config", "--show-secrets")
    assert "eyJhbGciOiJIUzI1NiJ9.payload.signature" in shown.stdout
    assert (
        yaml.safe_load(shown.stdout)["git_credentials"]["https://github.com"]["password"]
        == "ghp_abcdefghijklmnop"
    )


def test_set_remote_to_an_undefined_alias_warns(rt) -> None:
    result = rt("set", "remote", "kind")
    assert result.exit_code == 0
    assert '"kind" is not an alias' in result.stderr and "racetrack set alias kind URL" in result.stderr
    rt("set", "alias", "kind", "http://127.0.0.1:7002")
    assert "Warning" not in rt("set", "remote", "kind").stderr
    assert "Warning" not in rt("set", "remote", "rt.example.com").stderr
