"""`racetrack deploy`, `racetrack preview` and `racetrack validate`: a manifest going to the server."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
import yaml

from client import output
from client.build_context import encode_build_context, format_size
from client.commands._common import OutputFormat, OutputOpt, RemoteOpt, print_json, remote_flag
from client.config import is_localhost, match_git_credentials
from client.errors import AlreadyExists, ClientError, InvalidInput, OperationFailed
from client.http import Session, open_session
from client.manifest import (
    LoadedManifest,
    load_manifest,
    parse_extra_vars,
    read_piped_stdin,
    read_secret_vars,
    validate_manifest,
)
from client.plan import mask_secrets, render_plan
from client.progress import build_failure_fix, failure, telling_lines, wait_for_operation

__all__ = ["deploy", "preview", "validate", "BuildContextMethod"]


class BuildContextMethod(StrEnum):
    local = "local"
    git = "git"


WorkdirArg = Annotated[
    str,
    typer.Argument(
        help="the job's directory (holding job.yaml) or its manifest file; "
        "a manifest piped on stdin (or '-') is read instead, relative paths staying under this directory"
    ),
]
ExtraVarsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--extra-vars",
        "-e",
        help="KEY=VALUE overriding a manifest field; KEY may be dotted (git.branch=dev), "
        "VALUE is YAML; repeatable",
        show_default=False,
    ),
]
ForceOpt = Annotated[
    bool, typer.Option("--force", help="overwrite the job version if it is already deployed")
]
BuildContextOpt = Annotated[
    BuildContextMethod | None,
    typer.Option(
        "--build-context",
        help="build from the local files ('local', sent as a tar.gz honouring .gitignore) or from the git "
        "repository ('git'). Default: local for a localhost server and owner_email sample@example.com, "
        "else git",
        show_default=False,
    ),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="build the image without the build cache")]


def _load(workdir: str, extra_vars: list[str] | None) -> LoadedManifest:
    pairs = parse_extra_vars(extra_vars)
    stdin_text = read_piped_stdin()
    if workdir == "-":
        if stdin_text is None:
            raise typer.BadParameter(
                "'-' reads the manifest from stdin, but nothing was piped", param_hint="'-'"
            )
        return load_manifest(".", pairs, stdin_text=stdin_text)
    return load_manifest(workdir, pairs, stdin_text=stdin_text)


def _check(manifest: LoadedManifest) -> None:
    problems = validate_manifest(manifest.data)
    if problems:
        raise InvalidInput(
            f"invalid manifest {manifest.source}:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="Fix the fields above (see `racetrack validate`), then try again.",
        )


def _payload(
    session: Session,
    manifest: LoadedManifest,
    *,
    build_context: BuildContextMethod | None,
    force: bool,
    no_cache: bool,
) -> tuple[dict[str, Any], set[str]]:
    """The `POST /deploy` body, and the secret values (to mask them in anything printed)."""
    raw_git = manifest.data.get("git")
    git: dict[str, Any] = raw_git if isinstance(raw_git, dict) else {}
    method = build_context
    if method is None:
        local = (
            is_localhost(session.lifecycle_url) and manifest.data.get("owner_email") == "sample@example.com"
        )
        method = BuildContextMethod.local if local else BuildContextMethod.git
        if local:
            output.note("using the local build context: localhost server and a sample job")
    encoded: str | None = None
    if method is BuildContextMethod.local:
        secret_files = set()
        for field in ("secret_build_env_file", "secret_runtime_env_file"):
            if manifest.data.get(field):
                path = (manifest.job_dir / str(manifest.data[field])).resolve()
                if path.is_relative_to(manifest.job_dir.resolve()):
                    secret_files.add(path.relative_to(manifest.job_dir.resolve()).as_posix())
        context = encode_build_context(manifest.job_dir, exclude=secret_files)
        encoded = context.encoded
        output.note(f"local build context: {context.files} files, {format_size(context.size)} encoded")
    credentials = match_git_credentials(session.config, str(git.get("remote") or ""))
    if credentials:
        output.note(
            f"sending the git credentials of user {credentials.get('username')} for {git.get('remote')}"
        )
    secret_vars = read_secret_vars(manifest)
    secrets = {v for env in secret_vars.values() for v in env.values() if v}
    if credentials and credentials.get("password"):
        secrets.add(credentials["password"])
    body = {
        "manifest": manifest.data,
        "git_credentials": credentials,
        "secret_vars": secret_vars,
        "build_context": encoded,
        "force": force,
        "build_flags": ["--no-cache"] if no_cache else [],
    }
    return body, secrets


def job_urls(session: Session, record: dict[str, Any], name: str, version: str) -> tuple[str, str]:
    """The job's pub URL (`{pub}/job/{name}/{version}/`) and its Swagger page (`.../docs`)."""
    raw_job = record.get("job")
    job: dict[str, Any] = raw_job if isinstance(raw_job, dict) else {}
    pub_url = job.get("pub_url")
    version = str(job.get("version") or version)
    if not pub_url:
        try:
            external = session.api.info().get("external_pub_url")
        except ClientError:
            external = None
        base = str(external or session.lifecycle_url.rsplit("/lifecycle", 1)[0] + "/pub").rstrip("/")
        pub_url = f"{base}/job/{name}/{version}"
    pub_url = str(pub_url).rstrip("/")
    return pub_url + "/", pub_url + "/docs"


