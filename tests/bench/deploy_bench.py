"""Deploy-engine timings for the adder sample on this machine: first deploy, redeploy after a code
change, redeploy with no change, preview and rollback, each the median of several runs, next to the
targets (no-change redeploy < 5 s, rollback < 10 s, code-change redeploy < 30 s).

Runs a real lifecycle process (deploy engine, Pulumi, Docker) in a throwaway data directory.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import docker
import yaml

from jobtypes.source import pack_directory
from tests.deployer.lifecycle_process import LifecycleProcess

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"
TARGETS = {"redeploy, no change": 5.0, "rollback": 10.0, "redeploy, code change": 30.0}


def _job(root: Path, family: str, offset: int) -> tuple[Path, dict]:
    folder = root / f"job-{offset}"
    if not folder.exists():
        shutil.copytree(SAMPLE, folder)
        code = (
            (folder / "adder.py")
            .read_text()
            .replace("return sum(numbers)", f"return sum(numbers) + {offset}")
        )
        (folder / "adder.py").write_text(code)
    manifest = yaml.safe_load((folder / "job.yaml").read_text())
    manifest["name"] = family
    return folder, manifest


def _timed(lifecycle: LifecycleProcess, method: str, path: str, body: dict) -> float:
    started = time.monotonic()
    response = lifecycle.request(method, path, json=body)
    response.raise_for_status()
    result = lifecycle.wait_deployment(response.json()["id"])
    if result["status"] != "done":
        raise RuntimeError(f"{path} failed: {result['error']}")
    return time.monotonic() - started


def run(rounds: int = 3, **_: object) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="racetrack-deploy-bench-"))
    family = f"bench-{uuid.uuid4().hex[:6]}"
    lifecycle = LifecycleProcess(root / "data").start()
    timings: dict[str, list[float]] = {
        name: []
        for name in ("first deploy", "redeploy, code change", "redeploy, no change", "preview", "rollback")
    }
    try:
        folder, manifest = _job(root, family, 0)
        deploy = {"manifest": manifest, "build_context": pack_directory(folder)}
        timings["first deploy"].append(_timed(lifecycle, "POST", "/deploy", deploy))
        for index in range(1, rounds + 1):
            folder, manifest = _job(root, family, index)
            changed = {"manifest": manifest, "build_context": pack_directory(folder), "force": True}
            timings["preview"].append(_timed(lifecycle, "POST", "/deploy/preview", changed))
            timings["redeploy, code change"].append(_timed(lifecycle, "POST", "/deploy", changed))
            timings["redeploy, no change"].append(_timed(lifecycle, "POST", "/deploy", changed))
            revisions = lifecycle.request("GET", f"/job_family/{family}/revisions").json()
            previous = next(r["number"] for r in revisions[1:] if r["status"] == "applied")
            timings["rollback"].append(
                _timed(lifecycle, "POST", f"/job_family/{family}/rollback", {"to_revision": previous})
            )
    finally:
        lifecycle.request("DELETE", f"/job/{family}/1.0.0")
        time.sleep(0)  # the delete runs in the background; containers are removed below regardless
        lifecycle.stop()
        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": f"racetrack/job-name={family}"}):
            container.remove(force=True)
        shutil.rmtree(root, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in timings.items() if values}
    print(f"deploy engine, adder sample, {rounds} rounds (median seconds):")
    print(f"{'operation':<24}{'median s':>10}{'runs':>6}{'target s':>10}{'vs target':>11}")
    for name, value in medians.items():
        target = TARGETS.get(name)
        ratio = f"{value / target:.2f}x" if target else "-"
        shown = f"{target:.1f}" if target else "-"
        print(f"{name:<24}{value:>10.2f}{len(timings[name]):>6}{shown:>10}{ratio:>11}")
    return medians


if __name__ == "__main__":
    run()
