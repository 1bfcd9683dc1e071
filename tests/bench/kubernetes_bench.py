"""The adder on the local Kubernetes cluster and on Docker, side by side in one run of one platform
(`python -m tests.bench --only kubernetes`; needs `make cluster`).

Per target: first deploy, redeploy after a code change and rollback (each from the request until the
operation is done, and until the new answer comes back through pub), then wrk at concurrency 16 calling
the job through pub (on Kubernetes: pub -> Service -> the pod's auth sidecar -> the job) and straight to
the job (the container's address; on Kubernetes the pod's job port, which a NetworkPolicy the bench adds
opens for the measurement). Targets: code-change redeploy < 20 s, rollback < 10 s, pub (+ sidecar) adding
< 2 ms to the median at concurrency 16.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import httpx

from jobtypes.source import pack_directory
from tests.bench.deploy_bench import _job
from tests.bench.deploy_bench import _timed as timed_operation
from tests.bench.pub_bench import BODY, _wrk
from tests.deployer.kubernetes_platform import NAMESPACE, cluster_problem, kubectl, start_lifecycle, start_pub
from tests.deployer.lifecycle_process import LifecycleProcess

PERFORM = "/api/v1/perform"


def _until_answer(url: str, token: str, expected: float, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            answer = httpx.post(
                url, json={"numbers": [40, 2]}, headers={"X-Racetrack-Auth": token}, timeout=10
            )
            if answer.status_code == 200 and answer.json() == expected:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer {expected}")


def _timed(
    lifecycle: LifecycleProcess, pub_url: str, method: str, path: str, body: dict[str, Any], expected: float
) -> tuple[float, float]:
    """Seconds until the operation is done, and until pub returns the new answer."""
    started = time.monotonic()
    done = timed_operation(lifecycle, method, path, body)
    _until_answer(pub_url, lifecycle.token or "", expected, time.monotonic() + 120)
    return done, time.monotonic() - started


def _direct_address(target: str, family: str, root: Path) -> str:
    if target == "kubernetes":
        # The job's NetworkPolicy admits the sidecar's port only; policies add up, so this one opens the
        # job's port of this family's pods for the measurement.
        policy = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"{family}-bench-direct", "namespace": NAMESPACE},
            "spec": {
                "podSelector": {"matchLabels": {"racetrack/job-name": family}},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": 7000}]}],
            },
        }
        (root / "policy.json").write_text(json.dumps(policy))
        kubectl("apply", "-f", str(root / "policy.json"))
        pods = json.loads(
            kubectl("-n", NAMESPACE, "get", "pods", "-l", f"racetrack/job-name={family}", "-o", "json").stdout
        )["items"]
        return f"{pods[0]['status']['podIP']}:7000"
    container = docker.from_env().containers.list(
        filters={"label": [f"racetrack/job-name={family}", "racetrack/role=job"]}
    )[0]
    ip = next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    return f"{ip}:7000"


def run(duration: float = 5.0, rounds: int = 3, concurrency: int = 16) -> dict[str, Any]:
    problem = cluster_problem()
    if problem:
        raise SystemExit(problem)
    root = Path(tempfile.mkdtemp(prefix="racetrack-k8s-bench-"))
    lifecycle = start_lifecycle(root / "data")
    pub = start_pub(lifecycle)
    token = lifecycle.token or ""
    script = root / "perform.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(BODY)}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-Racetrack-Auth"] = "{token}"\n'
    )
    load = f"{os.getloadavg()[0]:.1f}"
    figures: dict[str, dict[str, Any]] = {}
    families: dict[str, str] = {}
    try:
        for target in ("docker", "kubernetes"):
            family = families[target] = f"bench-{target[:3]}-{uuid.uuid4().hex[:5]}"
            url = f"{pub.url}/pub/job/{family}/1.0.0{PERFORM}"
            row: dict[str, Any] = {}
            folder, manifest = _job(root / target, family, 0)
            manifest["infrastructure_target"] = target
            body = {"manifest": manifest, "build_context": pack_directory(folder), "force": True}
            row["first deploy"] = _timed(lifecycle, url, "POST", "/deploy", body, 42)
            folder, _ = _job(root / target, family, 1)
            body = {"manifest": manifest, "build_context": pack_directory(folder), "force": True}
            row["redeploy, code change"] = _timed(lifecycle, url, "POST", "/deploy", body, 43)
            revisions = lifecycle.request("GET", f"/job_family/{family}/revisions").json()
            previous = next(r["number"] for r in revisions[1:] if r["status"] == "applied")
            rollback = {"to_revision": previous}
            row["rollback"] = _timed(lifecycle, url, "POST", f"/job_family/{family}/rollback", rollback, 42)
            direct = f"http://{_direct_address(target, family, root)}{PERFORM}"
            calls: dict[str, list[tuple[float, float, float, int, int]]] = {"pub": [], "direct": []}
            for _ in range(rounds):
                for how, address in (("pub", url), ("direct", direct)):
                    _wrk(address, concurrency, 1, script)
                    calls[how].append(_wrk(address, concurrency, duration, script))
            for how, results in calls.items():
                ordered = sorted(results, key=lambda r: r[1])
                row[how] = ordered[len(ordered) // 2]
            figures[target] = row
    finally:
        for target, family in families.items():
            lifecycle.request("DELETE", f"/job/{family}/1.0.0")
            if target == "kubernetes":
                kubectl("-n", NAMESPACE, "delete", "networkpolicy", f"{family}-bench-direct", check=False)
        pub.stop()
        lifecycle.stop()
        shutil.rmtree(root, ignore_errors=True)
    _report(figures, duration, rounds, concurrency, load)
    return figures


def _report(
    figures: dict[str, dict[str, Any]], duration: float, rounds: int, concurrency: int, load: str
) -> None:
    from tests.bench.jobtypes_bench import write_section

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"Measured {when} on {platform.machine()} with {os.cpu_count()} CPUs shared with other work",
        f"(load average {load} at the start), by `python -m tests.bench --only kubernetes`: one platform",
        "(lifecycle, pub) on the host, the adder sample (python3 job type) deployed to each target in turn.",
        "Each operation is timed from the request until it is done, and until the new answer comes back",
        "through pub (seconds).",
        "",
        "| operation | Docker: done | Docker: answers | Kubernetes: done | Kubernetes: answers | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    goals = {"first deploy": "-", "redeploy, code change": "< 20", "rollback": "< 10"}
    for operation, goal in goals.items():
        d, k = figures["docker"][operation], figures["kubernetes"][operation]
        lines.append(f"| {operation} | {d[0]:.1f} | {d[1]:.1f} | {k[0]:.1f} | {k[1]:.1f} | {goal} |")
    lines += [
        "",
        f"Calls at concurrency {concurrency} (`wrk -t1 -c{concurrency}`, {duration:g} s per round, the",
        f"round with the median latency of {rounds} interleaved rounds). Through pub on Kubernetes a call",
        "goes pub -> the Service (kube-proxy) -> the pod's auth sidecar -> the job; straight means the",
        "job's port at the container's or pod's address, from the host.",
        "",
        "| target | through pub: median ms | req/s | straight: median ms | req/s | pub adds (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target in ("docker", "kubernetes"):
        pub, direct = figures[target]["pub"], figures[target]["direct"]
        lines.append(
            f"| {target} | {pub[1]:.2f} | {pub[0]:.0f} | {direct[1]:.2f} | {direct[0]:.0f} "
            f"| {pub[1] - direct[1]:.2f} ms |"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    write_section(text, title="Kubernetes and Docker side by side")


if __name__ == "__main__":
    run()
