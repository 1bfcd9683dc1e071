"""plugin install / list / uninstall, version."""

from __future__ import annotations

import httpx
import pytest

from tests.client.conftest import logged_in


@pytest.fixture(autouse=True)
def login(isolated):
    logged_in(isolated)


def test_install_local_zip(rt, server, tmp_path) -> None:
    zip_path = tmp_path / "python3-job-type-2.15.1.zip"
    zip_path.write_bytes(b"PK-zip-bytes")
    server.on(
        "POST",
        "/api/v1/plugin/upload/python3-job-type-2.15.1.zip",
        {"name": "python3-job-type", "version": "2.15.1"},
    )
    result = rt("plugin", "install", str(zip_path), "--replace")
    assert result.exit_code == 0, result.output
    assert "Plugin python3-job-type 2.15.1 installed" in result.stdout
    request = server.sent("POST", "/plugin/upload")[0]
    assert request.content == b"PK-zip-bytes" and request.url.params["replace"] == "1"


def test_install_from_url(rt, server) -> None:
    server.on("GET", "/files/plugin.zip", httpx.Response(200, content=b"zipdata"))
    server.on("POST", "/api/v1/plugin/upload/plugin.zip", {"name": "p", "version": "1"})
    assert rt("plugin", "install", "https://example.com/files/plugin.zip").exit_code == 0
    assert server.sent("POST", "/plugin/upload")[0].content == b"zipdata"
    assert server.sent("POST", "/plugin/upload")[0].url.params["replace"] == "0"


def test_install_from_github_release(rt, server, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "gh-tok")
    server.on(
        "GET",
        "/repos/TheRacetrack/plugin-python-job-type/releases/latest",
        {
            "tag_name": "2.15.1",
            "assets": [
                {"name": "notes.txt", "browser_download_url": "https://dl.example.com/notes.txt"},
                {
                    "name": "python3-job-type-2.15.1.zip",
                    "browser_download_url": "https://dl.example.com/p.zip",
                },
            ],
        },
    )
    server.on("GET", "/p.zip", httpx.Response(200, content=b"gh-zip"))
    server.on(
        "POST",
        "/api/v1/plugin/upload/python3-job-type-2.15.1.zip",
        {"name": "python3-job-type", "version": "2.15.1"},
    )
    result = rt("plugin", "install", "github.com/TheRacetrack/plugin-python-job-type")
    assert result.exit_code == 0, result.output
    release_request = server.sent("GET", "/releases/latest")[0]
    assert release_request.headers["Authorization"] == "Bearer gh-tok"
    assert "X-Racetrack-Auth" not in release_request.headers  # our token never goes to GitHub
    assert server.sent("POST", "/plugin/upload")[0].content == b"gh-zip"


def test_install_github_pinned_version(rt, server) -> None:
    server.on("GET", "/repos/o/r/releases/tags/1.2.3", {"error": "x"}, status=404)
    server.on(
        "GET",
        "/repos/o/r/releases/tags/v1.2.3",
        {"tag_name": "v1.2.3", "assets": [{"name": "r.zip", "browser_download_url": "https://dl/r.zip"}]},
    )
    server.on("GET", "/r.zip", httpx.Response(200, content=b"z"))
    server.on("POST", "/api/v1/plugin/upload/r.zip", {"name": "r", "version": "1.2.3"})
    assert rt("plugin", "install", "github.com/o/r==1.2.3").exit_code == 0


def test_install_unknown_uri(rt, server) -> None:
    result = rt("plugin", "install", "nothing-here")
    assert result.exit_code == 1
    assert "cannot find plugin nothing-here" in result.stderr


def test_install_needs_staff(rt, server, tmp_path) -> None:
    (tmp_path / "p.zip").write_bytes(b"x")
    server.on(
        "POST",
        "/api/v1/plugin/upload/p.zip",
        {"error": "User bob is not a staff member", "type": "Forbidden"},
        status=403,
    )
    result = rt("plugin", "install", str(tmp_path / "p.zip"))
    assert result.exit_code == 1
    assert "not a staff member" in result.stderr


def test_list_and_job_types(rt, server) -> None:
    server.on(
        "GET",
        "/api/v1/plugin",
        [
            {"name": "python3-job-type", "version": "2.15.1"},
            {"name": "docker-infrastructure", "version": "1.5.2"},
        ],
    )
    server.on("GET", "/api/v1/plugin/job_type/versions", ["python3:2.15.1", "python3:latest"])
    assert rt("plugin", "list").stdout.splitlines() == [
        "python3-job-type==2.15.1",
        "docker-infrastructure==1.5.2",
    ]
    assert rt("plugin", "list", "--job-types").stdout.splitlines() == ["python3:2.15.1", "python3:latest"]
    assert '"name": "python3-job-type"' in rt("plugin", "list", "-o", "json").stdout


def test_uninstall(rt, server) -> None:
    server.on("DELETE", "/api/v1/plugin/python3-job-type/2.15.1", None)
    result = rt("plugin", "uninstall", "python3-job-type", "--version", "2.15.1")
    assert result.exit_code == 0
    assert "Plugin python3-job-type 2.15.1 uninstalled" in result.stdout
    assert rt("plugin", "uninstall", "python3-job-type").exit_code == 2


def test_get_pub(rt, server, tty) -> None:
    assert rt("get", "pub").stdout.strip() == "Current pub URL is: http://127.0.0.1:7005/pub"
    assert rt("get", "pub", "-q").stdout.strip() == "http://127.0.0.1:7005/pub"


def test_version(rt) -> None:
    result = rt("version")
    assert result.exit_code == 0
    assert result.stdout.startswith("racetrack-client version ")
