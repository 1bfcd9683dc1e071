"""`racetrack login` and `racetrack logout`: tokens per server in the config file."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

import typer

from client import output
from client.commands._common import RemoteOpt, read_secret_argument
from client.config import save_config
from client.errors import ClientError, Unauthenticated
from client.http import AUTH_HEADER, Api, open_session

__all__ = ["login", "logout"]


def login(
    token: Annotated[
        str | None,
        typer.Argument(
            help="your token, from the Profile page of the Racetrack dashboard; '-' reads it from stdin "
            "(keeps it out of the process list)",
            show_default=False,
        ),
    ] = None,
    username: Annotated[
        str | None, typer.Option("--username", help="log in with a username and a password prompt instead")
    ] = None,
    remote: RemoteOpt = None,
) -> None:
    """Store your token for a Racetrack server (checked with the server first).

    Example: racetrack login eyJhbGciOi... --remote dev
    """
    token = read_secret_argument(token)
    if not token and not username:
        raise typer.BadParameter(
            "give your TOKEN, or --username to be asked for a password", param_hint="TOKEN"
        )
    session = open_session(remote)
    if token:
        api = Api(session.lifecycle_url, token)
        try:
            answer = api.get("users/validate_user_auth")
        except Unauthenticated as exc:
            raise Unauthenticated(
                f"invalid token for {session.lifecycle_url}: {exc.server_message or exc.message}",
                hint="Copy the token again from the dashboard's Profile page.",
            ) from exc
        user = str((answer or {}).get("username", "")) if isinstance(answer, dict) else ""
    else:
        password = typer.prompt(f"Password for {username}", hide_input=True)
        response = session.api.send(
            "POST",
            session.api.url("users/login"),
            json_body={"username": username, "password": password},
            auth=False,
        )
        if response.status_code == 401:
            raise Unauthenticated(f"incorrect username or password for {session.lifecycle_url}")
        session.api.check(response)
        token = None
        try:
            body = response.json()
            token = body.get("token") if isinstance(body, dict) else None
        except ValueError:
            pass
        token = token or (unquote(response.cookies.get(AUTH_HEADER) or "") or None)
        if not token:
            raise ClientError("the server accepted the password but sent no token")
        user = str(username)
    session.config.user_auths[session.lifecycle_url] = token
    path = save_config(session.config)
    output.note(f"token saved in {path}")
    output.echo(f"Logged in{f' as {user}' if user else ''} to Racetrack: {session.lifecycle_url}")


def logout(remote: RemoteOpt = None) -> None:
    """Forget your token for a Racetrack server.

    Example: racetrack logout --remote dev
    """
    session = open_session(remote)
    if session.lifecycle_url not in session.config.user_auths:
        raise ClientError(
            f"not logged in to {session.lifecycle_url}",
            hint="See the servers you are logged in to with: racetrack get config",
        )
    del session.config.user_auths[session.lifecycle_url]
    save_config(session.config)
    output.echo(f"Logged out from Racetrack: {session.lifecycle_url}")
