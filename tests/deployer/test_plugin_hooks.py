"""The hooks upstream's plugins use, called by the real lifecycle at the right moments.

A plugin built here (its own plugin.py and plugin-manifest.yaml, bundled by upstream's client 2.35.1
and installed, listed, downloaded and uninstalled with it) refuses manifests it does not accept
(`validate_job_manifest`), gives every job a variable (`job_runtime_env_vars`), records each served
deploy and each deletion (`post_job_deploy`, `post_job_delete`) where its configuration says, and
answers `markdown_docs` and `run_action`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path

import docker
import pytest
import yaml

from jobtypes.source import pack_directory
from tests.client.upstream import upstream_client
from tests.deployer.conftest import SAMPLE
from tests.deployer.lifecycle_process import LifecycleProcess

pytestmark = pytest.mark.engine

PLUGIN_CODE = textwrap.dedent(
    """
    import json
    from pathlib import Path

    import yaml


    class Plugin:
        def _record(self, **entry):
            config = yaml.safe_load(Path(self.config_path).read_text())
            with open(config["record_to"], "a") as handle:
                handle.write(json.dumps(entry) + "\\n")

        def validate_job_manifest(self, manifest, job_type):
            if manifest.labels.get("plugin-check") == "refuse":
                raise ValueError(f"label plugin-check=refuse is not accepted for {job_type}")

        def job_runtime_env_vars(self):
            return {"PLUGIN_GREETING": "hello from a plugin"}

        def post_job_deploy(self, manifest, job, image_name, deployer_username=None):
            self._record(hook="post_job_deploy", job=job.name, version=job.version, image=image_name,
                         by=deployer_username, owner=manifest.owner_email)

        def post_job_delete(self, job, username_executor=None):
            self._record(hook="post_job_delete", job=job.name, version=job.version, by=username_executor)

        def markdown_docs(self):
            return "# Hook recorder\\nRecords what the platform tells its plugins."

        def run_action(self, **kwargs):
            return {"echo": kwargs}
    """
)


def _upstream(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost")
    return subprocess.run(
        [str(upstream_client()), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _deploy(lifecycle: LifecycleProcess, family: str, folder: Path, **fields: object) -> dict:
    manifest = {**yaml.safe_load((SAMPLE / "job.yaml").read_text()), "name": family, **fields}
    started = lifecycle.request(
        "POST", "/deploy", json={"manifest": manifest, "build_context": pack_directory(folder), "force": True}
    )
    assert started.status_code == 202, started.text
    return lifecycle.wait_deployment(started.json()["id"])


def test_plugin_hooks_in_the_lifecycle(lifecycle: LifecycleProcess, family: str, tmp_path: Path) -> None:
    source = tmp_path / "hook-recorder"
    source.mkdir()
    (source / "plugin.py").write_text(PLUGIN_CODE)
    (source / "plugin-manifest.yaml").write_text("name: hook-recorder\nversion: 1.0.0\ncategory: core\n")
    (source / "config.yaml").write_text("record_to: /nonexistent/hooks.jsonl\n")
    home = tmp_path / "home"
    home.mkdir()
    remote = ("--remote", lifecycle.url)
    assert _upstream(home, "login", lifecycle.token, *remote).returncode == 0
    bundled = _upstream(home, "plugin", "bundle", str(source), "--out", str(tmp_path))
    assert bundled.returncode == 0, bundled.stdout + bundled.stderr
    (archive,) = tmp_path.glob("hook-recorder-1.0.0.zip")
    installed = _upstream(home, "plugin", "install", str(archive), *remote)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = _upstream(home, "plugin", "list", *remote)
    assert "hook-recorder" in listed.stdout and "1.0.0" in listed.stdout, listed.stdout + listed.stderr
    downloads = tmp_path / "downloads"
    downloads.mkdir()  # upstream's client wants it to exist
    downloaded = _upstream(
        home, "plugin", "download", "hook-recorder", "1.0.0", "--out-dir", str(downloads), *remote
    )
    assert downloaded.returncode == 0, downloaded.stdout + downloaded.stderr
    (got,) = downloads.glob("*.zip")
    assert zipfile.ZipFile(got).read("plugin.py").decode() == PLUGIN_CODE

    record = tmp_path / "hooks.jsonl"
    configured = lifecycle.request(
        "PUT", "/plugin/hook-recorder/1.0.0/config", json={"config_data": f"record_to: {record}\n"}
    )
    assert configured.status_code == 200, configured.text

    folder = tmp_path / "adder"
    shutil.copytree(SAMPLE, folder)
    refused = _deploy(lifecycle, family, folder, labels={"plugin-check": "refuse"})
    assert refused["status"] == "failed"
    assert (
        "plugin hook-recorder 1.0.0: validate_job_manifest failed: ValueError: label plugin-check=refuse"
        in (refused["error"])
    )
    assert not record.exists()  # nothing served, nothing recorded

    deployed = _deploy(lifecycle, family, folder)
    assert deployed["status"] == "done", deployed["error"]
    (container,) = docker.from_env().containers.list(filters={"label": f"racetrack/job-name={family}"})
    variables = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert variables["PLUGIN_GREETING"] == "hello from a plugin"
    version = deployed["job_version"]
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert entries == [
        {
            "hook": "post_job_deploy",
            "job": family,
            "version": version,
            "image": deployed["image_name"],
            "by": "admin",
            "owner": yaml.safe_load((SAMPLE / "job.yaml").read_text())["owner_email"],
        }
    ]

    docs = lifecycle.request("GET", "/plugin/hook-recorder/docs")
    assert docs.json().startswith("# Hook recorder")
    action = lifecycle.request("POST", "/plugin/hook-recorder/run", json={"numbers": [1, 2]})
    assert action.json() == {"echo": {"numbers": [1, 2]}}

    deleted = lifecycle.request("DELETE", f"/job/{family}/{version}")
    assert deleted.status_code == 200, deleted.text
    assert lifecycle.wait_deployment(deleted.json()["id"])["status"] == "done"  # torn down in the background
    entries = [json.loads(line) for line in record.read_text().splitlines()]
    assert entries[-1] == {"hook": "post_job_delete", "job": family, "version": version, "by": "admin"}

    uninstalled = _upstream(home, "plugin", "uninstall", "hook-recorder", "--version", "1.0.0", *remote)
    assert uninstalled.returncode == 0, uninstalled.stdout + uninstalled.stderr
    assert "hook-recorder" not in _upstream(home, "plugin", "list", *remote).stdout
