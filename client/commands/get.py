"""`racetrack get ...`: read the local configuration and what the current server tells."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import yaml

from client import output
from client.commands._common import RemoteOpt
from client.config import config_path, load_config, resolve_remote
from client.errors import ClientError
from client.http import open_session

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Show the client's settings: config, remote, pub, auth token.")

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="print only the URL")]


def _mask(secret: str) -> str:
    return secret[:4] + "…" + secret[-4:] if len(secret) > 12 else "****"


@app.command("config")
def get_config(
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="print tokens and passwords in full")
    ] = False,
) -> None:
    """Show the whole client configuration (tokens and passwords masked unless --show-secrets)."""
    config = load_config()
    data: dict[str, Any] = config.to_dict()
    if not show_secrets:
        data["user_auths"] = {k: _mask(v) for k, v in data["user_auths"].items()}
        data["git_credentials"] = {
            k: {**v, "password": _mask(v.get("password", ""))} for k, v in data["git_credentials"].items()
        }
    output.note(f"# {config_path()}")
    output.echo(yaml.safe_dump(data, sort_keys=True, default_flow_style=False).rstrip())


@app.command("remote")
def get_remote(quiet: QuietOpt = False) -> None:
    """Show the current remote (the lifecycle URL commands use without --remote)."""
    config = load_config()
    url = resolve_remote(config, None)
    if quiet or not output.stdout_is_tty():
        output.echo(url)
    elif config.lifecycle_url == url:
        output.echo(f'Current remote is "{url}"')
    else:
        output.echo(f'Current remote is "{config.lifecycle_url}", resolving to {url}')


@app.command("pub")
def get_pub(quiet: QuietOpt = False, remote: RemoteOpt = None) -> None:
    """Show the pub address (where jobs are called), as the server reports it."""
    session = open_session(remote)
    pub = session.api.info().get("external_pub_url")
    if not pub:
        raise ClientError(f"the server at {session.lifecycle_url} does not report its pub address")
    if quiet or not output.stdout_is_tty():
        output.echo(str(pub))
    else:
        output.echo(f"Current pub URL is: {pub}")


@app.command("auth-token")
def get_auth_token(remote: RemoteOpt = None) -> None:
    """Print your stored token for a server.

    Example: curl -H "X-Racetrack-Auth: $(racetrack get auth-token)" ...
    """
    session = open_session(remote)
    output.echo(session.require_token())
