"""The sample adder on the local Kubernetes cluster (`make cluster`), through the real platform: the
lifecycle with its deploy engine (Pulumi, the pulumi-kubernetes provider, images pushed to the
cluster's registry), and pub on this host calling the job's Service, behind which each pod's auth
sidecar checks every call with the lifecycle.

The manifest says `infrastructure_target: kubernetes` and the platform has no Kubernetes setting: it
finds the local cluster by itself. Without a running cluster these tests fail, saying to start one.
"""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from jobtypes.source import pack_directory
from tests.deployer.kubernetes_platform import (
    CLUSTER,
    NAMESPACE,
    cluster_problem,
    kubectl,
    start_lifecycle,
    start_pub,
)
from tests.deployer.lifecycle_process import LifecycleProcess
from tests.deployer.test_revision_commands import _cli
from tests.pub.servers import PubProcess

pytestmark = [pytest.mark.engine, pytest.mark.kubernetes]

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample" / "python-class"

# The adder, saying in its log which pod answered (replicas are told apart by their logs).
CODE = """import socket
from typing import Any


class AdderModel:
    def perform(self, numbers: list[float]) -> float:
        print(f"answered by {socket.gethostname()}", flush=True)
        return sum(numbers) + OFFSET

    def docs_input_example(self) -> dict[str, Any]:
        return {"numbers": [40, 2]}


OFFSET = 0
"""


@pytest.fixture(scope="module")
def cluster() -> Path:
    """The local cluster, running: a test of the Kubernetes target must not pass without one."""
    problem = cluster_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    return CLUSTER


