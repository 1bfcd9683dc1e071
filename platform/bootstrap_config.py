"""The platform stack's configuration (`racetrack:*` keys), read once into a typed object.

Secrets (`adminPassword`, `authKey`, `databasePassword`, `pulumiPassphrase`, `internalToken`) are
taken from the stack config when set there (`pulumi config set --secret racetrack:adminPassword ...`),
otherwise generated once by the stack and kept, encrypted, in its state (stacks/generated_secret.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi

from stacks.generated_secret import GeneratedSecret

__all__ = ["PlatformConfig", "load_config", "SECRET_KEYS"]

# Config key -> generated length.
SECRET_KEYS = {
    "adminPassword": 24,
    "authKey": 48,
    "databasePassword": 32,
    "pulumiPassphrase": 32,
    "internalToken": 48,
}


@dataclass
class PlatformConfig:
    target: str
    stack: str
    raw: pulumi.Config
    admin_username: str = "admin"
    lifecycle_port: int = 7102
    dashboard_port: int = 7103
    pub_port: int = 7105
    postgres_port: int = 7132
    env: dict[str, str] = field(default_factory=dict)
    component_env: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, pulumi.Output[str]] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A plain value as written in the stack file (string, number or mapping)."""
        text = self.raw.get(key)
        if text is None:
            return default
        try:
            return json.loads(text)
        except ValueError:
            return text

    def env_for(self, component: str) -> dict[str, str]:
        """`racetrack:env` for every component, then `racetrack:<component>Env` on top."""
        return {**self.env, **self.component_env.get(component, {})}

    @property
    def name_prefix(self) -> str:
        return f"racetrack-{self.stack}"


def _secret(raw: pulumi.Config, key: str, length: int) -> pulumi.Output[str]:
    given = raw.get_secret(key)
    if given is not None:
        return given
    return GeneratedSecret(f"secret-{key}", {"length": length}).value


def load_config() -> PlatformConfig:
    raw = pulumi.Config("racetrack")
    config = PlatformConfig(target=raw.get("target") or "docker", stack=pulumi.get_stack(), raw=raw)
    config.admin_username = raw.get("adminUsername") or "admin"
    for attr in ("lifecycle_port", "dashboard_port", "pub_port", "postgres_port"):
        key = attr.split("_")[0] + "Port"
        setattr(config, attr, raw.get_int(key) or getattr(config, attr))
    config.env = {k: str(v) for k, v in (raw.get_object("env") or {}).items()}
    config.component_env = {
        component: {k: str(v) for k, v in (raw.get_object(f"{component}Env") or {}).items()}
        for component in ("lifecycle", "pub", "dashboard")
    }
    config.secrets = {key: _secret(raw, key, length) for key, length in SECRET_KEYS.items()}
    return config
