"""Commands on deployed jobs: list, delete, logs, build-logs, call, move."""

from __future__ import annotations

import fnmatch
import json
import shlex
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer
import yaml

from client import output
from client.commands._common import (
    JobNameArg,
    OutputFormat,
    OutputOpt,
    RemoteOpt,
    VersionOpt,
    format_time,
    print_json,
    print_table,
)
from client.errors import ClientError, NotFound, OperationFailed
from client.http import AUTH_HEADER, Session, open_session
from client.live_logs import follow_logs
from client.lookup import job_lookup
from client.plan import render_plan
from client.progress import failure, wait_for_operation

__all__ = ["list_jobs", "delete", "logs", "build_logs", "call", "move", "Column"]


class Column(StrEnum):
    job_type = "job_type"
    infrastructure = "infrastructure"
    deployed_by = "deployed_by"
    updated_at = "updated_at"
    last_call_at = "last_call_at"
    pub_url = "pub_url"
    all = "all"


_COLUMNS: dict[Column, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    Column.job_type: ("JOB TYPE", lambda j: j.get("job_type_version")),
    Column.infrastructure: ("INFRASTRUCTURE", lambda j: j.get("infrastructure_target")),
    Column.deployed_by: ("DEPLOYED BY", lambda j: j.get("deployed_by")),
    Column.updated_at: ("UPDATED AT", lambda j: format_time(j.get("update_time"))),
    Column.last_call_at: ("LAST CALL AT", lambda j: format_time(j.get("last_call_time"))),
    Column.pub_url: ("PUB URL", lambda j: j.get("pub_url")),
}


def _matches(value: Any, pattern: str | None) -> bool:
    if pattern is None:
        return True
    text = "" if value is None else str(value)
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(text.lower(), pattern.lower())
    return pattern.lower() in text.lower()


def _with_pub_urls(session: Session, jobs: list[dict[str, Any]]) -> None:
    if all(j.get("pub_url") for j in jobs):
        return
    try:
        external = session.api.info().get("external_pub_url")
    except ClientError:
        external = None
    if not external:
        return
    for job in jobs:
        job.setdefault("pub_url", f"{str(external).rstrip('/')}/job/{job.get('name')}/{job.get('version')}")


def list_jobs(
    remote: RemoteOpt = None,
    column: Annotated[
        list[Column] | None,
        typer.Option(
            "--column", "-c", help="add a column (repeatable); 'all' adds every column", show_default=False
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="only names containing this text or matching this glob")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="only this version (or glob)")] = None,
    status: Annotated[
        str | None, typer.Option(help="only this status: running, starting, error, lost, ...")
    ] = None,
    deployed_by: Annotated[str | None, typer.Option(help="only jobs deployed by this user")] = None,
    infrastructure: Annotated[
        str | None, typer.Option(help="only jobs on this infrastructure target")
    ] = None,
    output_format: OutputOpt = OutputFormat.text,
) -> None:
    """List the deployed jobs: NAME, VERSION, STATUS and the columns chosen with -c.

    Example: racetrack list -c deployed_by -c pub_url --status running
    """
    session = open_session(remote)
    jobs = session.api.get("job") or []
    if not isinstance(jobs, list):
        raise ClientError(f"unexpected answer to GET /api/v1/job: {str(jobs)[:200]}")
    jobs = [
        j
        for j in jobs
        if isinstance(j, dict)
        and _matches(j.get("name"), name)
        and (version is None or fnmatch.fnmatchcase(str(j.get("version")), version))
        and (status is None or str(j.get("status", "")).lower() == status.lower())
        and (deployed_by is None or str(j.get("deployed_by")) == deployed_by)
        and (infrastructure is None or str(j.get("infrastructure_target")) == infrastructure)
    ]
    columns = (
        list(_COLUMNS) if column and Column.all in column else [c for c in _COLUMNS if c in (column or [])]
    )
    if Column.pub_url in columns or output_format is OutputFormat.json:
        _with_pub_urls(session, jobs)
    if output_format is OutputFormat.json:
        print_json(jobs)
        return
    if not jobs:
        output.echo(
            f"No jobs deployed at {session.lifecycle_url}"
            + (
                " match the filters."
                if any(f is not None for f in (name, version, status, deployed_by, infrastructure))
                else "."
            )
        )
        return
    output.note(f"Jobs ({len(jobs)}) deployed at {session.lifecycle_url}:")
    header = ["NAME", "VERSION", "STATUS"] + [_COLUMNS[c][0] for c in columns]
    rows = [
        [j.get("name"), j.get("version"), str(j.get("status", "")).upper()]
        + [_COLUMNS[c][1](j) for c in columns]
        for j in jobs
    ]
    print_table(header, rows)


