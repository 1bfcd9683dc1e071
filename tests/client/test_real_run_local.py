"""`racetrack run-local` for real: the lifecycle builds the job's image (`POST /build`), the CLI runs it
on this machine's Docker with the wrapper, the job answers on the chosen port, CTRL-C removes it, and
nothing is deployed on the platform.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
import yaml

from tests.deployer import lifecycle_process

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample" / "python-class"
REAL_HOME = os.environ.get("HOME", str(Path.home()))  # read before the CLI tests' fixtures move HOME

pytestmark = pytest.mark.engine


@pytest.fixture
def family() -> Iterator[str]:
    name = f"rl-{uuid.uuid4().hex[:6]}"
    yield name
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"job-name={name}"}):
        container.remove(force=True)
    lifecycle_process.remove_job_families([name])


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[lifecycle_process.LifecycleProcess]:
    server = lifecycle_process.LifecycleProcess(tmp_path / "data", extra_env={"HOME": REAL_HOME}).start()
    yield server
    server.stop()


def test_run_local_builds_on_the_platform_and_runs_here(lifecycle, family: str, tmp_path: Path) -> None:
    job = tmp_path / "adder"
    shutil.copytree(SAMPLE, job)
    manifest = {**yaml.safe_load((job / "job.yaml").read_text()), "name": family}
    manifest["runtime_env"] = {"GREETING": "hello"}
    (job / "job.yaml").write_text(yaml.safe_dump(manifest))
    version = str(manifest["version"])
    env = {**os.environ, "RACETRACK_CONFIG_DIR": str(tmp_path / "rtconfig")}
    cli = [sys.executable, "-m", "client"]
    login = subprocess.run(
        [*cli, "login", lifecycle.token, "--remote", lifecycle.url], env=env, capture_output=True, text=True
    )
    assert login.returncode == 0, login.stderr
    port = lifecycle_process.free_port()
    log = (tmp_path / "run-local.log").open("w")
    process = subprocess.Popen(
        [
            *cli,
            "run-local",
            str(job),
            "--remote",
            lifecycle.url,
            "--port",
            str(port),
            "--build-context",
            "local",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}/pub/job/{family}/{version}/api/v1/perform"
    try:
        deadline = time.monotonic() + 900  # a build on a busy 2-core machine
        while True:
            assert process.poll() is None, (tmp_path / "run-local.log").read_text()
            try:
                answer = httpx.post(url, json={"numbers": [40, 2]}, timeout=5)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "run-local.log").read_text()
            time.sleep(1)  # the job starts in the background: ask again
        assert answer.json() == 42
        (container,) = docker.from_env().containers.list(filters={"label": f"job-name={family}"})
        assert container.name == f"local-job-{family}-v-{version.replace('.', '-')}"
        variables = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        assert variables["GREETING"] == "hello" and variables["JOB_NAME"] == family
    finally:
        process.send_signal(signal.SIGINT)  # CTRL-C
        process.wait(timeout=120)
        log.close()
    output = (tmp_path / "run-local.log").read_text()
    assert f'Running job "{family}" v{version} locally: http://127.0.0.1:{port}/pub/job/' in output
    with pytest.raises(docker.errors.NotFound):  # stopped, and removed (--rm) before the CLI returned
        docker.from_env().containers.get(f"local-job-{family}-v-{version.replace('.', '-')}")

    # Built on the platform, deployed nowhere.
    assert lifecycle.request("GET", f"/job/{family}/{version}").status_code == 404
    (build,) = [d for d in lifecycle.request("GET", "/deploy").json() if d["job_name"] == family]
    assert (build["kind"], build["status"]) == ("build", "done")
    # A caller whose Docker is elsewhere gets the image over the API, as `docker save` writes it.
    with httpx.stream(
        "GET",
        f"{lifecycle.url}/api/v1/build/{build['id']}/image",
        headers={"X-Racetrack-Auth": lifecycle.token},
        timeout=120,
    ) as response:
        assert response.status_code == 200
        body = response.read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        saved = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert saved[0]["RepoTags"] == [build["image_name"]]
