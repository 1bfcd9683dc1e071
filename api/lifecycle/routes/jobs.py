"""Jobs and job families: list, graph, portfolio, get, delete, logs, build logs, manifest, public endpoints,
revisions, rollback."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from datetime import datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select

from api.auth import Scope, has_permission, readable_jobs_clause
from api.db import (
    AuthSubject,
    Deployment,
    FamilyRevision,
    Job,
    JobFamily,
    Permission,
    PublicEndpointRequest,
    utcnow,
)
from api.db.repository import get_family, list_revisions, record_audit
from api.errors import Forbidden, InvalidInput, NotFound
from api.lifecycle.deployments import DeployEngine, actor, delete_job, record_rollback, submit
from api.lifecycle.deps import LoggedIn, NotInMaintenance, SessionDep, SettingsDep, job_access
from api.lifecycle.errors import error_responses
from api.lifecycle.schemas import (
    DeploymentOut,
    JobFamilyOut,
    JobOut,
    LogsResponse,
    RevisionOut,
    RollbackRequest,
    deployment_out,
    job_out,
    ts,
)
from jobtypes.manifest import SemVer, parse_manifest, parse_semver

router = APIRouter(tags=["jobs"], responses=error_responses(401, 403, 404, 422))

ReadableJob = Annotated[Job, Depends(job_access(Scope.read_job))]
DeletableJob = Annotated[Job, Depends(job_access(Scope.delete_job))]
DeployableJob = Annotated[Job, Depends(job_access(Scope.deploy_job))]
Tail = Annotated[int, Query(ge=0, le=100_000)]
# Terminal colours make a plain-text log unreadable in a browser or a file.
PLAIN_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"description": "the log as plain text", "content": {"text/plain": {"schema": {"type": "string"}}}}
}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class RevisionDetail(RevisionOut):
    desired_state: dict[str, Any]


class PublicEndpointOut(BaseModel):
    id: int
    endpoint: str
    active: bool


_JOB_LIST = TypeAdapter(list[JobOut])


@router.get("/job", response_model=list[JobOut])
def list_jobs(caller: LoggedIn, session: SessionDep, settings: SettingsDep) -> Response:
    """Every job version the caller may read (scope read_job), ordered by name and creation.

    Rows are read as plain tuples and serialized once: with thousands of jobs, ORM objects and FastAPI's
    re-validation of the response would triple the time.
    """
    query = (
        select(*Job.__table__.columns)
        .where(readable_jobs_clause(session, caller))
        .order_by(Job.name, Job.create_time)
    )
    jobs = [job_out(row, settings) for row in session.execute(query)]
    return Response(_JOB_LIST.dump_json(jobs), media_type="application/json")


@router.get("/job_family", response_model=list[JobFamilyOut])
def list_families(caller: LoggedIn, session: SessionDep) -> list[JobFamilyOut]:
    """Families with at least one job version the caller may read."""
    family_ids = select(Job.family_id).where(readable_jobs_clause(session, caller))
    query = select(JobFamily).where(JobFamily.id.in_(family_ids)).order_by(JobFamily.name)
    return [JobFamilyOut(id=f.id, name=f.name) for f in session.scalars(query)]


class GraphNode(BaseModel):
    id: str
    type: str = Field(description="job, esc or job_family")
    title: str
    status: str | None = None


class GraphEdge(BaseModel):
    source: str
    target: str
    scope: str
    endpoint: str | None = None


class JobGraph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


@router.get("/job/graph", response_model=JobGraph)
def job_graph(caller: LoggedIn, session: SessionDep) -> JobGraph:
    """Who may call whom: job families and ESCs holding call_job on the families the caller may read."""
    jobs = list(session.scalars(select(Job).where(readable_jobs_clause(session, caller)).order_by(Job.name)))
    nodes: dict[str, GraphNode] = {}
    for job in jobs:
        node_id = f"job:{job.name}"
        if node_id not in nodes or job.status == "running":
            nodes[node_id] = GraphNode(id=node_id, type="job", title=job.name, status=job.status)
    family_ids = {job.family_id for job in jobs}
    family_names = {job.family_id: job.name for job in jobs}
    grants = session.scalars(
        select(Permission).where(
            Permission.scope.in_([Scope.call_job.value, Scope.full_access.value]),
            Permission.job_family_id.in_(family_ids),
        )
    )
    edges = []
    for permission in grants:
        subject: AuthSubject = permission.subject
        if subject.job_family is not None:
            source = f"job:{subject.job_family.name}"
            nodes.setdefault(source, GraphNode(id=source, type="job_family", title=subject.job_family.name))
        elif subject.esc is not None:
            source = f"esc:{subject.esc.id}"
            nodes.setdefault(source, GraphNode(id=source, type="esc", title=subject.esc.name))
        else:
            continue  # users calling jobs are people, not dependencies
        assert permission.job_family_id is not None  # the query selects grants on these families only
        target = f"job:{family_names[permission.job_family_id]}"
        edges.append(
            GraphEdge(source=source, target=target, scope=permission.scope, endpoint=permission.endpoint)
        )
    return JobGraph(nodes=sorted(nodes.values(), key=lambda n: n.id), edges=edges)


class PortfolioJob(JobOut):
    is_latest: bool = Field(description="the family's highest version")
    update_time_days_ago: float | None
    last_call_time_days_ago: float | None
    purge_score: float = Field(description="0: keep; the higher, the better a candidate for deletion")
    purge_reasons: list[str]


def _days_ago(now: datetime, when: datetime | None) -> float | None:
    return None if when is None else round((now - when).total_seconds() / 86400, 1)


def _version_key(version: str) -> tuple[int, SemVer | None, str]:
    parsed = parse_semver(version)
    return (1, parsed, version) if parsed is not None else (0, None, version)


@router.get("/job/portfolio", response_model=list[PortfolioJob])
def job_portfolio(caller: LoggedIn, session: SessionDep, settings: SettingsDep) -> list[PortfolioJob]:
    """Every readable job with its staleness and why it may be worth deleting (purge candidates first)."""
    jobs = list(session.scalars(select(Job).where(readable_jobs_clause(session, caller))))
    latest: dict[str, str] = {}
    for job in jobs:
        if job.name not in latest or _version_key(job.version) > _version_key(latest[job.name]):
            latest[job.name] = job.version
    now = utcnow()
    out = []
    for job in jobs:
        reasons, score = [], 0.0
        idle = _days_ago(now, job.last_call_time)
        updated = _days_ago(now, job.update_time)
        if latest[job.name] != job.version:
            reasons.append(f"a newer version exists ({latest[job.name]})")
            score += 1
        if job.last_call_time is None:
            reasons.append("never called")
            score += 1
        elif idle is not None and idle > 30:
            reasons.append(f"not called for {idle:.0f} days")
            score += min(idle / 30, 3)
        if job.status in ("error", "lost"):
            reasons.append(f"status {job.status}")
            score += 2
        out.append(
            PortfolioJob(
                **job_out(job, settings).model_dump(),
                is_latest=latest[job.name] == job.version,
                update_time_days_ago=updated,
                last_call_time_days_ago=idle,
                purge_score=round(score, 2),
                purge_reasons=reasons,
            )
        )
    return sorted(out, key=lambda j: (-j.purge_score, j.name, _version_key(j.version)))


@router.get("/job/{name}/{version}", response_model=JobOut)
def get_job(job: ReadableJob, settings: SettingsDep) -> JobOut:
    """One job; `version` may be exact, `latest`, or a wildcard such as `1.x`."""
    return job_out(job, settings)


@router.delete(
    "/job/{name}/{version}",
    response_model=DeploymentOut,
    dependencies=[NotInMaintenance],
    responses=error_responses(503),
)
def delete(
    job: DeletableJob,
    request: Request,
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
    version: str,
) -> DeploymentOut:
    """Deletes a job version (exact version only); returns the `delete` operation."""
    if job.version != version:
        raise NotFound(f"job {job.name} version {version} was not found: delete needs an exact version")
    deployment = delete_job(session, settings, request.app.state.engine, caller, job)
    return deployment_out(deployment, None, settings)


@router.get("/job/{name}/{version}/logs", response_model=LogsResponse)
def runtime_logs(job: ReadableJob, request: Request, tail: Tail = 20) -> LogsResponse:
    """Recent runtime logs, read through the deploy engine."""
    engine: DeployEngine | None = request.app.state.engine
    if engine is None:
        return LogsResponse(logs="(runtime logs are not available: no deploy engine is configured)")
    return LogsResponse(logs=engine.runtime_logs(job.name, job.version, tail))


@router.get("/job/{name}/{version}/logs/plain", response_model=None, responses=PLAIN_TEXT)
def runtime_logs_plain(job: ReadableJob, request: Request, tail: Tail = 20) -> PlainTextResponse:
    """The runtime logs as plain text, without terminal colours."""
    return PlainTextResponse(_ANSI.sub("", runtime_logs(job, request, tail).logs))


@router.get("/job/{name}/{version}/build-logs", response_model=LogsResponse)
def build_logs(job: ReadableJob, session: SessionDep, tail: Tail = 0) -> LogsResponse:
    """Build logs recorded by the deployment that made this version (`tail=0`: all lines)."""
    query = (
        select(Deployment)
        .where(
            Deployment.job_name == job.name,
            Deployment.job_version == job.version,
            Deployment.kind == "deploy",
        )
        .order_by(Deployment.create_time.desc())
    )
    deployment = session.scalars(query.limit(1)).first()
    text = (deployment.build_logs or "") if deployment is not None else ""
    if tail:
        text = "\n".join(text.splitlines()[-tail:])
    return LogsResponse(logs=text)


@router.get("/job/{name}/{version}/build-logs/plain", response_model=None, responses=PLAIN_TEXT)
def build_logs_plain(job: ReadableJob, session: SessionDep, tail: Tail = 0) -> PlainTextResponse:
    """The build logs as plain text, without terminal colours."""
    return PlainTextResponse(_ANSI.sub("", build_logs(job, session, tail).logs))


class ManifestUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    manifest_yaml: str = Field(max_length=1_000_000, description="the job's manifest in YAML")


@router.put("/job/{name}/{version}/manifest", response_model=JobOut, dependencies=[NotInMaintenance])
def update_manifest(
    job: DeployableJob, body: ManifestUpdate, caller: LoggedIn, session: SessionDep, settings: SettingsDep
) -> JobOut:
    """Replaces the job's recorded manifest (scope deploy_job); a redeploy then builds and runs it."""
    try:
        data = yaml.safe_load(body.manifest_yaml)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"field `manifest_yaml`: not valid YAML: {exc}") from exc
    manifest = parse_manifest(data).manifest
    if (manifest.name, manifest.version) != (job.name, job.version):
        raise InvalidInput(
            f"manifest names job {manifest.name} v{manifest.version}, not {job.name} v{job.version}: "
            "a manifest edit keeps the name and version (deploy a new version to change them)"
        )
    job.manifest = body.manifest_yaml
    job.update_time = utcnow()
    record_audit(
        session, "job_manifest_updated", executor=actor(caller), job_name=job.name, job_version=job.version
    )
    session.flush()
    return job_out(job, settings)