def delete(
    name: JobNameArg,
    version: Annotated[
        str, typer.Option("--version", help="exact version of the job to delete", show_default=False)
    ],
    remote: RemoteOpt = None,
) -> None:
    """Delete one version of a job.

    Example: racetrack delete adder --version 0.0.1
    """
    session = open_session(remote)
    with job_lookup(session, name, version):
        answer = session.api.delete(f"job/{name}/{version}")
    # the server may delete in the background and answer with the operation to poll
    if (
        isinstance(answer, dict)
        and answer.get("id")
        and str(answer.get("status", "")).lower() == "in_progress"
    ):
        record = wait_for_operation(
            session, str(answer["id"]), title=f'Deleting job "{name}" v{version}', what="deletion"
        )
        if str(record.get("status")).lower() == "failed":
            raise OperationFailed(failure(f'deletion of job "{name}" v{version}', record))
    elif isinstance(answer, dict) and str(answer.get("status", "")).lower() == "failed":
        raise OperationFailed(failure(f'deletion of job "{name}" v{version}', answer))
    output.echo(f'Job "{name}" v{version} has been deleted from {session.lifecycle_url}')


def _exact_version(session: Session, name: str, version: str) -> str:
    with job_lookup(session, name, version):
        job = session.api.get(f"job/{name}/{version}")
    return str(job.get("version") or version) if isinstance(job, dict) else version


def _logs_text(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("logs") or "")
    return "" if body is None else str(body)


def logs(
    name: JobNameArg,
    version: VersionOpt = "latest",
    remote: RemoteOpt = None,
    tail: Annotated[int, typer.Option("--tail", help="number of recent lines to show", min=0)] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new lines (Ctrl-C stops)")
    ] = False,
) -> None:
    """Show a job's runtime logs.

    Example: racetrack logs adder --tail 100 --follow
    """
    session = open_session(remote)
    exact = _exact_version(session, name, version)
    output.note(f'Logs of job "{name}" v{exact} at {session.lifecycle_url}:')
    if follow:
        # The lifecycle pushes new lines over Socket.IO (as for upstream's client): nothing is polled.
        follow_logs(session.lifecycle_url, session.token, name, exact, tail, output.echo)
        output.warn("the log stream ended: the job stopped, was replaced or was deleted")
        return
    with job_lookup(session, name, exact):
        text = _logs_text(session.api.get(f"job/{name}/{exact}/logs", params={"tail": tail}))
    for line in text.splitlines():
        output.echo(line)


def build_logs(
    name: JobNameArg,
    version: VersionOpt = "latest",
    remote: RemoteOpt = None,
    tail: Annotated[
        int, typer.Option("--tail", help="number of recent lines to show; 0 shows all", min=0)
    ] = 0,
) -> None:
    """Show the log of the job's latest image build.

    Example: racetrack build-logs adder --version 0.0.1
    """
    session = open_session(remote)
    with job_lookup(session, name, version):
        text = _logs_text(session.api.get(f"job/{name}/{version}/build-logs", params={"tail": tail}))
    output.note(f'Build log of job "{name}" v{version} ({len(text.splitlines())} lines):')
    output.echo(text.rstrip("\n"))


