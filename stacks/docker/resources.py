"""Containers, networks, volumes and images on the local Docker engine, as Pulumi resources.

The bridged `docker` provider cannot be built here: the Go module proxy this project can reach does not
serve pulumi-docker or the Terraform provider it wraps. These dynamic resources are the closest real
alternative: the Pulumi engine diffs, previews, updates and deletes them like any other resource, and
the provider (a Python process the engine starts) talks to the Docker engine API through docker-py.

A container is immutable here: any change to its inputs replaces it, and a replacement starts the new
container before the old one is removed (container names carry a suffix so both can exist), so a
failed start never removes what was serving. The exception is a container holding a fixed address (the
host's network, or a fixed host port): it is removed first, since two cannot hold the same address.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container as DockerContainer

__all__ = [
    "Container",
    "Network",
    "Image",
    "Volume",
    "ContainerProvider",
    "NetworkProvider",
    "ImageProvider",
    "VolumeProvider",
]

# Inputs that may change without touching the running container.
_IN_PLACE = frozenset({"wait_seconds", "ready_check", "ready_url", "drain"})


def _client() -> DockerClient:  # imported lazily: the engine's provider process is the one that needs it
    import docker

    return docker.from_env()


def _engine_id(found: str | None) -> str:
    """The id of an object the Docker engine just returned (docker-py types it optional)."""
    if not found:
        raise RuntimeError("the Docker engine returned an object without an id")
    return found


def _suffix(inputs: dict[str, Any]) -> str:
    material = json.dumps({k: v for k, v in inputs.items() if not k.startswith("__")}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:8]


class ContainerProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        import docker.errors

        client = _client()
        name = f"{props['name']}-{_suffix(props)}"
        with_stale_removed(client, name)
        # Numbers arrive as floats: the engine passes inputs as protobuf Structs.
        ports = {
            f"{int(p['container_port'])}/tcp": (
                p.get("host_ip", "127.0.0.1"),
                int(p.get("host_port") or 0) or None,
            )
            for p in props.get("ports", [])
        }
        kwargs: dict[str, Any] = {
            "name": name,
            "detach": True,
            "environment": {**props.get("env", {}), **props.get("secret_env", {})},
            "labels": props.get("labels", {}),
            "ports": ports,
            "restart_policy": {"Name": props.get("restart_policy", "unless-stopped")},
            "extra_hosts": props.get("extra_hosts") or None,
        }
        if props.get("command"):
            kwargs["command"] = props["command"]
        if props.get("memory_limit"):
            kwargs["mem_limit"] = int(props["memory_limit"])
        if props.get("nano_cpus"):
            kwargs["nano_cpus"] = int(props["nano_cpus"])
        kwargs.update(_hardening(props))
        if props.get("network"):
            kwargs["network"] = props["network"]
        if props.get("network_mode"):
            kwargs["network_mode"] = props["network_mode"]
        if props.get("volumes"):
            kwargs["volumes"] = {
                v["source"]: {"bind": v["target"], "mode": "ro" if v.get("read_only") else "rw"}
                for v in props["volumes"]
            }
        if props.get("healthcheck"):
            kwargs["healthcheck"] = props["healthcheck"]
        try:
            container = client.containers.run(props["image"], **kwargs)
        except docker.errors.DockerException as exc:
            raise RuntimeError(f"could not start container {name}: {exc}") from exc
        if props.get("network") and props.get("network_aliases"):
            network = client.networks.get(props["network"])
            network.disconnect(container)
            network.connect(container, aliases=props["network_aliases"])
        outs = dict(props)
        outs.update(_observed(client, container.id, props.get("wait_seconds", 10), props.get("network")))
        outs["container_name"] = name
        try:
            if props.get("ready_check"):
                _wait_ready(container, outs, props["ready_check"])
            if props.get("ready_url"):
                _wait_url(container, props["ready_url"])
        except RuntimeError:
            container.remove(force=True)
            raise
        return CreateResult(id_=container.id, outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = {k for k in set(olds) | set(news) if not k.startswith("__") and k in news}
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        replaces = [k for k in changed if k not in _IN_PLACE]
        return DiffResult(
            changes=bool(changed), replaces=replaces, delete_before_replace=_holds_fixed_address(olds)
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = dict(olds)
        outs.update(news)
        return UpdateResult(outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        import docker.errors

        client = _client()
        try:
            observed = _observed(client, id_, 0, props.get("network"))
        except docker.errors.NotFound:
            return ReadResult(id_=None, outs={})
        outs = dict(props)
        outs.update(observed)
        return ReadResult(id_=id_, outs=outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        import docker.errors

        try:
            container = _client().containers.get(id_)
            if (props.get("drain") or {}).get("seconds") and container.status == "running":
                _drain(container, float(props["drain"]["seconds"]))
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def _drain(container: Any, seconds: float) -> None:
    """Lets a job container that is being replaced or removed finish serving before it goes.

    Pulumi removes replaced containers once their successors are ready, but pub learns addresses from
    the lifecycle's registry, which the deploy updates only after the stack. The new name tells the
    lifecycle's monitor (it follows the engine's rename events) to take this container's address out of
    the registry now; pub re-reads it at the latest when its cached answer expires, which `seconds`
    covers. Then the job is stopped with SIGTERM, so a call still running is answered.
    """
    from stacks.docker.target import DRAINING_SUFFIX

    if not container.name.endswith(DRAINING_SUFFIX):
        container.rename(container.name + DRAINING_SUFFIX)
    time.sleep(seconds)
    container.stop(timeout=10)


# Inputs that restrict what a container may do and use, and docker-py's names for them.
_HARDENING = {
    "security_opt": "security_opt",
    "cap_drop": "cap_drop",
    "cap_add": "cap_add",
    "pids_limit": "pids_limit",
    "memory_reservation": "mem_reservation",
    "cpu_shares": "cpu_shares",
}


def _hardening(props: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for key, argument in _HARDENING.items():
        value = props.get(key)
        if value:
            # Numbers arrive as floats (protobuf Structs).
            kwargs[argument] = list(value) if isinstance(value, list) else int(value)
    return kwargs


def _holds_fixed_address(props: dict[str, Any]) -> bool:
    """A container on the host's network or with a fixed host port must go before its replacement starts:
    two containers cannot hold the same address."""
    fixed_ports = [p for p in props.get("ports") or [] if int(p.get("host_port") or 0)]
    return props.get("network_mode") == "host" or bool(fixed_ports)


def with_stale_removed(client: DockerClient, name: str) -> None:
    """Removes a container left by an interrupted create under the same name."""
    import docker.errors

    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        pass


def _observed(
    client: DockerClient, container_id: str, wait_seconds: float, network: str | None = None
) -> dict[str, Any]:
    """What the engine reports about a container: state, image, the host ports it got and its address on
    `network`."""
    deadline = time.monotonic() + wait_seconds
    while True:
        container = client.containers.get(container_id)
        bindings = container.attrs["NetworkSettings"]["Ports"] or {}
        published = {
            key.split("/")[0]: f"{b[0]['HostIp']}:{b[0]['HostPort']}" for key, b in bindings.items() if b
        }
        if container.status != "created" or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    networks = container.attrs["NetworkSettings"].get("Networks") or {}
    return {
        "state": container.status,
        "image_id": container.attrs["Image"],
        "published": published,
        "ip_address": (networks.get(network) or {}).get("IPAddress") or "" if network else "",
    }


def _wait_ready(container: DockerContainer, observed: dict[str, Any], check: dict[str, Any]) -> None:
    """Waits until the job answers `/live` and `/ready` with 200; fails early if it stops or says why.

    Creating the container only succeeds once it serves, so a replacement that crashes at start
    fails the update before the engine removes the container that was serving.
    """
    import httpx

    port = str(int(check["port"]))
    # A published port if it has one, else its address on its network (which the host reaches).
    address = observed["published"].get(port) or f"{observed['ip_address']}:{port}"
    deadline = time.monotonic() + float(check.get("timeout", 300))
    last = "no answer yet"
    while True:
        container.reload()
        # With a restart policy a crashed job comes back as "restarting", then "running" again
        # (with its exit code reset to 0).
        restarts = container.attrs.get("RestartCount") or 0
        if container.status in ("exited", "dead", "restarting") or restarts:
            code = container.attrs["State"]["ExitCode"]
            how = f"exit code {code}" if code else f"restarted {restarts} times"
            raise RuntimeError(f"the job stopped while starting ({how}): {_log_tail(container)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the job did not become ready within {check.get('timeout', 300)} s "
                f"(last: {last}): {_log_tail(container)}"
            )
        # /live is asked each round, not once: a job answers 200 while it initialises and 500 with
        # the error once its initialisation failed, which ends the wait at once.
        try:
            for path in ("/live", "/ready"):
                response = httpx.get(f"http://{address}{path}", timeout=2.0)
                if response.status_code == 200:
                    continue
                last = f"{path}: {response.status_code} {response.text[:300]}"
                error = _json_error(response)
                if error and response.status_code == 500:
                    raise RuntimeError(f"the job failed to initialise: {error}; {_log_tail(container)}")
                break
            else:
                return
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(0.2)


def _json_error(response: Any) -> str | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _wait_url(container: DockerContainer, check: dict[str, Any]) -> None:
    """Waits until `check["url"]` answers 200 (for a container on the host's network: no published port)."""
    import httpx

    deadline = time.monotonic() + float(check.get("timeout", 300))
    last = "no answer yet"
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            code = container.attrs["State"]["ExitCode"]
            raise RuntimeError(
                f"the container stopped while starting (exit code {code}): {_log_tail(container)}"
            )
        try:
            response = httpx.get(check["url"], timeout=2.0)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:300]}"
        except httpx.TransportError as exc:
            last = type(exc).__name__
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{check['url']} did not answer 200 within {check.get('timeout', 300)} s "
                f"(last: {last}): {_log_tail(container)}"
            )
        time.sleep(0.5)


