"""The local client configuration, `~/.racetrack/config.yaml`, with upstream Racetrack's fields.

    lifecycle_url: http://127.0.0.1:7002        # current remote: a URL or an alias name
    git_credentials: {repo_url: {username: ..., password: ...}}
    lifecycle_url_aliases: {alias: url}
    user_auths: {resolved lifecycle url: token}

The file is created with mode 600 because it holds tokens; reading it warns when group or others may
read or write it. `RACETRACK_CONFIG_DIR` moves the directory (tests, several identities on one machine).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from client import output
from client.errors import ConfigError

__all__ = [
    "DEFAULT_LIFECYCLE_URL",
    "ClientConfig",
    "config_dir",
    "config_path",
    "load_config",
    "save_config",
    "infer_lifecycle_url",
    "resolve_remote",
    "trim_url",
    "match_git_credentials",
    "is_localhost",
]

DEFAULT_LIFECYCLE_URL = "http://127.0.0.1:7002"
DEFAULT_SCHEME = "https"
DEFAULT_PATH = "/lifecycle"
CONFIG_DIR_ENV = "RACETRACK_CONFIG_DIR"


@dataclass
class ClientConfig:
    """The config file's content; unknown keys are kept so a newer client's fields survive a save."""

    lifecycle_url: str = DEFAULT_LIFECYCLE_URL
    git_credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    lifecycle_url_aliases: dict[str, str] = field(default_factory=dict)
    user_auths: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "git_credentials": {k: dict(v) for k, v in self.git_credentials.items()},
            "lifecycle_url": self.lifecycle_url,
            "lifecycle_url_aliases": dict(self.lifecycle_url_aliases),
            "user_auths": dict(self.user_auths),
        }


def config_dir() -> Path:
    custom = os.environ.get(CONFIG_DIR_ENV)
    return Path(custom).expanduser() if custom else Path.home() / ".racetrack"


def config_path() -> Path:
    return config_dir() / "config.yaml"


def _check_mode(path: Path) -> None:
    mode = path.stat().st_mode
    who = []
    if mode & (stat.S_IRGRP | stat.S_IWGRP):
        who.append("group")
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        who.append("others")
    if who:
        output.warn(
            f"config file {path} can be read or written by {' and '.join(who)} and holds your tokens; "
            f"fix it with: chmod 600 {path}"
        )


def _string_map(data: Any, key: str, path: Path) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: field {key!r} must be a mapping, got {type(value).__name__}")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def load_config() -> ClientConfig:
    """Read the config file, or the defaults when it does not exist yet."""
    path = config_path()
    if not path.is_file():
        return ClientConfig()
    _check_mode(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint=f"Fix or remove {path}.") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping", hint=f"Fix or remove {path}.")
    creds_raw = data.get("git_credentials") or {}
    if not isinstance(creds_raw, dict):
        raise ConfigError(f"{path}: field 'git_credentials' must be a mapping")
    creds: dict[str, dict[str, str]] = {}
    for repo, cred in creds_raw.items():
        if not isinstance(cred, dict):
            raise ConfigError(f"{path}: git_credentials[{repo!r}] needs username and password")
        creds[str(repo)] = {
            "username": str(cred.get("username", "")),
            "password": str(cred.get("password", "")),
        }
    known = {"lifecycle_url", "git_credentials", "lifecycle_url_aliases", "user_auths"}
    return ClientConfig(
        lifecycle_url=str(data.get("lifecycle_url") or DEFAULT_LIFECYCLE_URL),
        git_credentials=creds,
        lifecycle_url_aliases=_string_map(data, "lifecycle_url_aliases", path),
        user_auths=_string_map(data, "user_auths", path),
        extra={k: v for k, v in data.items() if k not in known},
    )


def save_config(config: ClientConfig) -> Path:
    """Write the config file; a new file (and directory) is created private to the user."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = yaml.safe_dump(config.to_dict(), sort_keys=True, default_flow_style=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def trim_url(url: str) -> str:
    """Drop trailing slashes, so `https://x/` and `https://x` are one key."""
    return url.rstrip("/")


def infer_lifecycle_url(url: str) -> str:
    """Complete a short server address: no scheme means https://, no path means /lifecycle.

    >>> infer_lifecycle_url("racetrack.example.com")
    'https://racetrack.example.com/lifecycle'
    >>> infer_lifecycle_url("http://127.0.0.1:7002")
    'http://127.0.0.1:7002/lifecycle'
    """
    url = url.strip()
    if "://" not in url:
        url = f"{DEFAULT_SCHEME}://{url}"
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        url = trim_url(url) + DEFAULT_PATH
    return trim_url(url)


def resolve_remote(config: ClientConfig, remote: str | None) -> str:
    """The full lifecycle URL for `--remote` (a URL or an alias), or for the current remote."""
    name = remote or config.lifecycle_url
    target = config.lifecycle_url_aliases.get(name, name)
    return infer_lifecycle_url(target)


def is_localhost(url: str) -> bool:
    return urlsplit(url).hostname in {"localhost", "127.0.0.1", "::1"}


def match_git_credentials(config: ClientConfig, repo_url: str | None) -> dict[str, str] | None:
    """Credentials stored for a repository: exact URL, then scheme+host+path, scheme+host, host.

    A key that is a prefix of the URL on a path boundary also matches (e.g. `https://github.com/org`
    for `https://github.com/org/repo`), the longest key winning.
    """
    if not repo_url:
        return None
    creds = {trim_url(k): v for k, v in config.git_credentials.items()}
    parts = urlsplit(repo_url)
    path = parts.path.rstrip("/")
    candidates = [
        trim_url(repo_url),
        f"{parts.scheme}://{parts.netloc}{path}",
        f"{parts.scheme}://{parts.netloc}{path.removesuffix('.git')}",
        f"{parts.scheme}://{parts.netloc}",
        parts.netloc,
    ]
    for candidate in candidates:
        if candidate in creds:
            return creds[candidate]
    prefixed = [k for k in creds if trim_url(repo_url).startswith(k + "/")]
    if prefixed:
        return creds[max(prefixed, key=len)]
    return None
