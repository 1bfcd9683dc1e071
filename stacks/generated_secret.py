"""A random secret that the stack generates once and keeps: what pulumi-random's RandomPassword does.

The `random` provider cannot be built here (it is a bridged Terraform provider, like pulumi-docker),
so this is a dynamic resource: `create` draws the value with `secrets.token_urlsafe`, the engine keeps
it encrypted in the stack state, and later updates reuse it. Changing `length` or `keepers` draws a
new one.

    password = GeneratedSecret("admin-password", {"length": 24}).value   # a secret Output[str]
"""

from __future__ import annotations

import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

__all__ = ["GeneratedSecret", "GeneratedSecretProvider"]


class GeneratedSecretProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        length = int(props.get("length") or 32)
        value = secrets.token_urlsafe(length)[:length]
        return CreateResult(id_=secrets.token_hex(8), outs={**props, "value": value})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("length", "keepers") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)


class GeneratedSecret(Resource):
    """Inputs: `length` (characters, default 32), `keepers` (any value; a change draws a new secret).
    Output: `value`, always secret."""

    value: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["value"]))
        super().__init__(GeneratedSecretProvider(), name, {"value": None, **props}, opts)
