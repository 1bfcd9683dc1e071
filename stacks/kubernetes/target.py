"""A Kubernetes cluster as an infrastructure target (stacks/kubernetes/program.py declares the objects).

With no settings it is the local cluster of `make cluster` (stacks/kubernetes/cluster.py). Job images
are built with the local Docker engine and pushed to the cluster's registry by the stack itself, so
the revision's Pulumi state holds each image's digest; the jobs' namespace (restricted Pod Security
Standard) and the token their sidecars show the lifecycle are made here before the stack runs. Pub
on this host reaches each version through its Service's ClusterIP (kube-proxy routes the host's own
traffic too); pods reach the platform on this host's address on the pod network. Logs, the monitor's
view and its events come from the cluster's API.

With `render_dir` in the settings the program writes YAML instead and no cluster is needed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.errors import Unavailable
from stacks.kubernetes.cluster import Cluster, api_client, find_cluster, host_address
from stacks.spec import FamilySpec
from stacks.target import LogFollower, Replica, TargetConfig

__all__ = ["KubernetesTarget", "INTERNAL_TOKEN_SECRET"]

logger = logging.getLogger("racetrack.deployer")

INTERNAL_TOKEN_SECRET = "racetrack-internal-token"
# Labels of the jobs' namespace: the restricted Pod Security Standard, enforced.
POD_SECURITY = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
} | {"pod-security.kubernetes.io/enforce-version": "latest"}
_JOBS = "racetrack/resource=job"
# Settings the platform passes that shape nothing in the stack (kept out of the recorded spec).
_PLATFORM_ONLY = ("cluster_dir", "state_dir", "sidecar_binary", "internal_token", "lifecycle_port")


class KubernetesTarget:
    name = "kubernetes"
    aliases: tuple[str, ...] = ()  # upstream's Kubernetes plugin uses the same name

    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self._api: Any = None
        self._cluster: Cluster | None = None
        self._host: str | None = None
        self._guard = threading.Lock()

    @staticmethod
    def program(spec: FamilySpec) -> Callable[[], None]:
        from stacks.kubernetes.program import program

        return program(spec)

    # -- the cluster ---------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        from stacks.kubernetes.program import DEFAULTS

        return {**DEFAULTS, **self.config.options}

    def _rendering(self) -> bool:
        return bool(self.config.options.get("render_dir"))

    def _connect(self) -> tuple[Cluster, Any]:
        """The cluster and an API client, found once; refused, saying how to get a cluster, when none."""
        with self._guard:
            if self._api is None:
                cluster = find_cluster(self.config.options)
                api = api_client(cluster)
                self._host = host_address(api) if cluster.local else None
                self._cluster, self._api = cluster, api
            assert self._cluster is not None
            return self._cluster, self._api

    def _namespace(self) -> str:
        return str(self._settings()["namespace"])

    def _core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self._connect()[1])

    # -- the stack -----------------------------------------------------------------------------

    def stack_settings(self, *, build_log_path: str | None) -> dict[str, Any]:
        options = {k: v for k, v in self.config.options.items() if k not in _PLATFORM_ONLY}
        if self._rendering():
            return options
        cluster, api = self._connect()
        settings: dict[str, Any] = {
            **options,
            "kubeconfig": cluster.kubeconfig,
            "registry": cluster.registry,
            "build_log_path": build_log_path or "",
            "build_settings": self.config.build.as_inputs(),
        }
        if cluster.context:
            settings["context"] = cluster.context
        if not options.get("ingress_class"):
            found = _ingress_class(api)
            if found:
                settings["ingress_class"] = found
        if self._host and not options.get("lifecycle_url"):
            port = self.config.options.get("lifecycle_port", 7002)
            settings["lifecycle_url"] = f"http://{self._host}:{port}/lifecycle"
        settings["pub_url"] = self.job_pub_url()
        sidecar = self._sidecar_build()
        if sidecar and not options.get("pub_image"):
            settings["sidecar_image"] = sidecar
        return settings

    def _sidecar_build(self) -> dict[str, Any] | None:
        """The build of the sidecar's image from pub's gateway binary (static: the image holds nothing
        else), its context prepared once per binary under the state directory."""
        binary = self.config.options.get("sidecar_binary")
        state = self.config.options.get("state_dir")
        if not binary or not state or not Path(str(binary)).is_file():
            return None
        dockerfile = (
            "FROM scratch\nCOPY racetrack-pub /racetrack-pub\n"
            'USER 10000:10000\nENTRYPOINT ["/racetrack-pub"]\n'
        )
        digest = hashlib.sha256(Path(str(binary)).read_bytes() + dockerfile.encode()).hexdigest()
        context = Path(str(state)) / f"sidecar-{digest[:16]}"
        if not (context / "Dockerfile").is_file():
            context.mkdir(parents=True, exist_ok=True)
            shutil.copy2(str(binary), context / "racetrack-pub")
            (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        return {
            "tag": f"racetrack/pub-sidecar:{digest[:12]}",
            "context": str(context),
            "dockerfile": str(context / "Dockerfile"),
            "context_digest": digest,
            "port": int(self._settings()["sidecar_port"]),
        }

    def deliver_images(self, spec: FamilySpec) -> None:
        """The stack builds and pushes the images (their digests go into its state); what it needs in
        place first is the jobs' namespace and the token the sidecars show the lifecycle."""
        if self._rendering():
            return
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        core = self._core()
        namespace = self._namespace()
        body = client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=POD_SECURITY))
        try:
            core.create_namespace(body)
        except ApiException as exc:
            if exc.status != 409:
                raise _api_error("creating namespace " + namespace, exc) from exc
            core.patch_namespace(namespace, {"metadata": {"labels": POD_SECURITY}})
        token = self.config.options.get("internal_token")
        if not token:
            return  # a cluster whose platform keeps the secret itself (platform/ on Kubernetes)
        secret = client.V1Secret(
            metadata=client.V1ObjectMeta(name=INTERNAL_TOKEN_SECRET, namespace=namespace),
            data={"token": base64.b64encode(str(token).encode()).decode()},
        )
        try:
            core.create_namespaced_secret(namespace, secret)
        except ApiException as exc:
            if exc.status != 409:
                raise _api_error("creating the sidecars' token", exc) from exc
            core.replace_namespaced_secret(INTERNAL_TOKEN_SECRET, namespace, secret)

    def addresses(self, version_outputs: Mapping[str, Any]) -> list[str]:
        # The Service: kube-proxy spreads connections over the version's ready pods, each behind its sidecar.
        address = version_outputs.get("address")
        return [str(address)] if address else []

    def job_pub_url(self) -> str:
        if self.config.job_pub_url:
            return self.config.job_pub_url
        if self.config.options.get("pub_url"):
            return str(self.config.options["pub_url"])
        if not self._rendering():
            self._connect()
            if self._host:
                return f"http://{self._host}:{self.config.pub_port}/pub"
        return str(self._settings()["pub_url"])

    def public_url(self, name: str, version: str) -> str:
        return f"{self.config.pub_url.rstrip('/')}/job/{name}/{version}"

    # -- logs and the monitor ------------------------------------------------------------------

    def _pods(self, selector: str) -> list[Any]:
        pods = self._core().list_namespaced_pod(self._namespace(), label_selector=selector).items
        return sorted(pods, key=lambda pod: (pod.metadata.creation_timestamp, pod.metadata.name))

    def runtime_logs(self, name: str, version: str, tail: int) -> str:
        pods = self._pods(f"{_JOBS},racetrack/job-name={name},racetrack/job-version={version}")
        parts = []
        for index, pod in enumerate(pods):
            text = self._pod_log(pod, tail)
            if len(pods) > 1:
                text = f"==> replica {index} ({pod.metadata.name}) <==\n{text}"
            parts.append(text)
        return "\n".join(parts)

    def _pod_log(self, pod: Any, tail: int) -> str:
        from kubernetes.client.exceptions import ApiException

        try:
            text = self._core().read_namespaced_pod_log(
                pod.metadata.name, self._namespace(), container="job", tail_lines=tail or None
            )
        except ApiException as exc:  # a pod still starting has no log yet
            return f"(no log: {exc.reason})"
        return str(text)

    def follow_logs(self, name: str, version: str, tail: int) -> LogFollower | None:
        from stacks.logs import MergedLogFollower

        pods = self._pods(f"{_JOBS},racetrack/job-name={name},racetrack/job-version={version}")
        running = [pod for pod in pods if pod.status.phase == "Running"]
        if not running:
            return None
        streams = [
            (
                str(index),
                self._core().read_namespaced_pod_log(
                    pod.metadata.name,
                    self._namespace(),
                    container="job",
                    follow=True,
                    tail_lines=tail or None,
                    _preload_content=False,
                ),
            )
            for index, pod in enumerate(running)
        ]
        return MergedLogFollower(streams)

    def replicas(self) -> dict[tuple[str, str], list[Replica]] | None:
        if self._rendering():
            return None
        found: dict[tuple[str, str], list[Replica]] = {}
        for pod in self._pods(_JOBS):
            if pod.metadata.deletion_timestamp:
                continue  # on its way out (a rollout, a deletion): its replacement is what counts
            labels = pod.metadata.labels or {}
            key = (labels.get("racetrack/job-name", ""), labels.get("racetrack/job-version", ""))
            state, detail = _pod_state(pod)
            copies = found.setdefault(key, [])
            copies.append(Replica(pod.metadata.name, state, detail, len(copies)))
        return found

    def watch(self, changed: Callable[[], None], stop: threading.Event) -> None:
        """Follows the jobs' pods through the API: a pod that starts, stops, turns ready or goes away
        triggers a monitor round at once. A lost connection (the API server restarting) is retried."""
        if self._rendering():
            return
        from kubernetes import watch

        while not stop.is_set():
            try:
                core = self._core()
                changed()
                stream = watch.Watch()  # type: ignore[no-untyped-call]
                for _ in stream.stream(  # type: ignore[no-untyped-call]
                    core.list_namespaced_pod, self._namespace(), label_selector=_JOBS, timeout_seconds=60
                ):
                    changed()
                    if stop.is_set():
                        stream.stop()  # type: ignore[no-untyped-call]
                        return
            except Unavailable:
                pass  # no cluster yet: `make cluster` may start it later
            except Exception as exc:  # noqa: BLE001 - the API server is away (restarting); try again
                logger.debug("following job pods: %s", exc)
            stop.wait(1.0)