@router.get("/job/{name}/{version}/public-endpoints", response_model=list[PublicEndpointOut])
def public_endpoints(job: ReadableJob, session: SessionDep) -> list[PublicEndpointOut]:
    """Endpoint prefixes the job asked to expose without auth; `active` once staff approved them."""
    rows = session.scalars(select(PublicEndpointRequest).where(PublicEndpointRequest.job_id == job.id))
    return [PublicEndpointOut(id=r.id, endpoint=r.endpoint, active=r.active) for r in rows]


def _readable_family(session: SessionDep, caller: LoggedIn, name: str) -> JobFamily:
    family = get_family(session, name)
    if family is None:
        raise NotFound(f"job family {name} was not found")
    if not has_permission(session, caller, Scope.read_job, family=family):
        raise Forbidden("no permission to do this operation", details=f'scope "read_job" on family {name}')
    return family


@router.get("/job_family/{name}/revisions", response_model=list[RevisionOut])
def revisions(name: str, caller: LoggedIn, session: SessionDep) -> list[RevisionOut]:
    """Revisions of the family's desired state, newest first."""
    family = _readable_family(session, caller, name)
    return [_revision_out(revision) for revision in list_revisions(session, family)]


def _revision_out(revision: FamilyRevision) -> RevisionOut:
    jobs = revision.desired_state.get("versions", []) if isinstance(revision.desired_state, dict) else []
    return RevisionOut(
        number=revision.number,
        target=revision.target,
        created_at=ts(revision.created_at),
        created_by=revision.created_by,
        operation=revision.operation,
        status=revision.status,
        error=revision.error,
        versions=[str(j.get("version")) for j in jobs if isinstance(j, dict) and j.get("version")],
        summary=revision.summary,
    )


