"""`racetrack plugin ...`: plugins installed on a server (staff only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from client import output
from client.commands._common import OutputFormat, OutputOpt, RemoteOpt, print_json
from client.errors import ClientError, InvalidInput, NotFound
from client.http import Api, open_session

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Install, list and uninstall plugins on a Racetrack server.")

GITHUB_API = "https://api.github.com"


def _download(api: Api, url: str, headers: dict[str, str] | None = None) -> bytes:
    response = api.send("GET", url, headers=headers, auth=False)
    if not response.is_success:
        raise ClientError(f"downloading {url} failed: {response.status_code} {response.reason_phrase}")
    return response.content


def _github_release_zip(api: Api, spec: str) -> tuple[str, bytes]:
    """`github.com/OWNER/REPO[==VERSION]` -> the first .zip asset of that (or the latest) release."""
    repo_path, _, version = spec.removeprefix("github.com/").partition("==")
    headers = {"Accept": "application/vnd.github+json"}
    if os.environ.get("GITHUB_TOKEN"):
        headers["Authorization"] = f"Bearer {os.environ['GITHUB_TOKEN']}"
    if version:
        release_url = f"{GITHUB_API}/repos/{repo_path}/releases/tags/{version}"
    else:
        release_url = f"{GITHUB_API}/repos/{repo_path}/releases/latest"
    response = api.send("GET", release_url, headers=headers, auth=False)
    if response.status_code == 404 and version and not version.startswith("v"):
        response = api.send(
            "GET", f"{GITHUB_API}/repos/{repo_path}/releases/tags/v{version}", headers=headers, auth=False
        )
    if not response.is_success:
        raise NotFound(f"no release {version or 'latest'} of github.com/{repo_path} ({response.status_code})")
    release = response.json()
    assets = [a for a in release.get("assets", []) if str(a.get("name", "")).endswith(".zip")]
    if not assets:
        raise NotFound(f"release {release.get('tag_name')} of github.com/{repo_path} has no .zip asset")
    asset = assets[0]
    return str(asset["name"]), _download(api, str(asset["browser_download_url"]))


def _load_plugin(api: Api, uri: str) -> tuple[str, bytes]:
    local = Path(uri).expanduser()
    if local.is_file():
        return local.name, local.read_bytes()
    if uri.startswith(("http://", "https://")) and uri.endswith(".zip"):
        return Path(urlsplit(uri).path).name, _download(api, uri)
    if uri.startswith("github.com/"):
        return _github_release_zip(api, uri)
    raise InvalidInput(
        f"cannot find plugin {uri}",
        hint="Give a local .zip file, an http(s) URL of a .zip, or github.com/OWNER/REPO[==VERSION].",
    )


@app.command("install")
def install(
    uri: Annotated[
        str,
        typer.Argument(
            help="a local .zip file, an http(s) URL of a .zip, or github.com/OWNER/REPO[==VERSION]",
            show_default=False,
        ),
    ],
    remote: RemoteOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="remove other versions of the same plugin")
    ] = False,
) -> None:
    """Install a plugin on a server.

    Example: racetrack plugin install github.com/TheRacetrack/plugin-python-job-type
    """
    session = open_session(remote)
    filename, content = _load_plugin(session.api, uri)
    output.note(f"uploading {filename} ({len(content)} bytes) to {session.lifecycle_url}")
    answer = session.api.post(
        f"plugin/upload/{filename}",
        content=content,
        params={"replace": int(replace)},
        headers={"Content-Type": "application/octet-stream"},
    )
    answer = answer if isinstance(answer, dict) else {}
    output.echo(
        f"Plugin {answer.get('name', filename)} {answer.get('version', '')} installed on "
        f"{session.lifecycle_url}".replace("  ", " ")
    )


@app.command("list")
def list_plugins(
    remote: RemoteOpt = None,
    job_types: Annotated[
        bool, typer.Option("--job-types", help="list the job type versions instead")
    ] = False,
    output_format: OutputOpt = OutputFormat.text,
) -> None:
    """List the plugins installed on a server."""
    session = open_session(remote)
    items: Any = session.api.get("plugin/job_type/versions" if job_types else "plugin") or []
    if output_format is OutputFormat.json:
        print_json(items)
        return
    for item in items:
        output.echo(
            str(item)
            if job_types or not isinstance(item, dict)
            else f"{item.get('name')}=={item.get('version')}"
        )


@app.command("uninstall")
def uninstall(
    name: Annotated[str, typer.Argument(help="plugin name", show_default=False)],
    version: Annotated[str, typer.Option("--version", help="plugin version", show_default=False)],
    remote: RemoteOpt = None,
) -> None:
    """Uninstall a plugin version from a server."""
    session = open_session(remote)
    session.api.delete(f"plugin/{name}/{version}")
    output.echo(f"Plugin {name} {version} uninstalled from {session.lifecycle_url}")
