"""Desired state of job families: read from and written to the revision history.

A revision stores the whole `FamilySpec` the stack was (or was to be) brought to, with secret values
sealed. The newest *applied* revision is what the family looks like now; a new operation starts
from it, changes one version, and is recorded as the next revision before Pulumi runs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db import FamilyRevision, JobFamily
from api.db.repository import add_revision
from api.deployer.sealing import Sealer
from api.errors import NotFound
from jobtypes.manifest import Manifest, ResourcesSpec, parse_semver
from stacks.digest import context_digest
from stacks.spec import ContainerSpec, FamilySpec, ImageSpec, VersionSpec

__all__ = [
    "applied_revisions",
    "sealed_state",
    "current_spec",
    "find_revision",
    "images_from_plan",
    "latest_version",
    "record_revision",
    "revision_spec",
    "version_from_plan",
    "with_version",
    "without_version",
]


def sealed_state(spec: FamilySpec, sealer: Sealer) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(spec.to_json())
    for version in data["versions"]:
        version["run"]["secret_env"] = sealer.seal(version["run"]["secret_env"])
        for image in version["images"]:
            image["build_secrets"] = sealer.seal(image["build_secrets"])
    return data


def _from_record(data: dict[str, Any], sealer: Sealer) -> FamilySpec:
    data = json.loads(json.dumps(data))
    for version in data["versions"]:
        version["run"]["secret_env"] = sealer.unseal(version["run"]["secret_env"])
        for image in version["images"]:
            image["build_secrets"] = sealer.unseal(image["build_secrets"])
    return FamilySpec.from_json(json.dumps(data))


def revision_spec(revision: FamilyRevision, sealer: Sealer) -> FamilySpec:
    return _from_record(revision.desired_state, sealer)


def applied_revisions(session: Session, family: JobFamily, target: str) -> list[FamilyRevision]:
    """Applied revisions of a family on a target, newest first."""
    return list(
        session.scalars(
            select(FamilyRevision)
            .where(
                FamilyRevision.family_id == family.id,
                FamilyRevision.target == target,
                FamilyRevision.status == "applied",
            )
            .order_by(FamilyRevision.number.desc())
        )
    )


def current_spec(
    session: Session, family: JobFamily, target: str, sealer: Sealer, target_settings: dict[str, Any]
) -> FamilySpec:
    """What the family looks like now on `target` (an empty family when nothing was applied yet)."""
    applied = applied_revisions(session, family, target)
    if not applied:
        return FamilySpec(
            family=family.name, target=target, revision=0, versions=(), target_settings=target_settings
        )
    spec = revision_spec(applied[0], sealer)
    return dataclasses.replace(spec, target_settings=target_settings)


def find_revision(session: Session, family: JobFamily, target: str, number: int) -> FamilyRevision:
    revision = session.scalar(
        select(FamilyRevision).where(
            FamilyRevision.family_id == family.id,
            FamilyRevision.target == target,
            FamilyRevision.number == number,
        )
    )
    if revision is None:
        raise NotFound(
            f"revision {number} of job family {family.name} on {target} was not found; "
            f"see `racetrack history {family.name}`"
        )
    return revision


def record_revision(
    session: Session,
    family: JobFamily,
    spec: FamilySpec,
    sealer: Sealer,
    *,
    operation: str,
    created_by: str | None,
    deployment_id: str,
) -> tuple[FamilyRevision, FamilySpec]:
    """Records `spec` as the next revision (pending) and returns it with its revision number set."""
    revision = add_revision(
        session,
        family,
        target=spec.target,
        desired_state={},
        operation=operation,
        created_by=created_by,
        deployment_id=deployment_id,
    )
    numbered = dataclasses.replace(spec, revision=revision.number)
    revision.desired_state = sealed_state(numbered, sealer)
    session.flush()
    return revision, numbered


def latest_version(versions: tuple[VersionSpec, ...]) -> str | None:
    """The highest stable version (no pre-release part), else the highest of all."""
    parsed = [(p, v.version) for v in versions if (p := parse_semver(v.version)) is not None]
    stable = [(p, v) for p, v in parsed if not p.prerelease]
    pool = stable or parsed
    return max(pool)[1] if pool else None


def with_version(spec: FamilySpec, version: VersionSpec) -> FamilySpec:
    versions = tuple(v for v in spec.versions if v.version != version.version) + (version,)
    versions = tuple(sorted(versions, key=lambda v: v.version))
    return dataclasses.replace(spec, versions=versions, latest=latest_version(versions))


def without_version(spec: FamilySpec, version: str) -> FamilySpec:
    versions = tuple(v for v in spec.versions if v.version != version)
    return dataclasses.replace(spec, versions=versions, latest=latest_version(versions))


def images_from_plan(plan: Any, version: str) -> tuple[ImageSpec, ...]:
    """The images of a job type's build plan, each tagged by the digest of what it is built from."""
    images = []
    for image in plan.images:
        dockerfile_text = Path(image.dockerfile).read_text(encoding="utf-8")
        digest = context_digest(
            image.context, extra=[dockerfile_text, repr(sorted(image.build_args.items()))]
        )
        secrets = image.secret_values()
        images.append(
            ImageSpec(
                role=image.role,
                tag=image.image.rsplit(":", 1)[0] + f":{_tag_safe(version)}-{digest[:12]}",
                context_digest=digest,
                context=str(image.context),
                dockerfile=str(image.dockerfile),
                build_args=dict(image.build_args),
                # The CA bundle is a file every build gets, not a secret of the job: kept as a path.
                build_secrets={k: v for k, v in secrets.items() if k != "ca_bundle"},
                secret_files={k: str(p) for k, p in image.secrets.items() if k == "ca_bundle"},
                port=image.port,
                address_env=image.address_env,
            )
        )
    return tuple(images)


def version_from_plan(
    manifest: Manifest,
    images: tuple[ImageSpec, ...],
    *,
    env: dict[str, str],
    secret_env: dict[str, str],
    timestamp: int,
) -> VersionSpec:
    """How one version runs, from its manifest (`replicas`, `resources`) and its environment."""
    resources = manifest.resources or ResourcesSpec()
    return VersionSpec(
        version=manifest.version,
        images=images,
        deployment_timestamp=timestamp,
        run=ContainerSpec(
            env=env,
            secret_env=secret_env,
            replicas=manifest.replicas,
            # The model's validator made each quantity a string.
            memory_min=resources.memory_min,  # type: ignore[arg-type]
            memory_max=resources.memory_max,  # type: ignore[arg-type]
            cpu_min=resources.cpu_min,  # type: ignore[arg-type]
            cpu_max=resources.cpu_max,  # type: ignore[arg-type]
        ),
        labels={"racetrack/revision": "pending"},
    )


def _tag_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)