def _parse_payload(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except json.JSONDecodeError:
        try:
            data = yaml.safe_load(payload)
        except yaml.YAMLError as exc:
            raise typer.BadParameter(f"not JSON or YAML: {exc}", param_hint="PAYLOAD") from exc
    if not isinstance(data, dict):
        raise typer.BadParameter(
            "must be a JSON or YAML object, e.g. '{\"numbers\": [40, 2]}'", param_hint="PAYLOAD"
        )
    return data


def call(
    name: JobNameArg,
    endpoint: Annotated[
        str, typer.Argument(help="the job's endpoint, e.g. /api/v1/perform", show_default=False)
    ],
    payload: Annotated[str, typer.Argument(help="request body, JSON or YAML, e.g. '{\"numbers\": [40, 2]}'")],
    version: VersionOpt = "latest",
    remote: RemoteOpt = None,
    curl: Annotated[
        bool, typer.Option("--curl", help="print the equivalent curl command instead of calling")
    ] = False,
) -> None:
    """Call a job's endpoint through pub and print the answer.

    Example: racetrack call adder /api/v1/perform '{"numbers": [40, 2]}'
    """
    body = _parse_payload(payload)
    session = open_session(remote)
    with job_lookup(session, name, version):
        job = session.api.get(f"job/{name}/{version}")
    job = job if isinstance(job, dict) else {}
    pub_url = job.get("pub_url")
    if not pub_url:
        external = session.api.info().get("external_pub_url")
        if not external:
            raise ClientError("the server did not tell the pub address (external_pub_url in /api/v1/info)")
        pub_url = f"{str(external).rstrip('/')}/job/{name}/{job.get('version') or version}"
    url = str(pub_url).rstrip("/") + "/" + endpoint.lstrip("/")
    if curl:
        token = session.token or ""
        lines = [f"curl -X POST {shlex.quote(url)}"]
        if token:
            lines.append(f"-H {shlex.quote(f'{AUTH_HEADER}: {token}')}")
        lines += [
            "-H 'Accept: application/json'",
            "-H 'Content-Type: application/json'",
            f"-d {shlex.quote(json.dumps(body))}",
        ]
        output.echo(" \\\n  ".join(lines))
        return
    output.note(f'Calling job "{name}" v{job.get("version") or version} at {url}')
    response = session.api.send("POST", url, json_body=body)
    if not response.is_success:
        message = response.text.strip()
        try:
            message = str(response.json().get("error") or message)
        except (ValueError, AttributeError):
            pass
        raise ClientError(f"the job answered {response.status_code}: {message[:500]}")
    try:
        print_json(response.json())
    except ValueError:
        output.echo(response.text)


def move(
    name: JobNameArg,
    version: Annotated[str, typer.Option("--version", help="version of the job to move", show_default=False)],
    infrastructure: Annotated[
        str, typer.Option("--infrastructure", help="infrastructure target to move to", show_default=False)
    ],
    preview: Annotated[
        bool, typer.Option("--preview", help="only show what the move would change on each target")
    ] = False,
    remote: RemoteOpt = None,
) -> None:
    """Move a job version to another infrastructure target (its image is reused, not rebuilt).

    The move is a revision on each target (see `racetrack history`); move it back to undo it.

    Example: racetrack move adder --version 0.0.1 --infrastructure kubernetes
    """
    session = open_session(remote)
    subject = f'job "{name}" v{version}'
    try:
        with job_lookup(session, name, version):
            answer = session.api.post(
                f"job/{name}/{version}/move",
                json_body={"infrastructure_target": infrastructure, "preview": preview},
                params={"wait": "false"},
            )
    except NotFound as exc:
        if exc.hint is None:  # the job exists: the server does not know the move route
            raise NotFound(
                f"cannot move {subject}: {exc.server_message or exc.message}",
                hint="This server may not support moving jobs between infrastructure targets; "
                "redeploy with -e infrastructure_target=TARGET instead.",
            ) from exc
        raise
    op_id = str(answer.get("id", "")) if isinstance(answer, dict) else ""
    if not op_id:
        raise ClientError(f"the server started no move operation: {str(answer)[:200]}")
    action = "Previewing the move" if preview else "Moving"
    record = wait_for_operation(
        session, op_id, title=f"{action} of {subject} to {infrastructure}", what="move"
    )
    if str(record.get("status")).lower() == "failed":
        raise OperationFailed(failure(f"move of {subject} to {infrastructure}", record))
    if preview:
        output.echo(f"Moving {subject} to {infrastructure} would change:")
        output.echo()
        for line in render_plan(record.get("preview") or {}):
            output.echo(line)
        return
    output.echo(
        f"{subject[0].upper()}{subject[1:]} has been moved to {infrastructure} at {session.lifecycle_url}"
    )