def _log_tail(container: DockerContainer, lines: int = 20) -> str:
    """The container's last log lines on one line: the engine reports a provider's error by the last
    line of its traceback, so a multi-line message would lose its beginning."""
    text = container.logs(tail=lines).decode("utf-8", "replace")
    # Blank lines and Python's ^^^^ markers under traceback lines say nothing on one line.
    kept = [line.strip()[:300] for line in text.splitlines() if line.strip(" \t^~")]
    return f"last log lines: {' | '.join(kept)}" if kept else "no log output"


class Container(Resource):
    """A container on the local Docker engine.

    Inputs: `name` (prefix of the container name), `image`, `env`, `secret_env` (kept encrypted in the
    stack state), `labels`, `ports` (`[{container_port, host_ip, host_port}]`, host_port 0 = any free
    port), `network`, `network_aliases`, `restart_policy`, `memory_limit` (bytes), `nano_cpus`,
    `memory_reservation` (bytes), `cpu_shares`, `pids_limit`, `security_opt`, `cap_drop`, `cap_add`,
    `command`, `healthcheck`, `extra_hosts`, `volumes` (`[{source, target, read_only}]`: a volume name or
    an absolute host path), `network_mode` (e.g. `host`, instead of `network`), `ready_check`
    (`{port, timeout}`: wait for `/live` and `/ready` on the published port, else at the address on
    `network`), `ready_url` (`{url, timeout}`: wait for a 200 from any URL). A container that is not
    ready in time is removed and the create fails. Outputs add `container_name`, `state`, `image_id`,
    `published` (`{"7000": "127.0.0.1:49153"}`) and `ip_address` (on `network`).
    """

    container_name: pulumi.Output[str]
    published: pulumi.Output[dict[str, Any]]
    ip_address: pulumi.Output[str]
    state: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=["secret_env"])
        opts = pulumi.ResourceOptions.merge(opts, secret_outputs)
        props = {
            "container_name": None,
            "published": None,
            "ip_address": None,
            "state": None,
            "image_id": None,
            **props,
        }
        super().__init__(ContainerProvider(), name, props, opts)


class NetworkProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        import docker.errors

        client = _client()
        try:
            network = client.networks.get(props["name"])
        except docker.errors.NotFound:
            try:
                labels = props.get("labels", {})
                network = client.networks.create(props["name"], driver="bridge", labels=labels)
            except docker.errors.APIError as exc:
                if "address pool" not in str(exc):
                    raise
                # Each job version has a network; Docker's default pools hold about 30 of them.
                raise RuntimeError(
                    f"the Docker engine has no address range left for network {props['name']}: give it "
                    'larger pools in /etc/docker/daemon.json, e.g. "default-address-pools": '
                    '[{"base": "10.128.0.0/12", "size": 24}], and restart it, or delete unused jobs'
                ) from None
        return CreateResult(id_=_engine_id(network.id), outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("name", "labels") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        import docker.errors

        try:
            _client().networks.get(id_)
        except docker.errors.NotFound:
            return ReadResult(id_=None, outs={})
        return ReadResult(id_=id_, outs=dict(props))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        import docker.errors

        try:
            network = _client().networks.get(id_)
            if not network.attrs.get("Containers"):
                network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # still in use by containers another stack owns
                raise


class Network(Resource):
    """A bridge network on the local Docker engine; a network still in use is left in place on delete."""

    name: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NetworkProvider(), name, props, opts)


class VolumeProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        volume = _client().volumes.create(name=props["name"], labels=props.get("labels", {}))
        return CreateResult(id_=volume.name, outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("name", "labels") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        import docker.errors

        try:
            _client().volumes.get(id_)
        except docker.errors.NotFound:
            return ReadResult(id_=None, outs={})
        return ReadResult(id_=id_, outs=dict(props))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        import docker.errors

        try:
            _client().volumes.get(id_).remove(force=True)
        except docker.errors.NotFound:
            pass


class Volume(Resource):
    """A named volume on the local Docker engine (`name`, `labels`); deleting it deletes its data."""

    name: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(VolumeProvider(), name, props, opts)


# Image inputs that say where to find things this run, not what is built: they differ between runs
# (a fresh temporary directory per deploy) without changing the image.
# The build settings are how this engine builds, not what: changing them rebuilds nothing.
_IMAGE_LOCATIONS = frozenset({"context", "dockerfile", "log_path", "secret_files", "build_settings"})
DIGEST_LABEL = "org.racetrack.context-digest"
REBUILD_LABEL = "org.racetrack.rebuild"  # the `--no-cache` deploy an image was built for


class ImageProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        import docker.errors

        from stacks.docker.build import build_from_inputs

        client = _client()
        rebuild = props.get("rebuild") or ""
        try:
            existing = client.images.get(props["tag"])
            context_gone = not props.get("context") or not Path(props["context"]).is_dir()
            if existing.labels.get(DIGEST_LABEL) == props["context_digest"] and (
                not rebuild or existing.labels.get(REBUILD_LABEL) == rebuild or context_gone
            ):
                # Built before from the same context: reuse it (this is what makes a rollback fast).
                return CreateResult(
                    id_=_engine_id(existing.id), outs={**props, "image_id": existing.id, "reused": True}
                )
        except docker.errors.ImageNotFound:
            pass
        if not props.get("context") or not Path(props["context"]).is_dir():
            raise RuntimeError(
                f"image {props['tag']} no longer exists and its build context is gone: deploy the job again"
            )
        labels = {DIGEST_LABEL: props["context_digest"], **({REBUILD_LABEL: rebuild} if rebuild else {})}
        image_id = build_from_inputs(
            {**props, "no_cache": bool(rebuild)}, labels=labels, log=_file_logger(props.get("log_path"))
        )
        return CreateResult(id_=image_id, outs={**props, "image_id": image_id, "reused": False})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = {k for k in news if not k.startswith("__") and k not in _IMAGE_LOCATIONS}
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**olds, **{k: news[k] for k in _IMAGE_LOCATIONS if k in news}})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        import docker.errors

        try:
            _client().images.get(id_)
        except docker.errors.ImageNotFound:
            return ReadResult(id_=None, outs={})
        return ReadResult(id_=id_, outs=dict(props))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Leaves the image in place: a later rollback may use it again. Pruning is a separate step."""


def _file_logger(path: str | None) -> Callable[[str], None]:
    if not path:
        return lambda line: None

    def write(line: str) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    return write


class Image(Resource):
    """An image built from a local context on the Docker engine with BuildKit.

    Inputs: `tag`, `context` and `dockerfile` (paths), `context_digest` (see
    `stacks.digest.context_digest`: an image with this tag and digest is reused, not rebuilt),
    `labels`, `build_args`, `build_secrets` (`{id: content}`, mounted with `RUN --mount=type=secret`,
    kept encrypted in the state), `rebuild` (a marker set by `--no-cache`: when it changes, the image is
    built again without the build cache), `log_path` (a file that receives the build log),
    `build_settings` (`jobtypes.config.BuildSettings.as_inputs()`: the provider reads no settings of its own).
    Output: `image_id`.
    """

    image_id: pulumi.Output[str]
    tag: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["build_secrets"])
        )
        super().__init__(ImageProvider(), name, {"image_id": None, "reused": None, **props}, opts)
