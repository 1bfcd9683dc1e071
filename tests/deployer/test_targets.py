"""A third infrastructure target plugs in without touching the deploy engine.

The target here keeps its "replicas" in memory and the stack runner is a recording stand-in (no
Pulumi, no Docker): what is shown is that the engine asks the target for everything target-specific
(stack settings, image delivery, the addresses pub forwards to, the jobs' pub URL, logs, the
monitor's view) and that upstream's target names and unknown names behave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.db import Job, create_db_engine, session_factory, session_scope
from api.deployer import DeployEngine
from api.lifecycle import create_app
from api.settings import Settings
from core.errors import Unavailable
from jobtypes.source import pack_directory
from stacks import target as targets
from stacks.runner import OperationResult
from stacks.spec import FamilySpec
from stacks.target import Replica, TargetConfig, open_target
from tests.api.conftest import World

SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "python-class"


class LabTarget:
    """A target of a made-up lab cluster: three fixed addresses per version."""

    name = "lab"
    aliases = ("lab-cluster",)
    delivered: list[str] = []
    down: set[str] = set()

    def __init__(self, config: TargetConfig) -> None:
        self.config = config

    @staticmethod
    def program(spec: FamilySpec) -> Callable[[], None]:
        return lambda: None

    def stack_settings(self, *, build_log_path: str | None) -> dict[str, Any]:
        return {"rack": self.config.options.get("rack", "r0")}

    def deliver_images(self, spec: FamilySpec) -> None:
        self.delivered.extend(image.tag for version in spec.versions for image in version.images)

    def addresses(self, version_outputs: Mapping[str, Any]) -> list[str]:
        return list(version_outputs["lab_addresses"])

    def job_pub_url(self) -> str:
        return "http://lab-pub.internal/pub"

    def public_url(self, name: str, version: str) -> str:
        return f"https://lab.example/{name}/{version}"

    def runtime_logs(self, name: str, version: str, tail: int) -> str:
        return "\n".join(f"lab-{i}: {name} {version} serving" for i in range(3))

    def replicas(self) -> dict[tuple[str, str], list[Replica]]:
        return {
            ("adder", "1.0.0"): [
                Replica(f"lab-{i}", "exited" if f"lab-{i}" in self.down else "running") for i in range(3)
            ]
        }

    def watch(self, changed: Callable[[], None], stop: threading.Event) -> None:
        """The lab sends no events: its jobs are checked at the monitor's interval."""

    def follow_logs(self, name: str, version: str, tail: int) -> None:
        return None  # the lifecycle polls runtime_logs


class RecordingRunner:
    """Stands in for the Pulumi stack runner: records each spec and answers like a stack of the lab."""

    def __init__(self) -> None:
        self.specs: list[tuple[str, FamilySpec]] = []

    def run(self, operation: str, spec: FamilySpec, *, log_path: str | None = None) -> OperationResult:
        self.specs.append((operation, spec))
        versions = {
            v.version: {"lab_addresses": [f"10.9.0.{i}:7000" for i in range(1, 4)]} for v in spec.versions
        }
        return OperationResult(ok=True, outputs={"versions": versions}, summary={"create": 1})

    def history(self, family: str, target: str) -> list[dict[str, Any]]:
        return []

    def shutdown(self) -> None:
        pass


@pytest.fixture
def lab() -> Iterator[None]:
    targets.register_target(LabTarget)
    LabTarget.delivered, LabTarget.down = [], set()
    yield
    targets._registered.pop("lab", None)


@pytest.fixture
def platform(tmp_path: Path, lab: None) -> Iterator[tuple[TestClient, DeployEngine, RecordingRunner, World]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        database_url=f"sqlite:///{tmp_path / 'racetrack.db'}",
        admin_password=SecretStr("an-admin-password-1"),
        infrastructure_target_settings={"lab": {"rack": "r7"}},
        default_infrastructure_target="lab",  # the monitor reads the default target too (orphans)
    )
    db_engine = create_db_engine(settings.effective_database_url)
    app = create_app(settings, db_engine=db_engine)
    runner = RecordingRunner()
    engine = DeployEngine(settings, session_factory(db_engine), runner=runner)  # type: ignore[arg-type]
    app.state.engine = engine
    with TestClient(app) as client:
        yield client, engine, runner, World(app)
    engine.shutdown()
    db_engine.dispose()