def _masked(values: dict[str, Any], key: str) -> dict[str, str]:
    """Secret values as keyed fingerprints: a diff shows which changed, nobody learns them."""
    return {
        k: "(secret " + hmac.new(key.encode(), f"{k}={v}".encode(), hashlib.sha256).hexdigest()[:10] + ")"
        for k, v in sorted(values.items())
    }


@router.get("/job_family/{name}/revisions/{number}", response_model=RevisionDetail)
def revision(
    name: str,
    number: Annotated[int, Path(ge=1)],
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
    target: Annotated[str | None, Query(max_length=128)] = None,
) -> RevisionDetail:
    """One revision with the whole desired state it recorded; secret values appear as fingerprints."""
    # Imported when used: the deployer package brings in Pulumi, which the API alone does not need.
    from api.deployer.desired import find_revision
    from api.deployer.sealing import Sealer

    family = _readable_family(session, caller, name)
    found = find_revision(session, family, target or settings.default_infrastructure_target, number)
    state = json.loads(json.dumps(found.desired_state))
    sealer, key = Sealer(settings.data_dir), settings.signing_key()
    for version in state.get("versions", []):
        version["run"]["secret_env"] = _masked(sealer.unseal(version["run"].get("secret_env") or {}), key)
        for image in version.get("images", []):
            image["build_secrets"] = _masked(sealer.unseal(image.get("build_secrets") or {}), key)
    return RevisionDetail(**_revision_out(found).model_dump(), desired_state=state)


@router.post(
    "/job_family/{name}/rollback",
    response_model=DeploymentOut,
    status_code=202,
    dependencies=[NotInMaintenance],
    responses=error_responses(503),
)
def rollback(
    name: str,
    body: RollbackRequest,
    request: Request,
    caller: LoggedIn,
    session: SessionDep,
    settings: SettingsDep,
) -> DeploymentOut:
    """Records a rollback (or its preview) of the family to a revision or version; poll `GET /deploy/{id}`."""
    deployment = record_rollback(session, settings, caller, name, body)
    submit(session, settings, request.app.state.engine, deployment)
    return deployment_out(deployment, None, settings)
