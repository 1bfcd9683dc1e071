"""Which Kubernetes cluster the target uses, and talking to it through its API.

With no settings, the local cluster `make cluster` runs is used: it leaves its kubeconfig in
`<cluster_dir>/kubeconfig` and its registry's host:port in `<cluster_dir>/registry` (cluster_dir:
`$RACETRACK_DATA_DIR/cluster`). Any other cluster is named by the target's settings: `kubeconfig`
(a file), `context`, and `registry` (host:port[/prefix] that both the Docker engine here pushes to
and the cluster pulls from).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import Unavailable

__all__ = ["Cluster", "api_client", "find_cluster", "host_address", "local_host_address"]


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str  # a file
    context: str | None
    registry: str  # host:port[/prefix], without a scheme
    local: bool  # the cluster of `make cluster`


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def find_cluster(options: Mapping[str, Any]) -> Cluster:
    """The cluster the settings name, else the local one; refused, saying how to get one, when neither."""
    cluster_dir = Path(str(options.get("cluster_dir") or "")).expanduser()
    kubeconfig = str(options.get("kubeconfig") or "")
    local = not kubeconfig
    if local:
        path = cluster_dir / "kubeconfig"
        if not path.is_file():
            raise Unavailable(
                "infrastructure_target kubernetes: no Kubernetes cluster is running here "
                f"(no {path}): start the local one with `make cluster`, or name yours with "
                "kubernetes_settings.kubeconfig and kubernetes_settings.registry"
            )
        kubeconfig = str(path)
    elif not Path(kubeconfig).expanduser().is_file():
        raise Unavailable(f"kubernetes_settings.kubeconfig: {kubeconfig} is not a file")
    registry = str(options.get("registry") or "") or _read(cluster_dir / "registry")
    if not registry:
        raise Unavailable(
            "infrastructure_target kubernetes: no container registry to push job images to: set "
            "kubernetes_settings.registry (host:port the cluster pulls from)"
            + (
                ""
                if not local
                else f", or restart the local cluster (`make cluster`) to write {cluster_dir}/registry"
            )
        )
    return Cluster(
        kubeconfig=str(Path(kubeconfig).expanduser()),
        context=str(options["context"]) if options.get("context") else None,
        registry=registry.removeprefix("http://").removeprefix("https://").rstrip("/"),
        local=local,
    )


def api_client(cluster: Cluster) -> Any:
    """A client of the cluster's API (kubernetes.client.ApiClient) from its kubeconfig."""
    from kubernetes import config

    return config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=cluster.kubeconfig, context=cluster.context
    )


def host_address(api: Any) -> str | None:
    """This host's address on the cluster's pod network (the bridge's gateway on the node), which pods
    reach the platform's processes on; None when the host holds no such address (not a local node)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    networks = [
        ipaddress.ip_network(cidr, strict=False)
        for node in core.list_node(_request_timeout=5).items
        for cidr in ([node.spec.pod_cidr] if node.spec and node.spec.pod_cidr else [])
    ]
    if not networks:  # a node without a pod CIDR: where its pods (CoreDNS at least) have addresses
        pods = core.list_pod_for_all_namespaces(_request_timeout=5).items
        ips = {pod.status.pod_ip for pod in pods if pod.status and pod.status.pod_ip}
        networks = [ipaddress.ip_network(f"{ip}/32") for ip in ips if ip]
    for address, prefix in _local_addresses():
        own = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        if not own.is_loopback and any(network.overlaps(own) for network in networks):
            return address
    return None


def _local_addresses() -> list[tuple[str, int]]:
    """This host's IPv4 addresses and prefix lengths (iproute2)."""
    done = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return []
    return [
        (str(info["local"]), int(info["prefixlen"]))
        for link in json.loads(done.stdout or "[]")
        for info in link.get("addr_info", [])
        if info.get("local")
    ]


def local_host_address(cluster_dir: str) -> str | None:
    """This host's address on the local cluster's pod network, None when no local cluster runs (the
    platform's processes then listen on their usual addresses only)."""
    try:
        return host_address(api_client(find_cluster({"cluster_dir": cluster_dir, "registry": "-"})))
    except Exception:  # noqa: BLE001 - no cluster, or one that does not answer: nothing more to listen on
        return None
