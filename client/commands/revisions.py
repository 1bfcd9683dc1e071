"""`racetrack history [--diff N M]`, `rollback`, `refresh` (drift report) and `reconcile`: a job family's
revisions of desired state and how what runs compares with them."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

import typer
import yaml

from client import output
from client.commands._common import (
    JobNameArg,
    OutputFormat,
    OutputOpt,
    RemoteOpt,
    format_time,
    print_json,
    print_table,
    remote_flag,
)
from client.errors import ClientError, OperationFailed
from client.http import Session, open_session
from client.lookup import job_lookup
from client.plan import plan_has_changes, render_plan
from client.progress import failure, wait_for_operation

__all__ = ["history", "rollback", "refresh", "reconcile"]


def _versions(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value in (None, "") else str(value)


def _revision_yaml(session: Session, name: str, number: int, target: str | None) -> list[str]:
    params = {"target": target} if target else None
    with job_lookup(session, name):
        detail = session.api.get(f"job_family/{name}/revisions/{number}", params=params)
    state = detail.get("desired_state") if isinstance(detail, dict) else None
    if not isinstance(state, dict):
        raise ClientError(f"unexpected answer for revision {number} of {name}: {str(detail)[:200]}")
    return yaml.safe_dump(state, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def _print_diff(session: Session, name: str, old: int, new: int, target: str | None) -> None:
    before = _revision_yaml(session, name, old, target)
    after = _revision_yaml(session, name, new, target)
    lines = list(difflib.unified_diff(before, after, f"revision {old}", f"revision {new}"))
    if not lines:
        output.echo(f'Revisions {old} and {new} of job "{name}" describe the same desired state.')
        return
    for line in lines:
        output.echo(line.rstrip("\n"))


def history(
    name: JobNameArg,
    remote: RemoteOpt = None,
    output_format: OutputOpt = OutputFormat.text,
    diff: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--diff",
            help="show what changed in the desired state from revision N to revision M",
            metavar="N M",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="infrastructure target of the revisions (default: the platform's)"),
    ] = None,
) -> None:
    """List a job's revisions, newest first: number, when, who, operation, versions, result.

    Example: racetrack history adder; racetrack history adder --diff 2 3
    """
    session = open_session(remote)
    if diff is not None:
        _print_diff(session, name, diff[0], diff[1], target)
        return
    with job_lookup(session, name):
        revisions = session.api.get(f"job_family/{name}/revisions") or []
    if not isinstance(revisions, list):
        raise ClientError(f"unexpected answer for the revisions of {name}: {str(revisions)[:200]}")
    if output_format is OutputFormat.json:
        print_json(revisions)
        return
    if not revisions:
        output.echo(f'Job "{name}" has no revisions yet.')
        return
    # the infrastructure target only matters when the family's revisions span several
    with_target = len({str(rev.get("target")) for rev in revisions if rev.get("target")}) > 1
    rows = []
    for rev in revisions:
        result = str(rev.get("status") or "-")
        if rev.get("error"):
            result += f": {str(rev['error']).splitlines()[0][:60]}"
        rows.append(
            [
                rev.get("number"),
                format_time(rev.get("created_at")),
                rev.get("created_by"),
                rev.get("operation"),
                _versions(rev.get("versions")),
                result,
            ]
            + ([rev.get("target")] if with_target else [])
        )
    header = ["REV", "WHEN", "WHO", "OPERATION", "VERSIONS", "RESULT"]
    print_table(header + (["TARGET"] if with_target else []), rows)


def _start(session: Session, name: str, body: dict[str, Any]) -> str:
    with job_lookup(session, name, body.get("version")):
        answer = session.api.post(f"job_family/{name}/rollback", json_body=body)
    return _operation_id(answer, "rollback")


def _operation_id(answer: Any, what: str) -> str:
    op_id = str((answer or {}).get("id", "")) if isinstance(answer, dict) else ""
    if not op_id:
        raise ClientError(f"the server started no {what} operation: {str(answer)[:200]}")
    return op_id


def _check(record: dict[str, Any], action: str, name: str, remote: str | None) -> None:
    if str(record.get("status")).lower() == "failed":
        raise OperationFailed(
            failure(action, record),
            hint=f"See what happened with: racetrack history {name}{remote_flag(remote)}",
        )


def rollback(
    name: JobNameArg,
    version: Annotated[
        str | None,
        typer.Option("--version", help="roll back only this version of the job", show_default=False),
    ] = None,
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            help="revision number to return to (default: the one before the current)",
            show_default=False,
            min=1,
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    remote: RemoteOpt = None,
) -> None:
    """Return a job to an earlier revision: shows the plan, asks, then applies it.

    Example: racetrack rollback adder --to 3
    """
    session = open_session(remote)
    target = f"revision {to}" if to else "the previous revision"
    subject = f'job "{name}"' + (f" v{version}" if version else "")
    body: dict[str, Any] = {"to_revision": to, "version": version, "preview": True}
    op_id = _start(session, name, body)
    record = wait_for_operation(
        session, op_id, title=f"Previewing the rollback of {subject} to {target}", what="rollback preview"
    )
    if str(record.get("status")).lower() == "failed":
        raise OperationFailed(
            f"cannot roll back {subject} to {target}: {record.get('error') or 'no reason given'}",
            hint=f"See the revisions with: racetrack history {name}{remote_flag(remote)}",
        )
    plan = record.get("preview") or {}
    if plan:
        output.echo(f"Rolling back {subject} to {target} would change:")
        output.echo()
        for line in render_plan(plan):
            output.echo(line)
    else:
        output.warn("the server sent no plan for this rollback")
    if plan and not plan_has_changes(plan):
        output.echo("Nothing to roll back.")
        return
    if not yes:
        output.echo()
        try:
            confirmed = typer.confirm("Do you want to perform this rollback?", default=False)
        except typer.Abort as exc:
            raise ClientError(
                "no answer to the confirmation (stdin is closed)",
                hint="Pass --yes to roll back without being asked.",
            ) from exc
        if not confirmed:
            output.echo("Rollback cancelled.")
            raise typer.Exit(1)
    body["preview"] = False
    op_id = _start(session, name, body)
    record = wait_for_operation(session, op_id, title=f"Rolling back {subject} to {target}", what="rollback")
    _check(record, f"rollback of {subject}", name, remote)
    output.echo(f"Rolled back {subject} to {target}.")


def refresh(
    name: JobNameArg,
    remote: RemoteOpt = None,
    output_format: OutputOpt = OutputFormat.text,
) -> None:
    """Report drift: how what runs differs from the job's last applied revision. Changes nothing.

    Example: racetrack refresh adder
    """
    session = open_session(remote)
    with job_lookup(session, name):
        answer = session.api.post(f"job_family/{name}/refresh")
    op_id = _operation_id(answer, "refresh")
    record = wait_for_operation(
        session, op_id, title=f'Comparing job "{name}" with what runs', what="refresh"
    )
    _check(record, f'refresh of job "{name}"', name, remote)
    plan = record.get("preview") or {}
    if output_format is OutputFormat.json:
        print_json(plan)
        return
    if not plan or not plan_has_changes(plan):
        output.echo(f'No drift: job "{name}" runs as its last applied revision describes.')
        return
    output.echo(f'Job "{name}" has drifted from its last applied revision:')
    output.echo()
    for line in render_plan(plan):
        output.echo(line)
    output.echo()
    output.echo(f"Bring it back with: racetrack reconcile {name}{remote_flag(remote)}")


def reconcile(
    name: JobNameArg,
    version: Annotated[
        str, typer.Option("--version", help="a version of the job (its family is reconciled)")
    ] = "latest",
    remote: RemoteOpt = None,
) -> None:
    """Re-apply the job's last applied revision: brings back containers removed or changed by hand.

    Example: racetrack reconcile adder
    """
    session = open_session(remote)
    with job_lookup(session, name, version):
        answer = session.api.post(f"job/{name}/{version}/reprovision")
    op_id = _operation_id(answer, "reconcile")
    record = wait_for_operation(session, op_id, title=f'Reconciling job "{name}"', what="reconcile")
    _check(record, f'reconcile of job "{name}"', name, remote)
    output.echo(f'Job "{name}" runs as its last applied revision describes again.')
