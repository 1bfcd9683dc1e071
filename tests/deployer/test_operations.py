"""The operations' decisions, as pure functions of the current state (api/deployer/operations.py)."""

from __future__ import annotations

import pytest

from api.deployer.operations import (
    UNRESPONSIVE,
    followed_addresses,
    job_condition,
    keeps_recorded_secrets,
    rollback_state,
    same_version,
)
from core.errors import NotFound
from stacks.spec import ContainerSpec, FamilySpec, ImageSpec, VersionSpec
from stacks.target import DRAINING, Replica


def _version(version: str, digest: str, *, timestamp: int = 1) -> VersionSpec:
    tag = f"racetrack/job-entrypoint/adder:{version}-{digest}"
    image = ImageSpec(role="job", tag=tag, context_digest=digest)
    return VersionSpec(version=version, images=(image,), run=ContainerSpec(), deployment_timestamp=timestamp)


def _family(revision: int, *versions: VersionSpec) -> FamilySpec:
    return FamilySpec(family="adder", target="docker", revision=revision, versions=versions)


def test_a_rollback_brings_back_the_newest_earlier_state_that_differs() -> None:
    now = _family(3, _version("1.0.0", "c"), _version("2.0.0", "x"))
    earlier = [_family(2, _version("1.0.0", "c")), _family(1, _version("1.0.0", "a"))]
    desired, chosen = rollback_state(now, earlier, version=None, target_settings={"network": "n"})
    assert chosen.revision == 2 and [v.version for v in desired.versions] == ["1.0.0"]
    assert desired.target_settings == {"network": "n"}
    # Only version 1.0.0: revision 2 left it as it is now, so revision 1 is the one; 2.0.0 stays.
    desired, chosen = rollback_state(now, earlier, version="1.0.0", target_settings={})
    assert chosen.revision == 1
    assert {v.version: v.images[0].context_digest for v in desired.versions} == {"1.0.0": "a", "2.0.0": "x"}


def test_a_rollback_without_an_earlier_state_names_what_is_missing() -> None:
    now = _family(1, _version("1.0.0", "a"))
    with pytest.raises(NotFound, match="no earlier revision with another state of version 1.0.0"):
        rollback_state(now, [], version="1.0.0", target_settings={})
    with pytest.raises(NotFound, match="version 3.0.0 is not part of revision 1"):
        rollback_state(now, [], version="3.0.0", chosen=now, target_settings={})


def test_a_redeploy_of_the_same_build_changes_nothing() -> None:
    assert same_version(_version("1.0.0", "a", timestamp=1), _version("1.0.0", "a", timestamp=2))
    assert not same_version(_version("1.0.0", "a"), _version("1.0.0", "b"))


def test_job_condition_over_replicas() -> None:
    up = [Replica(f"r{i}", "running") for i in range(3)]
    assert job_condition(up, 3) == ("running", None)
    status, error = job_condition([*up[:2], Replica("r2", "exited", "killed")], 3)
    assert status == "error" and error == "1 of 3 replicas do not run: r2 is exited: killed"
    assert job_condition(up[:2], 3)[0] == "error"
    assert job_condition([], 3)[0] == "lost"


def test_registered_addresses_follow_a_restarted_replica() -> None:
    """After an engine restart a replica runs at a new address: the registry takes it. While a deploy
    runs the new container beside the registered one, the registered address stays."""
    moved = [Replica("a-0", "running", index=0, address="10.0.0.7:7000"), Replica("a-1", "running", index=1)]
    assert followed_addresses(["10.0.0.2:7000", "10.0.0.3:7000"], moved) == ["10.0.0.7:7000", "10.0.0.3:7000"]
    both = [
        Replica("old", "running", index=0, address="10.0.0.2:7000"),
        Replica("new", "running", index=0, address="10.0.0.9:7000"),
    ]
    assert followed_addresses(["10.0.0.2:7000"], both) == ["10.0.0.2:7000"]
    stopped = [Replica("a-0", "exited", index=0, address="10.0.0.7:7000")]
    assert followed_addresses(["10.0.0.2:7000"], stopped) == ["10.0.0.2:7000"]
    starting = [Replica("a-0", UNRESPONSIVE, index=0, address="10.0.0.7:7000")]  # /live not yet answering
    assert followed_addresses(["10.0.0.2:7000"], starting) == ["10.0.0.7:7000"]


def test_registered_addresses_leave_draining_replicas() -> None:
    """A deploy drains the containers it removes: the registry moves to each one's successor, drops
    those with none (fewer replicas now), and never ends up empty (the whole job is being removed)."""
    draining = [
        Replica("old-0", DRAINING, index=0, address="10.0.0.2:7000"),
        Replica("new-0", "running", index=0, address="10.0.0.9:7000"),
        Replica("old-1", DRAINING, index=1, address="10.0.0.3:7000"),
    ]
    assert followed_addresses(["10.0.0.2:7000", "10.0.0.3:7000"], draining) == ["10.0.0.9:7000"]
    removed = [Replica("old-0", DRAINING, index=0, address="10.0.0.2:7000")]
    assert followed_addresses(["10.0.0.2:7000"], removed) == ["10.0.0.2:7000"]


def test_only_a_redeploy_keeps_the_recorded_secrets() -> None:
    assert keeps_recorded_secrets({"operation": "redeploy"})
    assert not keeps_recorded_secrets({"operation": "deploy", "force": True})
    assert not keeps_recorded_secrets(None)
