"""The local cluster (`make cluster`) does what a real one does: images pushed to its registry are
pulled by pods, names resolve through cluster DNS, Ingress objects route through the ingress controller,
claims get volumes, and NetworkPolicies are enforced. Each test works in its own namespace."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.kubernetes]  # images are built and pushed with Docker

CLUSTER = Path(os.environ.get("RACETRACK_DATA_DIR", Path.home() / ".local/share/racetrack")) / "cluster"
KUBECTL = CLUSTER / "bin" / "kubectl"


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), f"--kubeconfig={CLUSTER / 'kubeconfig'}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


@pytest.fixture(scope="module")
def registry() -> str:
    if not (KUBECTL.exists() and (CLUSTER / "registry").exists()):
        pytest.skip(f"the local cluster is not running (no {CLUSTER}/registry); start it with `make cluster`")
    if kubectl("get", "--raw", "/readyz", check=False).returncode != 0:
        pytest.skip("the local cluster's API server does not answer; start it with `make cluster`")
    return (CLUSTER / "registry").read_text().strip()


@pytest.fixture(scope="module")
def busybox(registry: str) -> str:
    """The cluster's own busybox image, the base every test image here starts from."""
    tags = json.loads(urllib.request.urlopen(f"http://{registry}/v2/cluster/busybox/tags/list").read())[
        "tags"
    ]
    return f"{registry}/cluster/busybox:{tags[0]}"


@pytest.fixture
def namespace(registry: str) -> Iterator[str]:
    name = f"racetrack-cluster-test-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


def apply(namespace: str, manifest: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", stdin=manifest)


def web_server(namespace: str, image: str, name: str = "web", labels: str = "") -> str:
    """A Deployment answering its pod's name over HTTP (at / and /NAMESPACE/) on port 8080, and its
    Service on port 80. Returns the pod's name."""
    serve = f"mkdir -p /www/{namespace} && hostname | tee /www/index.html > /www/{namespace}/index.html"
    serve += " && exec httpd -f -p 8080 -h /www"
    apply(
        namespace,
        f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}{labels}}}}}
    spec:
      containers:
      - name: web
        image: {image}
        command: [sh, -c, "{serve}"]
        readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
""",
    )
    kubectl("-n", namespace, "rollout", "status", f"deploy/{name}", "--timeout=180s")
    return kubectl(
        "-n", namespace, "get", "pods", "-l", f"app={name}", "-o", "jsonpath={.items[0].metadata.name}"
    ).stdout


def run_to_end(
    namespace: str, image: str, script: str, name: str = "client", extra: str = "", labels: str = "{}"
) -> tuple[str, str]:
    """Runs `script` in a pod to its end; returns the pod's phase and its output."""
    apply(
        namespace,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {labels}}}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: {image}
    command: [sh, -c, {json.dumps(script)}]
{extra}""",
    )
    kubectl(
        "-n", namespace, "wait", f"pod/{name}", "--timeout=180s",
        "--for=jsonpath={.status.phase}=Succeeded", check=False,
    )  # fmt: skip
    phase = kubectl("-n", namespace, "get", f"pod/{name}", "-o", "jsonpath={.status.phase}").stdout
    return phase, kubectl("-n", namespace, "logs", f"pod/{name}").stdout


def test_an_image_pushed_to_the_registry_is_pulled_by_a_pod(
    registry: str, busybox: str, namespace: str
) -> None:
    ref = f"{registry}/racetrack-cluster-test/hello:{namespace}"
    context = Path(f"/tmp/{namespace}")
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {busybox}\nRUN echo pulled from the registry > /hello\n")
    try:
        subprocess.run(["docker", "build", "-q", "-t", ref, str(context)], check=True, capture_output=True)
        subprocess.run(["docker", "push", "-q", ref], check=True, capture_output=True)
    finally:
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True)
        (context / "Dockerfile").unlink()
        context.rmdir()
    phase, output = run_to_end(namespace, ref, "cat /hello")
    assert (phase, output) == ("Succeeded", "pulled from the registry\n")
    events = kubectl("-n", namespace, "get", "events", "--field-selector=involvedObject.name=client").stdout
    assert f'Successfully pulled image "{ref}"' in events


def test_a_service_name_resolves_and_answers_inside_the_cluster(busybox: str, namespace: str) -> None:
    pod = web_server(namespace, busybox)
    # kube-proxy programs a Service a moment after its pod is Ready, so the client retries briefly.
    url = f"http://web.{namespace}.svc.cluster.local"
    script = f"for i in $(seq 30); do wget -qO- {url} && exit 0; sleep 1; done; exit 1"
    assert run_to_end(namespace, busybox, script) == ("Succeeded", pod + "\n")


def test_an_ingress_routes_from_the_host_to_the_pod(busybox: str, namespace: str) -> None:
    pod = web_server(namespace, busybox)
    path = f"/{namespace}"
    apply(
        namespace,
        f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web}}
spec:
  rules:
  - http:
      paths:
      - {{path: {path}, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
""",
    )
    ingress = (CLUSTER / "ingress").read_text().strip()
    # Traefik routes the path once it has seen the Ingress and the Service's endpoints.
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://{ingress}{path}/", timeout=5) as answer:
                assert answer.read().decode() == pod + "\n"
                return
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.5)


def test_a_claim_gets_a_volume_from_the_default_storage_class(busybox: str, namespace: str) -> None:
    apply(
        namespace,
        """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Mi}}
""",
    )
    volume = "  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n"
    mount = "    volumeMounts: [{name: data, mountPath: /data}]\n"
    assert (
        run_to_end(namespace, busybox, "echo kept > /data/file", "writer", mount + volume)[0] == "Succeeded"
    )
    assert run_to_end(namespace, busybox, "cat /data/file", "reader", mount + volume) == (
        "Succeeded",
        "kept\n",
    )
    claim = json.loads(kubectl("-n", namespace, "get", "pvc/data", "-o", "json").stdout)
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["storageClassName"] == "local-path"


def test_a_network_policy_keeps_out_the_pods_it_does_not_admit(busybox: str, namespace: str) -> None:
    web_server(namespace, busybox, labels=", role: server")
    apply(
        namespace,
        """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-friends}
spec:
  podSelector: {matchLabels: {role: server}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {friend: "yes"}}}]}]
""",
    )
    ip = kubectl("-n", namespace, "get", "svc/web", "-o", "jsonpath={.spec.clusterIP}").stdout
    # The admitted pod proves the server answers (kube-proxy may take a moment after Ready, hence the
    # retries); the other pod's calls then fail because of the policy alone.
    admitted = f"for i in $(seq 30); do timeout 5 wget -qO- http://{ip} && exit 0; sleep 1; done; exit 1"
    assert run_to_end(namespace, busybox, admitted, "friend", labels="{friend: 'yes'}")[0] == "Succeeded"
    refused = f"for i in 1 2 3; do timeout 5 wget -qO- http://{ip} && exit 0; done; exit 1"
    assert run_to_end(namespace, busybox, refused, "stranger")[0] == "Failed"