@pytest.fixture(scope="module")
def lifecycle(cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LifecycleProcess]:
    server = start_lifecycle(tmp_path_factory.mktemp("k8s") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pub(lifecycle: LifecycleProcess) -> Iterator[PubProcess]:
    server = start_pub(lifecycle)
    yield server
    server.stop()


def _remove(family: str) -> None:
    kubectl(
        "-n",
        NAMESPACE,
        "delete",
        "deployment,service,secret,networkpolicy,ingress",
        "-l",
        f"racetrack/job-name={family}",
        "--wait=false",
        check=False,
    )


@pytest.fixture
def family() -> Iterator[str]:
    name = f"k8s-adder-{uuid.uuid4().hex[:6]}"
    yield name
    _remove(name)


def _manifest(family: str, **fields: Any) -> dict[str, Any]:
    manifest = yaml.safe_load((SAMPLE / "job.yaml").read_text())
    manifest.update(name=family, infrastructure_target="kubernetes", **fields)
    return manifest


def _job_folder(folder: Path, offset: int) -> Path:
    if not folder.exists():
        shutil.copytree(SAMPLE, folder)
    (folder / "adder.py").write_text(CODE.replace("OFFSET = 0", f"OFFSET = {offset}"))
    return folder


def _deploy(lifecycle: LifecycleProcess, folder: Path, manifest: dict[str, Any], **extra: Any) -> dict:
    started = lifecycle.request(
        "POST",
        "/deploy",
        json={"manifest": manifest, "build_context": pack_directory(folder), "force": True, **extra},
    )
    assert started.status_code == 202, started.text
    done = lifecycle.wait_deployment(started.json()["id"])
    assert done["status"] == "done", done["error"]
    return done


def _operation(lifecycle: LifecycleProcess, response: httpx.Response) -> dict:
    assert response.status_code == 202, response.text
    done = lifecycle.wait_deployment(response.json()["id"])
    assert done["status"] == "done", done["error"]
    return done


def _deployment(family: str) -> dict:
    return json.loads(
        kubectl("-n", NAMESPACE, "get", "deployment", f"job-{family}-v-1-0-0", "-o", "json").stdout
    )


def _pods(family: str) -> list[dict]:
    listed = kubectl("-n", NAMESPACE, "get", "pods", "-l", f"racetrack/job-name={family}", "-o", "json")
    return [p for p in json.loads(listed.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]


def _call(
    pub: PubProcess, lifecycle: LifecycleProcess, family: str, client: httpx.Client | None = None
) -> Any:
    url = f"{pub.url}/pub/job/{family}/1.0.0/api/v1/perform"
    post = (client or httpx).post
    answer = post(
        url, json={"numbers": [40, 2]}, headers={"X-Racetrack-Auth": lifecycle.token or ""}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


PROBE = """import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=5)
    print("answered 200")
except urllib.error.HTTPError as e:
    print(f"answered {e.code}")
except Exception as e:
    print(f"no answer: {type(e).__name__}")
"""


def _probe_from(pod: str, url: str) -> str:
    """What a call to `url` from the job container of `pod` gets."""
    done = kubectl("-n", NAMESPACE, "exec", pod, "-c", "job", "--", "python3", "-c", PROBE, url)
    return done.stdout.strip()


def _wait_status(lifecycle: LifecycleProcess, family: str, wanted: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    job = lifecycle.request("GET", f"/job/{family}/1.0.0").json()
    while job["status"] != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        job = lifecycle.request("GET", f"/job/{family}/1.0.0").json()
    return job


def test_adder_serves_through_pub_from_locked_down_pods_with_its_secret(
    lifecycle: LifecycleProcess, pub: PubProcess, family: str, tmp_path: Path
) -> None:
    folder = _job_folder(tmp_path / "job", 0)
    _deploy(
        lifecycle,
        folder,
        _manifest(family, replicas=2),
        secret_vars={"runtime_env": {"SECRET_WORD": "swordfish"}},
    )
    assert _call(pub, lifecycle, family) == 42
    # The cluster's ingress controller routes the job's path to its sidecars too.
    ingress = (CLUSTER / "ingress").read_text().strip()
    deadline = time.monotonic() + 60  # the controller picks a new Ingress up within seconds
    while True:
        routed = httpx.post(
            f"http://{ingress}/pub/job/{family}/1.0.0/api/v1/perform",
            json={"numbers": [40, 2]},
            headers={"X-Racetrack-Auth": lifecycle.token or ""},
            timeout=60,
        )
        if routed.status_code != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (routed.status_code, routed.json()) == (200, 42), routed.text

    deployment = _deployment(family)
    pod_spec = deployment["spec"]["template"]["spec"]
    images = {c["name"]: c["image"] for c in pod_spec["containers"]}
    registry = (CLUSTER / "registry").read_text().strip()
    assert images["job"].startswith(f"{registry}/racetrack/job-entrypoint/{family}@sha256:")
    assert images["auth"].startswith(f"{registry}/racetrack/pub-sidecar@sha256:")
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod_spec["containers"]:
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["resources"]["limits"]["memory"]
    assert next(c for c in pod_spec["containers"] if c["name"] == "auth")["securityContext"][
        "readOnlyRootFilesystem"
    ]
    labels = json.loads(kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    # The secret reaches the job as an environment variable, from a Secret, not from the Deployment.
    job_env = next(c for c in pod_spec["containers"] if c["name"] == "job")["env"]
    secret_ref = next(e for e in job_env if e["name"] == "SECRET_WORD")
    assert "value" not in secret_ref and secret_ref["valueFrom"]["secretKeyRef"]["key"] == "SECRET_WORD"
    pod = _pods(family)[0]["metadata"]["name"]
    seen = kubectl(
        "-n",
        NAMESPACE,
        "exec",
        pod,
        "-c",
        "job",
        "--",
        "python3",
        "-c",
        "import os; print(os.environ['SECRET_WORD'])",
    )
    assert seen.stdout.strip() == "swordfish"

    # Replicas share the calls (the Service spreads connections), and each one's log is read.
    with httpx.Client(limits=httpx.Limits(max_connections=16)) as client:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda _: _call(pub, lifecycle, family, client), range(64)))
    assert answers == [42] * 64
    logs = lifecycle.request("GET", f"/job/{family}/1.0.0/logs", params={"tail": 0}).json()["logs"]
    pods = [p["metadata"]["name"] for p in _pods(family)]
    assert len(pods) == 2
    for name in pods:
        section = logs.split(f"({name}) <==", 1)
        assert len(section) == 2, logs
        assert f"answered by {name}" in section[1].split("==> replica", 1)[0], logs

    # Straight to a pod's job port, from another pod: NetworkPolicy refuses it; its sidecar answers.
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in _pods(family)}
    caller, other = list(ips)
    direct = _probe_from(caller, f"http://{ips[other]}:7000/api/v1/perform")
    assert direct.startswith("no answer"), direct
    sidecar = _probe_from(caller, f"http://{ips[other]}:7005/pub/job/{family}/1.0.0/api/v1/perform")
    assert sidecar == "answered 401", sidecar  # it asks for credentials


def test_preview_redeploy_rollback_pulls_the_earlier_digest(
    lifecycle: LifecycleProcess, pub: PubProcess, family: str, tmp_path: Path
) -> None:
    folder = _job_folder(tmp_path / "job", 0)
    (folder / "job.yaml").write_text(yaml.safe_dump(_manifest(family)))  # what the CLI reads
    _deploy(lifecycle, folder, _manifest(family))
    first = next(
        c["image"]
        for c in _deployment(family)["spec"]["template"]["spec"]["containers"]
        if c["name"] == "job"
    )
    assert _cli(tmp_path, lifecycle, "login", lifecycle.token or "").returncode == 0

    _job_folder(folder, 100)
    preview = _cli(tmp_path, lifecycle, "preview", str(folder), "--build-context", "local")
    assert preview.returncode == 0, preview.stderr
    assert "Resources:" in preview.stdout

    _deploy(lifecycle, folder, _manifest(family))
    assert _call(pub, lifecycle, family) == 142
    second = next(
        c["image"]
        for c in _deployment(family)["spec"]["template"]["spec"]["containers"]
        if c["name"] == "job"
    )
    assert second != first and "@sha256:" in second

    rolled = _cli(tmp_path, lifecycle, "rollback", family, "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert _call(pub, lifecycle, family) == 42
    spec = _deployment(family)["spec"]["template"]["spec"]
    assert next(c["image"] for c in spec["containers"] if c["name"] == "job") == first
    digest = first.split("@", 1)[1]
    pulled = [
        s["imageID"] for p in _pods(family) for s in p["status"]["containerStatuses"] if s["name"] == "job"
    ]
    assert pulled and all(image_id.endswith(digest) for image_id in pulled), pulled


def test_drift_made_with_kubectl_is_reported_and_reconciled_and_a_killed_pod_is_noticed(
    lifecycle: LifecycleProcess, pub: PubProcess, family: str, tmp_path: Path
) -> None:
    _deploy(lifecycle, _job_folder(tmp_path / "job", 0), _manifest(family))
    assert _cli(tmp_path, lifecycle, "login", lifecycle.token or "").returncode == 0
    deployment = f"job-{family}-v-1-0-0"

    # A pod killed by hand: the monitor, following pod events, marks the job until its replacement runs.
    killed = _pods(family)[0]["metadata"]["name"]
    kubectl("-n", NAMESPACE, "delete", "pod", killed, "--wait=false")
    job = _wait_status(lifecycle, family, "error")
    assert job["status"] == "error" and "1 of 1 replicas do not run" in job["error"], job
    assert _wait_status(lifecycle, family, "running")["status"] == "running"
    assert killed not in [p["metadata"]["name"] for p in _pods(family)]

    kubectl("-n", NAMESPACE, "scale", "deployment", deployment, "--replicas=3")
    drifted = _cli(tmp_path, lifecycle, "refresh", family)
    assert drifted.returncode == 0, drifted.stderr
    assert f'Job "{family}" has drifted from its last applied revision:' in drifted.stdout

    kubectl("-n", NAMESPACE, "delete", "deployment", deployment)
    drifted = _cli(tmp_path, lifecycle, "refresh", family)
    assert f'Job "{family}" has drifted from its last applied revision:' in drifted.stdout
    reconciled = _cli(tmp_path, lifecycle, "reconcile", family)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert _deployment(family)["spec"]["replicas"] == 1
    assert _call(pub, lifecycle, family) == 42
    clean = _cli(tmp_path, lifecycle, "refresh", family)
    assert f'No drift: job "{family}" runs as its last applied revision describes.' in clean.stdout

    deleted = _cli(tmp_path, lifecycle, "delete", family, "--version", "1.0.0", "--yes")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    gone = kubectl("-n", NAMESPACE, "get", "deployment", deployment, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_upstream_client_and_ours_deploy_to_kubernetes(
    lifecycle: LifecycleProcess, pub: PubProcess, family: str, tmp_path: Path
) -> None:
    from tests.client.upstream import upstream_client

    folder = _job_folder(tmp_path / "job", 0)
    (folder / "job.yaml").write_text(yaml.safe_dump(_manifest(family)))
    home = tmp_path / "upstream-home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    upstream = str(upstream_client())
    login = subprocess.run(
        [upstream, "login", lifecycle.token or "", "--remote", lifecycle.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert login.returncode == 0, login.stdout + login.stderr
    deployed = subprocess.run(
        [upstream, "deploy", str(folder), "--remote", lifecycle.url, "--build-context", "local"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert _call(pub, lifecycle, family) == 42
    assert _pods(family), "the job runs on the cluster"

    _job_folder(folder, 1)
    assert _cli(tmp_path, lifecycle, "login", lifecycle.token or "").returncode == 0
    ours = _cli(tmp_path, lifecycle, "deploy", str(folder), "--build-context", "local", "--force")
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert f'Job "{family}" v1.0.0 is deployed.' in ours.stdout
    assert _call(pub, lifecycle, family) == 43
