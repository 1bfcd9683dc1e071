"""The platform as `make run` starts it beside the local Kubernetes cluster, for tests and benchmarks:
a lifecycle whose data directory shares the machine's cluster, pub listening where pods reach it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.deployer.lifecycle_process import LifecycleProcess
from tests.pub.servers import PubProcess

__all__ = ["CLUSTER", "NAMESPACE", "cluster_problem", "kubectl", "start_lifecycle", "start_pub"]

DATA_DIR = Path(os.environ.get("RACETRACK_DATA_DIR") or Path.home() / ".local" / "share" / "racetrack")
CLUSTER = DATA_DIR / "cluster"
NAMESPACE = "racetrack-jobs"


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(CLUSTER / "bin" / "kubectl"), "--kubeconfig", str(CLUSTER / "kubeconfig"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not check or done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


def cluster_problem() -> str | None:
    """Why the local cluster cannot be used (saying to start it), None when it answers."""
    if not (CLUSTER / "kubeconfig").is_file():
        return f"no local Kubernetes cluster in {CLUSTER}: start it with `make cluster`"
    nodes = kubectl("get", "nodes", check=False)
    if nodes.returncode != 0:
        return (
            f"the local Kubernetes cluster does not answer ({nodes.stderr.strip()[:300]}): "
            "start it with `make cluster`"
        )
    return None


def start_lifecycle(data: Path) -> LifecycleProcess:
    data.mkdir(parents=True, exist_ok=True)
    # This platform's data directory shares the machine's local cluster, as `make run`'s does.
    if not (data / "cluster").exists():
        (data / "cluster").symlink_to(CLUSTER)
    return LifecycleProcess(data).start()


def start_pub(lifecycle: LifecycleProcess) -> PubProcess:
    """Pub on the addresses `make run` gives it (api/run.py): loopback and where pods reach this host."""
    from api.run import commands

    env = {key: value for key, value in lifecycle.env.items() if key.startswith("RACETRACK_")}
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        command = next(c for c in commands() if c[2] == "api.pub")
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    hosts = [a for i, a in enumerate(command) if i and command[i - 1] == "--host"]
    return PubProcess(env, args=tuple(x for h in hosts for x in ("--host", h)))
