"""Pub in front of a job in its container, as users run it: the container's port published on the host
(through Docker's userland proxy, as jobs ran before each family had a network of its own) against the
container's address on its bridge (as jobs run now, no port published).

`python -m tests.bench --only network` builds the adder sample's image (python3 job type) and runs one
container each way; the tests' fake lifecycle and pub (`python -m api.pub`) run on 127.0.0.1, and wrk
calls the job directly and through pub at concurrency 16, in interleaved rounds (median reported).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import docker
import httpx

from tests.bench.lifecycle_stub import TOKEN
from tests.bench.pub_bench import BODY, _ensure_tools, _wrk, start_pub

ROOT = Path(__file__).resolve().parents[2]
PERFORM = "/pub/job/adder/0.0.1/api/v1/perform"


def _build(folder: Path) -> tuple[str, dict[str, str]]:
    import jobtypes
    from tests.jobtypes.jobs import build_job, job_settings, load_manifest

    manifest = {**load_manifest(ROOT / "sample" / "python-class"), "version": "0.0.1"}
    built = build_job(
        ROOT / "sample" / "python-class", job_settings(folder / "data"), folder / "ws", manifest=manifest
    )
    env = jobtypes.job_runtime_env(
        manifest, pub_url="http://127.0.0.1:9/pub", auth_token="t", job_type_env=built.plan.runtime_env
    )
    return built.plan.images[0].image, env


def _address(container, network: str | None) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        container.reload()
        if network:
            ip = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
            if ip:
                return f"{ip}:7000"
        else:
            bindings = (container.ports or {}).get("7000/tcp")
            if bindings:
                return f"127.0.0.1:{bindings[0]['HostPort']}"
        time.sleep(0.1)
    raise RuntimeError("the job container got no address")


def run(duration: float = 5.0, rounds: int = 3, concurrency: int = 16) -> dict[str, float]:
    _ensure_tools()
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    client = docker.from_env()
    name = f"rt-netbench-{uuid.uuid4().hex[:6]}"
    folder = Path(tempfile.mkdtemp(prefix="network-bench-"))
    procs: list[subprocess.Popen] = []
    containers = []
    network = client.networks.create(name, driver="bridge")
    try:
        image, env = _build(folder)
        published = client.containers.run(
            image,
            name=f"{name}-published",
            environment=env,
            ports={"7000/tcp": ("127.0.0.1", None)},
            detach=True,
        )
        containers.append(published)
        bridged = client.containers.run(
            image, name=f"{name}-bridged", environment=env, network=name, detach=True
        )
        containers.append(bridged)
        addresses = {"published port": _address(published, None), "bridge address": _address(bridged, name)}
        targets = {}
        for how, address in addresses.items():
            targets[f"direct, {how}"] = address
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            targets[f"pub, {how}"] = f"127.0.0.1:{start_pub(folder, address, procs, env)[1]}"
        script = folder / "perform.lua"
        script.write_text(
            f"wrk.method = \"POST\"\nwrk.body = '{BODY}'\n"
            f'wrk.headers["Content-Type"] = "application/json"\nwrk.headers["X-Racetrack-Auth"] = "{TOKEN}"\n'
        )
        for target, address in targets.items():
            answer = httpx.post(
                f"http://{address}{PERFORM}", content=BODY, trust_env=False,
                headers={"X-Racetrack-Auth": TOKEN, "Content-Type": "application/json"}, timeout=30,
            )  # fmt: skip
            if answer.status_code != 200:
                raise RuntimeError(f"{target} does not answer: {answer.status_code} {answer.text}")
        measured: dict[str, list[float]] = {target: [] for target in targets}
        for _ in range(rounds):
            for target, address in targets.items():
                _wrk(f"http://{address}{PERFORM}", concurrency, 1, script)
                measured[target].append(_wrk(f"http://{address}{PERFORM}", concurrency, duration, script)[0])
        rps = {target: sorted(values)[len(values) // 2] for target, values in measured.items()}
        _report(rps, duration, rounds, concurrency, load)
        return rps
    finally:
        for proc in reversed(procs):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        for container in containers:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        network.remove()
        shutil.rmtree(folder, ignore_errors=True)


def _report(rps: dict[str, float], duration: float, rounds: int, concurrency: int, load: str) -> None:
    from tests.bench.jobtypes_bench import write_section

    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"Measured {when} on {platform.machine()} with {os.cpu_count()} CPUs shared with other work (load",
        f"average {load} at the start; figures vary by run), by `python -m tests.bench --only network`.",
        "The adder sample's image (python3 job type) in two containers: one with its port published on",
        "127.0.0.1 (Docker's userland proxy copies every call, as jobs ran on one shared network), one",
        "reached at its address on its own bridge (as jobs run now, one network per family, nothing",
        "published). Pub (`python -m api.pub`, fake lifecycle, token cached) runs on the host in front of",
        f"each. `wrk -t1 -c{concurrency}`, {duration:g} s per round, median of {rounds} interleaved rounds.",
        "",
        "| job reached at | direct req/s | through pub req/s | pub's share of direct at the same address "
        "| pub's share of the job at its bridge address |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    capacity = rps["direct, bridge address"]
    for how in ("published port", "bridge address"):
        direct, pub = rps[f"direct, {how}"], rps[f"pub, {how}"]
        lines.append(
            f"| {how} | {direct:.0f} | {pub:.0f} | {100 * pub / direct:.0f}% | {100 * pub / capacity:.0f}% |"
        )
    before, after = rps["pub, published port"], rps["pub, bridge address"]
    lines += [
        "",
        f"Through pub, the bridge address serves {100 * after / before:.0f}% of what the published port did; "
        "called directly, the published port (its userland proxy) serves "
        f"{100 * rps['direct, published port'] / capacity:.0f}% of the bridge address.",
    ]
    print("\n".join(lines), flush=True)
    write_section("\n".join(lines), title="Pub in front of a job in its container")


if __name__ == "__main__":
    run()
