"""The operations' decisions as pure functions of the current state: no database, no engine.

What a rollback brings back, whether a redeploy changes anything, which revision a version is
labelled with, and a job's status from its replicas. The engine (engine.py) reads the state, asks
these, and applies the result (apply.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from api.deployer.desired import with_version
from core.errors import NotFound, PlatformError
from stacks.runner import OperationResult
from stacks.spec import FamilySpec, VersionSpec
from stacks.target import DRAINING, Replica

# A replica whose container runs but whose /live does not answer 200 (the monitor asks).
UNRESPONSIVE = "unresponsive"

__all__ = ["UNRESPONSIVE", "label_revision", "same_version", "failure", "job_condition", "rollback_state"]


def rollback_state(
    current: FamilySpec,
    earlier: Iterable[FamilySpec],
    *,
    version: str | None,
    chosen: FamilySpec | None = None,
    target_settings: dict[str, Any],
) -> tuple[FamilySpec, FamilySpec]:
    """(desired state, revision rolled back to): the family as `chosen` (or the newest of `earlier`
    whose `version` differs from now) left it, or only `version` brought back to that state."""
    family = current.family
    if chosen is None:
        chosen = next(
            (c for c in earlier if version is None or c.version(version) != current.version(version)), None
        )
        if chosen is None:
            raise NotFound(
                f"job family {family} has no earlier revision"
                + (f" with another state of version {version}" if version else "")
            )
    if version is None:
        return dataclasses.replace(chosen, target_settings=target_settings), chosen
    wanted = chosen.version(version)
    if wanted is None:
        raise NotFound(
            f"version {version} is not part of revision {chosen.revision}; see `racetrack history {family}`"
        )
    return with_version(dataclasses.replace(current, target_settings=target_settings), wanted), chosen


def label_revision(spec: FamilySpec, version: str | None, revision: str) -> FamilySpec:
    """Marks the changed version with the revision that changed it (others keep their labels)."""
    if version is None:
        return spec
    versions = tuple(
        dataclasses.replace(v, labels={**v.labels, "racetrack/revision": revision})
        if v.version == version
        else v
        for v in spec.versions
    )
    return dataclasses.replace(spec, versions=versions)


def job_condition(replicas: list[Replica], wanted: int | None) -> tuple[str, str | None]:
    """A job's status and error from its replicas as its target sees them."""
    if not replicas:
        return "lost", "its containers are gone; reconcile the job to bring it back"
    down = [r for r in replicas if r.state != "running"]
    if down:
        named = "; ".join(f"{r.name} is {r.state}" + (f": {r.detail}" if r.detail else "") for r in down)
        return "error", f"{len(down)} of {len(replicas)} replicas do not run: {named}"
    if len(replicas) < (wanted or 1):
        return "error", f"{len(replicas)} of {wanted} replicas run; reconcile the job to start the others"
    return "running", None


def same_version(old: VersionSpec, new: VersionSpec) -> bool:
    """Equal but for where this run's build contexts sit, when the version was stamped, and labels
    (a `--no-cache` rebuild marker included: an image rebuilt once is not rebuilt again for it)."""

    def essence(version: VersionSpec) -> VersionSpec:
        images = tuple(
            dataclasses.replace(i, context="", dockerfile="", secret_files={}, rebuild="")
            for i in version.images
        )
        return dataclasses.replace(version, images=images, deployment_timestamp=0, labels={})

    return essence(old) == essence(new)


def failure(result: OperationResult) -> PlatformError:
    return PlatformError(result.error or "the operation failed", details=result.details)


def keeps_recorded_secrets(parameters: dict[str, Any] | None) -> bool:
    """Whether a deployment may run with the secrets recorded for its version. Only a redeploy may: it
    rebuilds the recorded manifest and source of a version already deployed (its caller was checked for
    deploy_job on the family when it was recorded). A deploy, `--force` included, brings a new source
    and must bring its secrets with it."""
    return (parameters or {}).get("operation") == "redeploy"


def followed_addresses(registered: list[str], replicas: list[Replica]) -> list[str]:
    """The registry's addresses of a job, each replaced by its replica's address when no running copy
    holds it any more and exactly one running copy of that replica exists (a restart moved it, or a
    deploy set the old copy to drain once its successor was ready). An address whose copy drains with
    no successor (fewer replicas now) is dropped, unless no address would remain. While a deploy
    replaces a container both copies run for a moment: the registered one then still runs, and the
    deploy decides what comes next."""
    running: dict[int, list[str]] = {}
    draining = {r.address for r in replicas if r.state == DRAINING and r.address}
    for replica in replicas:
        # An unresponsive copy's container runs at that address: it is where the replica is now.
        if replica.state in ("running", UNRESPONSIVE) and replica.address:
            running.setdefault(replica.index, []).append(replica.address)
    followed = []
    for index, address in enumerate(registered):
        candidates = running.get(index, [])
        if address not in candidates and len(candidates) == 1:
            followed.append(candidates[0])
        elif address not in draining or candidates:
            followed.append(address)
    return followed or list(registered)
