"""A job image in a container registry, as a Pulumi resource: built with the local Docker engine (the
Docker target's Image resource does that part) and pushed, its output a digest-pinned reference.

Tags are content-addressed (`<version>-<context digest>`), so an image already in the registry under
its tag is the one that context built: it is neither built nor pushed again, and its digest is read
back from the registry. This is what makes a rollback pull the very bytes it ran before.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource

from stacks.docker.resources import ImageProvider

__all__ = ["RegistryImage", "RegistryImageProvider", "manifest_digest", "repository"]

_MANIFESTS = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)


def repository(registry: str, tag: str) -> tuple[str, str]:
    """(`registry/repo`, `tag`) for a local tag `repo:tag` pushed to `registry`."""
    repo, _, version = tag.rpartition(":")
    return f"{registry.rstrip('/')}/{repo}", version


def manifest_digest(repo: str, tag: str, *, insecure: bool = True) -> str | None:
    """The registry's digest of `repo:tag` (repo with its registry host), None when it has none."""
    import httpx

    host, _, path = repo.partition("/")
    scheme = "http" if insecure else "https"
    try:
        response = httpx.head(
            f"{scheme}://{host}/v2/{path}/manifests/{tag}",
            headers={"Accept": _MANIFESTS},
            timeout=10.0,
            trust_env=False,
        )
    except httpx.TransportError as exc:
        raise RuntimeError(
            f"the registry {host} does not answer ({type(exc).__name__}): is it running?"
        ) from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise RuntimeError(f"the registry {host} answered {response.status_code} for {path}:{tag}")
    digest = response.headers.get("Docker-Content-Digest")
    return str(digest) if digest else None


class RegistryImageProvider(ImageProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        repo, version = repository(props["registry"], props["tag"])
        digest = manifest_digest(repo, version)
        if digest:
            reference = f"{repo}@{digest}"
            return CreateResult(id_=reference, outs={**props, "reference": reference, "pushed": False})
        built = super().create(props)  # the Docker target's path: reuse by tag and digest, else build
        built_outs = built.outs or {}
        digest = _push(built_outs["image_id"], repo, version)
        reference = f"{repo}@{digest}"
        outs = {**built_outs, "reference": reference, "pushed": True}
        return CreateResult(id_=reference, outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        repo, _, digest = id_.partition("@")
        if manifest_digest(repo, digest) is None:
            return ReadResult(id_=None, outs={})
        return ReadResult(id_=id_, outs=dict(props))


def _push(image_id: str, repo: str, tag: str) -> str:
    import docker

    client = docker.from_env()
    client.api.tag(image_id, repo, tag)
    digest = ""
    for event in client.api.push(repo, tag, stream=True, decode=True):
        if event.get("error"):
            raise RuntimeError(f"pushing {repo}:{tag} failed: {event['error']}")
        digest = (event.get("aux") or {}).get("Digest") or digest
    if not digest:
        digest = manifest_digest(repo, tag) or ""
    if not digest:
        raise RuntimeError(f"pushing {repo}:{tag} left no manifest in the registry")
    return digest


class RegistryImage(Resource):
    """The Docker target's Image inputs plus `registry` (host:port[/prefix]); output `reference`
    (`registry/repo@sha256:...`)."""

    reference: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["build_secrets"])
        )
        props = {"image_id": None, "reused": None, "reference": None, "pushed": None, **props}
        super().__init__(RegistryImageProvider(), name, props, opts)