def deploy(
    workdir: WorkdirArg = ".",
    legacy_remote: Annotated[
        str | None,
        typer.Argument(metavar="[REMOTE]", help="deprecated, use --remote", show_default=False),
    ] = None,
    remote: RemoteOpt = None,
    force: ForceOpt = False,
    build_context: BuildContextOpt = None,
    extra_vars: ExtraVarsOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Deploy a job: send its manifest, wait until it serves, print its URL.

    Example: racetrack deploy sample/python-class --remote dev -e version=0.0.2
    """
    if legacy_remote:
        output.warn("the REMOTE argument is deprecated; use --remote")
        remote = remote or legacy_remote
    manifest = _load(workdir, extra_vars)
    _check(manifest)
    session = open_session(remote)
    name, version = manifest.name, manifest.version
    body, _secrets = _payload(session, manifest, build_context=build_context, force=force, no_cache=no_cache)
    try:
        answer = session.api.post("deploy", json_body=body)
    except AlreadyExists as exc:
        raise AlreadyExists(
            exc.server_message or exc.message,
            hint=f"To overwrite job {name} v{version}, deploy again with --force.",
        ) from exc
    except InvalidInput as exc:
        raise InvalidInput(
            f"the server rejected the manifest: {exc.server_message or exc.message}",
            hint="Fix job.yaml (check it with `racetrack validate`), then deploy again.",
        ) from exc
    deploy_id = str((answer or {}).get("id", ""))
    if not deploy_id:
        raise ClientError(f"the server accepted the deployment but returned no id: {str(answer)[:200]}")
    record = wait_for_operation(
        session,
        deploy_id,
        title=f'Deploying job "{name}" v{version} to {session.lifecycle_url} (deployment {deploy_id})',
    )
    if str(record.get("status")).lower() == "failed":
        full_log = f"racetrack build-logs {name} --version {version}{remote_flag(remote)}"
        build_log = record.get("build_logs") if isinstance(record.get("build_logs"), str) else ""
        if build_log:
            typer.echo("The build log says:", err=True)
            for line in telling_lines(build_log):
                typer.echo(f"  | {line}", err=True)
        fix = build_failure_fix(build_log or "", str(record.get("error") or ""))
        if fix:
            hint = f"{fix}\nThe whole build log: {full_log}"
        elif record.get("phase"):
            hint = f"See the build log: {full_log}"
        else:
            hint = "It stopped before the build started; if the reason is unclear, ask your Racetrack admin."
        raise OperationFailed(failure(f'deployment of job "{name}" v{version}', record), hint=hint)
    url, docs = job_urls(session, record, name, version)
    output.echo(f'Job "{name}" v{version} is deployed.')
    output.echo(f"  URL:     {url}")
    output.echo(f"  Swagger: {docs}")


def preview(
    workdir: WorkdirArg = ".",
    remote: RemoteOpt = None,
    build_context: BuildContextOpt = None,
    extra_vars: ExtraVarsOpt = None,
    output_format: OutputOpt = OutputFormat.text,
    show_unchanged: Annotated[
        bool, typer.Option("--show-unchanged", help="list unchanged resources too")
    ] = False,
) -> None:
    """Show what a deploy would change, without changing anything.

    Lists resources to create (+), update (~), replace (-/+) and delete (-) with the properties that
    change, old -> new; secrets are masked. Example: racetrack preview . -e replicas=2
    """
    manifest = _load(workdir, extra_vars)
    _check(manifest)
    session = open_session(remote)
    body, secrets = _payload(session, manifest, build_context=build_context, force=True, no_cache=False)
    try:
        answer = session.api.post("deploy/preview", json_body=body)
    except InvalidInput as exc:
        raise InvalidInput(
            f"the server rejected the manifest: {exc.server_message or exc.message}",
            hint="Fix job.yaml (check it with `racetrack validate`), then try again.",
        ) from exc
    op_id = str((answer or {}).get("id", ""))
    record = wait_for_operation(
        session,
        op_id,
        title=f'Previewing job "{manifest.name}" v{manifest.version} at {session.lifecycle_url}',
        what="preview",
    )
    if str(record.get("status")).lower() == "failed":
        raise OperationFailed(failure(f'preview of job "{manifest.name}" v{manifest.version}', record))
    plan = mask_secrets(record.get("preview") or {}, secrets)
    if output_format is OutputFormat.json:
        print_json(plan)
        return
    output.echo(f'Plan for job "{manifest.name}" v{manifest.version} at {session.lifecycle_url}:')
    output.echo()
    for line in render_plan(plan, show_unchanged=show_unchanged):
        output.echo(line)


def validate(
    path: Annotated[str, typer.Argument(help="a job manifest file or a directory holding job.yaml")] = ".",
    extra_vars: ExtraVarsOpt = None,
) -> None:
    """Check a manifest (with its `extends` base and -e overrides) and print the final YAML."""
    manifest = _load(path, extra_vars)
    _check(manifest)
    output.note(f"Manifest {manifest.source} is valid")
    output.echo(yaml.safe_dump(manifest.data, sort_keys=False, default_flow_style=False).rstrip())
