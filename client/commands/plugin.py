"""`racetrack plugin ...`: plugins installed on a server (staff only)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
import yaml

from client import output
from client.build_context import IgnoreRules, list_context_files
from client.commands._common import OutputFormat, OutputOpt, RemoteOpt, print_json
from client.errors import ClientError, InvalidInput, NotFound
from client.http import Api, open_session

__all__ = ["app"]

app = typer.Typer(
    no_args_is_help=True,
    help="Install, list, uninstall and download plugins on a Racetrack server; bundle one into a ZIP.",
)

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


@app.command("download")
def download(
    name: Annotated[str, typer.Argument(help="plugin name", show_default=False)],
    version: Annotated[str, typer.Argument(help="plugin version", show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="directory to save the ZIP in")] = Path("."),
    out_filename: Annotated[
        str | None, typer.Option("--out-filename", help="file name (default: NAME-VERSION.zip)")
    ] = None,
    remote: RemoteOpt = None,
) -> None:
    """Download an installed plugin's ZIP from a server (staff)."""
    session = open_session(remote)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (out_filename or f"{name}-{version}.zip")
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as handle:
            session.api.download(f"plugin/{name}/{version}/download", handle.write)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    output.echo(f"Plugin {name} {version} saved as {target}")


@app.command("bundle")
def bundle(
    workdir: Annotated[
        Path, typer.Argument(help="the plugin's directory (with plugin-manifest.yaml)")
    ] = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", help="directory to write the ZIP to (default: WORKDIR)")
    ] = None,
    out_filename: Annotated[
        str | None, typer.Option("--out-filename", help="file name (default: NAME-VERSION.zip)")
    ] = None,
    plugin_version: Annotated[
        str | None, typer.Option("--plugin-version", help="version to write into the bundled manifest")
    ] = None,
) -> None:
    """Zip a plugin's directory for `plugin install`, leaving out what `.racetrackignore` names
    (gitignore patterns).

    Example: racetrack plugin bundle my-plugin --out dist
    """
    manifest_path = workdir / "plugin-manifest.yaml"
    if not manifest_path.is_file():
        raise InvalidInput(
            f"{workdir} has no plugin-manifest.yaml",
            hint="Run the command in the plugin's directory, or give that directory as WORKDIR.",
        )
    try:
        manifest = yaml.safe_load(manifest_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{manifest_path} is not valid YAML: {exc}") from exc
    if not isinstance(manifest, dict) or not manifest.get("name"):
        raise InvalidInput(f"{manifest_path} must be a mapping with at least `name` and `version`")
    if plugin_version:
        manifest["version"] = plugin_version
    name, version = str(manifest["name"]), str(manifest.get("version") or "0.0.0")
    ignore = workdir / ".racetrackignore"
    rules = IgnoreRules(ignore.read_text().splitlines() if ignore.is_file() else [])
    out_dir = out or workdir
    out_dir.mkdir(parents=True, exist_ok=True)
    target = (out_dir / (out_filename or f"{name}-{version}.zip")).resolve()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel in list_context_files(workdir, rules):
            if (workdir / rel).resolve() == target or rel == ".racetrackignore":
                continue
            if rel == "plugin-manifest.yaml":
                archive.writestr(rel, yaml.safe_dump(manifest, sort_keys=False))
            elif (workdir / rel).is_file():
                archive.write(workdir / rel, rel)
    output.echo(f"Plugin {name} {version} bundled as {target}")