def test_a_registered_target_deploys_through_the_engine(
    platform: tuple[TestClient, DeployEngine, RecordingRunner, World],
) -> None:
    client, engine, runner, world = platform
    headers = {"X-Racetrack-Auth": world.admin_token()}
    manifest = {**yaml.safe_load((SAMPLE / "job.yaml").read_text()), "name": "adder", "version": "1.0.0"}
    manifest["infrastructure_target"] = "lab-cluster"  # an alias, as a plugin's older name would be
    response = client.post(
        "/lifecycle/api/v1/deploy",
        json={"manifest": manifest, "build_context": pack_directory(SAMPLE)},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    engine.wait_idle()
    deployment = client.get(f"/lifecycle/api/v1/deploy/{response.json()['id']}", headers=headers).json()
    assert deployment["status"] == "done", deployment
    assert deployment["infrastructure_target"] == "lab"

    operation, spec = runner.specs[-1]
    assert operation == "up" and spec.target == "lab"
    assert spec.target_settings == {"rack": "r7"}  # the target's own settings, from the platform's
    assert spec.versions[0].run.env["PUB_URL"] == "http://lab-pub.internal/pub"
    assert LabTarget.delivered == [spec.versions[0].main_image.tag]

    job = client.get("/lifecycle/api/v1/job/adder/1.0.0", headers=headers).json()
    assert job["status"] == "running" and job["infrastructure_target"] == "lab"
    assert job["internal_name"] == "10.9.0.1:7000"
    with session_scope(engine.sessions) as session:
        row = session.query(Job).filter_by(name="adder", version="1.0.0").one()
        assert row.replica_internal_names == ["10.9.0.1:7000", "10.9.0.2:7000", "10.9.0.3:7000"]

    logs = client.get("/lifecycle/api/v1/job/adder/1.0.0/logs", headers=headers).json()["logs"]
    assert logs.splitlines() == [f"lab-{i}: adder 1.0.0 serving" for i in range(3)]

    LabTarget.down = {"lab-1"}
    engine.check_jobs()
    job = client.get("/lifecycle/api/v1/job/adder/1.0.0", headers=headers).json()
    assert job["status"] == "error" and "lab-1 is exited" in job["error"]
    LabTarget.down = set()
    engine.check_jobs()
    assert client.get("/lifecycle/api/v1/job/adder/1.0.0", headers=headers).json()["status"] == "running"


def test_unknown_targets_are_refused_naming_the_known(
    platform: tuple[TestClient, DeployEngine, RecordingRunner, World],
) -> None:
    client, _, _, world = platform
    manifest = {**yaml.safe_load((SAMPLE / "job.yaml").read_text()), "infrastructure_target": "mars"}
    response = client.post(
        "/lifecycle/api/v1/deploy",
        json={"manifest": manifest, "build_context": pack_directory(SAMPLE)},
        headers={"X-Racetrack-Auth": world.admin_token()},
    )
    assert response.status_code == 400
    assert response.json()["error"] == (
        "infrastructure_target: 'mars' is not known (accepted: docker, kubernetes, lab)"
    )


def test_builtin_targets_implement_the_interface() -> None:
    config = TargetConfig(pub_url="http://127.0.0.1:7005/pub", pub_port=7005)
    docker, kubernetes = open_target("docker", config), open_target("kubernetes", config)
    assert docker.job_pub_url() == "http://host.docker.internal:7005/pub"
    assert docker.public_url("adder", "1.0.0") == "http://127.0.0.1:7005/pub/job/adder/1.0.0"
    assert docker.addresses({"addresses": ["127.0.0.1:1", "127.0.0.1:2"]}) == ["127.0.0.1:1", "127.0.0.1:2"]
    # With no cluster here (this config names none), a Kubernetes target says how to get one.
    with pytest.raises(Unavailable, match="make cluster"):
        kubernetes.job_pub_url()
    with pytest.raises(Unavailable, match="make cluster"):
        kubernetes.replicas()
    in_cluster = TargetConfig(
        pub_url=config.pub_url, options={"pub_url": "http://pub.racetrack.svc.cluster.local:7005/pub"}
    )
    assert (
        open_target("kubernetes", in_cluster).job_pub_url()
        == "http://pub.racetrack.svc.cluster.local:7005/pub"
    )


def test_an_installed_plugin_target_is_found_by_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    plugin = EntryPoint(name="lab", value=f"{__name__}:LabTarget", group=targets.ENTRY_POINT_GROUP)
    monkeypatch.setattr(targets, "_installed", lambda: (plugin,))
    assert targets.known_target_names() == ["docker", "kubernetes", "lab"]
    assert targets.canonical_target_name("lab-cluster") == "lab"
    config = TargetConfig(pub_url="http://127.0.0.1:7005/pub", options={"rack": "r3"})
    assert open_target("lab", config).stack_settings(build_log_path=None) == {"rack": "r3"}
