"""`racetrack set ...`: change the local configuration."""

from __future__ import annotations

from typing import Annotated

import typer

from client import output
from client.commands._common import read_secret_argument
from client.config import load_config, resolve_remote, save_config, trim_url

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True, help="Change the client's settings: remote, aliases, git credentials."
)


@app.command("remote")
def set_remote(
    remote: Annotated[
        str, typer.Argument(help="a Racetrack server URL or an alias name", show_default=False)
    ],
) -> None:
    """Set the current remote, used by every command without --remote.

    Example: racetrack set remote dev
    """
    config = load_config()
    config.lifecycle_url = trim_url(remote)
    save_config(config)
    url = resolve_remote(config, None)
    looks_like_alias = not any(ch in remote for ch in ".:/") and remote != "localhost"
    if looks_like_alias and remote not in config.lifecycle_url_aliases:
        output.warn(
            f'"{remote}" is not an alias, so it is taken as a host name ({url}); '
            f"define it first with: racetrack set alias {remote} URL"
        )
    if url == config.lifecycle_url:
        output.echo(f'Current remote set to "{url}"')
    else:
        output.echo(f'Current remote set to "{config.lifecycle_url}", resolving to {url}')


@app.command("alias")
def set_alias(
    alias: Annotated[str, typer.Argument(help="short name for a server, e.g. dev", show_default=False)],
    url: Annotated[str, typer.Argument(help="the server's lifecycle URL", show_default=False)],
) -> None:
    """Name a Racetrack server, to write --remote ALIAS instead of its URL.

    Example: racetrack set alias dev https://racetrack.dev.example.com/lifecycle
    """
    config = load_config()
    config.lifecycle_url_aliases[alias] = trim_url(url)
    save_config(config)
    output.echo(f'Alias "{alias}" set to Racetrack URL {trim_url(url)}')


@app.command("credentials")
def set_credentials(
    repo_url: Annotated[
        str,
        typer.Argument(
            help="git repository URL, or a prefix of it such as https://github.com", show_default=False
        ),
    ],
    username: Annotated[str, typer.Argument(help="git username", show_default=False)],
    token: Annotated[
        str,
        typer.Argument(
            help="password or access token with read access; '-' reads it from stdin (keeps it out of the "
            "process list)",
            show_default=False,
        ),
    ],
) -> None:
    """Store read credentials for git repositories; deploys send them for matching URLs.

    Example: racetrack set credentials https://github.com/me/jobs me@example.com glpat-XXXX
    """
    token = read_secret_argument(token) or ""
    if not token:
        raise typer.BadParameter("the token is empty", param_hint="TOKEN")
    config = load_config()
    config.git_credentials[trim_url(repo_url)] = {"username": username, "password": token}
    save_config(config)
    output.echo(f"git credentials of {username} set for repository {trim_url(repo_url)}")