def _pod_state(pod: Any) -> tuple[str, str]:
    """("running", "") for a pod serving with every container ready, else its phase and why."""
    statuses = pod.status.container_statuses or []
    waiting = [s for s in statuses if s.state and s.state.waiting]
    if waiting:
        first = waiting[0].state.waiting
        return "waiting", f"{waiting[0].name}: {first.reason or ''} {first.message or ''}".strip()
    if pod.status.phase == "Running" and statuses and all(s.ready for s in statuses):
        return "running", ""
    unready = [s.name for s in statuses if not s.ready]
    phase = str(pod.status.phase or "Unknown").lower()
    return (phase if phase != "running" else "starting"), (
        f"not ready: {', '.join(unready)}" if unready else ""
    )


def _ingress_class(api: Any) -> str | None:
    """The cluster's default IngressClass, or its only one."""
    from kubernetes import client

    classes = client.NetworkingV1Api(api).list_ingress_class().items
    default = [
        c
        for c in classes
        if c.metadata
        and (c.metadata.annotations or {}).get("ingressclass.kubernetes.io/is-default-class") == "true"
    ]
    chosen = default or (classes if len(classes) == 1 else [])
    return str(chosen[0].metadata.name) if chosen and chosen[0].metadata else None


def _api_error(doing: str, exc: Any) -> Unavailable:
    return Unavailable(f"Kubernetes API: {doing} failed: {exc.status} {exc.reason}: {str(exc.body)[:300]}")
