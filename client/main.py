"""The `racetrack` command: the root Typer app, its global options and error handling.

Every error the user can act on is a `client.errors.ClientError`, printed as `Error: ...` plus what to
do, exit 1; usage errors exit 2; Ctrl-C exits 130. Anything else is a bug: one line, and the
traceback only with --verbose.
"""

from __future__ import annotations

import traceback
from importlib import metadata
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from client import output
from client.commands import auth, deploy, get, jobs, plugin, revisions, run_local
from client.commands import set as set_cmd
from client.errors import ClientError
from client.http import close_all

__all__ = ["app", "main"]


class _RootGroup(TyperGroup):
    """Turns ClientError and unexpected exceptions into messages instead of tracebacks."""

    def invoke(self, ctx: Any) -> Any:  # typer's own Context class is private (typer._click)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, BrokenPipeError):
            raise  # typer reports these itself (a closed pipe, e.g. `| head`, ends quietly)
        except ClientError as exc:
            if output.state.verbose and exc.__cause__ is not None:
                typer.echo("".join(traceback.format_exception(exc)), err=True)
            output.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from exc
        except KeyboardInterrupt as exc:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(130) from exc
        except Exception as exc:
            if output.state.verbose:
                typer.echo("".join(traceback.format_exception(exc)), err=True)
                hint = "This is a bug in the racetrack client; please report it with the traceback above."
            else:
                hint = "This is a bug in the racetrack client; run again with --verbose to see the traceback."
            output.error(f"unexpected {type(exc).__name__}: {exc}", hint)
            raise typer.Exit(1) from exc
        finally:
            close_all()


app = typer.Typer(
    name="racetrack",
    cls=_RootGroup,
    no_args_is_help=True,
    help="CLI client of Racetrack (on Pulumi): deploy jobs, preview changes, roll back, call and watch them.",
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="more output, and tracebacks on errors")
    ] = False,
) -> None:
    """CLI client of Racetrack: turns a job directory with job.yaml into an authenticated microservice."""
    output.state.verbose = verbose


def _version_string() -> str:
    for distribution in ("racetrack-pulumi", "racetrack-pulumi-client"):  # with the server, or alone
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "0.1.0"


@app.command("version")
def version() -> None:
    """Show the client's version."""
    output.echo(f"racetrack-client version {_version_string()} (Racetrack on Pulumi)")


app.command("deploy")(deploy.deploy)
app.command("preview")(deploy.preview)
app.command("validate")(deploy.validate)
app.command("run-local")(run_local.run_local)
app.command("list")(jobs.list_jobs)
app.command("delete", no_args_is_help=True)(jobs.delete)
app.command("logs", no_args_is_help=True)(jobs.logs)
app.command("build-logs", no_args_is_help=True)(jobs.build_logs)
app.command("call", no_args_is_help=True)(jobs.call)
app.command("move", no_args_is_help=True)(jobs.move)
app.command("history", no_args_is_help=True)(revisions.history)
app.command("rollback", no_args_is_help=True)(revisions.rollback)
app.command("refresh", no_args_is_help=True)(revisions.refresh)
app.command("reconcile", no_args_is_help=True)(revisions.reconcile)
app.command("login", no_args_is_help=True)(auth.login)
app.command("logout")(auth.logout)
app.add_typer(get.app, name="get")
app.add_typer(set_cmd.app, name="set")
app.add_typer(plugin.app, name="plugin")


def main() -> None:
    """Entry point of the `racetrack` script."""
    app(prog_name="racetrack")


if __name__ == "__main__":
    main()
