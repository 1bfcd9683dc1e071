"""deploy, preview and validate: manifests, overrides, secrets, credentials, build context, progress."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import httpx
import pytest
import yaml

from tests.client.conftest import LIFECYCLE, PUB, logged_in, write_config, write_job

DONE = {
    "id": "d1",
    "status": "done",
    "phase": "post-deploy hooks",
    "job": {"name": "adder", "version": "0.0.1", "pub_url": f"{PUB}/job/adder/0.0.1"},
}


def deploying(
    server, final=None, phases=("building image", "creating cluster resources", "starting Job server")
):
    server.on("POST", "/api/v1/deploy", {"id": "d1"}, status=202)
    steps = [{"id": "d1", "status": "in_progress", "phase": p} for p in phases]
    server.on_sequence("GET", "/api/v1/deploy/d1", steps + [final or DONE])


@pytest.fixture
def job(tmp_path: Path) -> Path:
    return write_job(tmp_path / "adder")


def test_deploy_sends_the_manifest_polls_and_prints_urls(rt, server, isolated, job) -> None:
    logged_in(isolated)
    deploying(server)
    result = rt("deploy", str(job))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        'Job "adder" v0.0.1 is deployed.',
        f"  URL:     {PUB}/job/adder/0.0.1/",
        f"  Swagger: {PUB}/job/adder/0.0.1/docs",
    ]
    for phase in ("building image", "creating cluster resources", "starting Job server"):
        assert phase in result.stderr
    body = server.body("POST", "/api/v1/deploy")
    assert body["manifest"]["name"] == "adder" and body["manifest"]["version"] == "0.0.1"
    assert body["force"] is False and body["build_flags"] == []
    assert body["build_context"] is None  # not a sample job: built from git
    assert body["git_credentials"] is None
    assert body["secret_vars"] == {"build_env": {}, "runtime_env": {}}
    assert server.sent("POST", "/api/v1/deploy")[0].headers["X-Racetrack-Auth"] == "tok-123"
    assert len(server.sent("GET", "/api/v1/deploy/d1")) == 4


def test_deploy_computes_pub_url_from_info_when_job_has_none(rt, server, isolated, job) -> None:
    logged_in(isolated)
    deploying(server, final={"id": "d1", "status": "done", "job": {"name": "adder", "version": "0.0.1"}})
    result = rt("deploy", str(job))
    assert f"  URL:     {PUB}/job/adder/0.0.1/" in result.stdout


def test_deploy_flags_force_no_cache_and_extra_vars(rt, server, isolated, job) -> None:
    logged_in(isolated)
    deploying(server)
    result = rt(
        "deploy",
        str(job),
        "--force",
        "--no-cache",
        "-e",
        "git.branch=dev",
        "-e",
        "replicas=2",
        "-e",
        "labels={team: ml}",
        "--extra-vars",
        "version=0.0.2",
    )
    assert result.exit_code == 0, result.output
    body = server.body("POST", "/api/v1/deploy")
    assert body["force"] is True and body["build_flags"] == ["--no-cache"]
    manifest = body["manifest"]
    assert manifest["git"] == {
        "remote": "https://github.com/example/jobs",
        "directory": "adder",
        "branch": "dev",
    }
    assert (
        manifest["replicas"] == 2 and manifest["labels"] == {"team": "ml"} and manifest["version"] == "0.0.2"
    )


def test_bad_extra_var_is_a_usage_error(rt, server, job) -> None:
    result = rt("deploy", str(job), "-e", "novalue")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_deploy_sends_matching_git_credentials(rt, server, isolated, job) -> None:
    write_config(
        isolated,
        (
            f"user_auths: {{'{LIFECYCLE}': tok}}\n"
            "git_credentials:\n  https://github.com: {username: me, password: ghp_token}\n"
            "  https://gitlab.com: {username: other, password: x}\n"
        ),
    )
    deploying(server)
    result = rt("deploy", str(job))
    assert result.exit_code == 0
    assert server.body("POST", "/api/v1/deploy")["git_credentials"] == {
        "username": "me",
        "password": "ghp_token",
    }
    assert "ghp_token" not in result.output


def test_deploy_reads_secret_env_files_and_never_prints_them(rt, server, isolated, tmp_path) -> None:
    logged_in(isolated)
    job = write_job(
        tmp_path / "sec", extra="secret_build_env_file: build.env\nsecret_runtime_env_file: conf/run.env\n"
    )
    (job / "build.env").write_text("# build secrets\nPIP_TOKEN=pip-SECRET-1\nexport QUOTED='a b c'\n")
    (job / "conf").mkdir()
    (job / "conf" / "run.env").write_text('DB_PASSWORD="db-SECRET-2"\n\nAPI_KEY=key=SECRET=3\n')
    deploying(
        server, final={"id": "d1", "status": "failed", "phase": "building image", "error": "build failed"}
    )
    result = rt("-v", "deploy", str(job))
    assert server.body("POST", "/api/v1/deploy")["secret_vars"] == {
        "build_env": {"PIP_TOKEN": "pip-SECRET-1", "QUOTED": "a b c"},
        "runtime_env": {"DB_PASSWORD": "db-SECRET-2", "API_KEY": "key=SECRET=3"},
    }
    for secret in ("pip-SECRET-1", "db-SECRET-2", "key=SECRET=3", "a b c"):
        assert secret not in result.output


def test_missing_secret_file_is_an_error(rt, server, isolated, tmp_path) -> None:
    logged_in(isolated)
    job = write_job(tmp_path / "sec", extra="secret_runtime_env_file: nope.env\n")
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "secret_runtime_env_file: file" in result.stderr and "nope.env does not exist" in result.stderr


def test_malformed_secret_file_does_not_echo_its_line(rt, server, isolated, tmp_path) -> None:
    logged_in(isolated)
    job = write_job(tmp_path / "sec", extra="secret_runtime_env_file: s.env\n")
    (job / "s.env").write_text("just-a-secret-token-without-key\n")
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "line 1: expected KEY=VALUE" in result.stderr
    assert "just-a-secret-token" not in result.output


def test_local_build_context_for_sample_jobs_on_localhost_honours_gitignore(
    rt, server, isolated, tmp_path
) -> None:
    logged_in(isolated)
    job = write_job(tmp_path / "sample", owner="sample@example.com")
    (job / ".gitignore").write_text("*.pyc\n/build/\nsecrets.env\n!keep.pyc\n")
    (job / "mod.pyc").write_bytes(b"x")
    (job / "keep.pyc").write_bytes(b"x")
    (job / "build").mkdir()
    (job / "build" / "out.bin").write_bytes(b"x")
    (job / "secrets.env").write_text("A=1\n")
    (job / "pkg").mkdir()
    (job / "pkg" / "util.py").write_text("")
    (job / "pkg" / "cache.pyc").write_bytes(b"x")
    (job / ".git").mkdir()
    (job / ".git" / "HEAD").write_text("ref")
    deploying(server)
    assert rt("deploy", str(job)).exit_code == 0
    encoded = server.body("POST", "/api/v1/deploy")["build_context"]
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(encoded)), mode="r:gz") as tar:
        names = sorted(tar.getnames())
    assert names == [".gitignore", "entrypoint.py", "job.yaml", "keep.pyc", "pkg/util.py"]


def test_local_build_context_sends_files_for_links_inside_and_refuses_links_out(
    rt, server, isolated, tmp_path
) -> None:
    logged_in(isolated)
    job = write_job(tmp_path / "sample", owner="sample@example.com")
    (job / "shared.py").write_text("X = 1\n")
    (job / "alias.py").symlink_to("shared.py")
    deploying(server)
    assert rt("deploy", str(job)).exit_code == 0
    encoded = server.body("POST", "/api/v1/deploy")["build_context"]
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(encoded)), mode="r:gz") as tar:
        alias = tar.getmember("alias.py")
        assert alias.isreg() and tar.extractfile(alias).read() == b"X = 1\n"
    (job / "passwd").symlink_to("/etc/passwd")
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "passwd is a symbolic link to /etc/passwd" in result.stderr
    assert "root:" not in result.output


def test_default_build_context_is_git_for_remote_servers(rt, server, isolated, tmp_path) -> None:
    write_config(isolated, "user_auths: {'https://rt.example.com/lifecycle': tok}\n")
    job = write_job(tmp_path / "sample", owner="sample@example.com")
    deploying(server)
    assert rt("deploy", str(job), "--remote", "rt.example.com").exit_code == 0
    assert server.body("POST", "/api/v1/deploy")["build_context"] is None


def test_build_context_flag_overrides_default(rt, server, isolated, job) -> None:
    logged_in(isolated)
    deploying(server)
    assert rt("deploy", str(job), "--build-context", "local").exit_code == 0
    assert server.body("POST", "/api/v1/deploy")["build_context"]
    assert rt("deploy", str(job), "--build-context", "nope").exit_code == 2


def test_manifest_from_stdin(rt, server, isolated, tmp_path, monkeypatch) -> None:
    logged_in(isolated)
    monkeypatch.chdir(tmp_path)
    deploying(server)
    manifest = (
        "name: piped\nowner_email: a@b.c\njobtype: python3:latest\ngit: {remote: 'https://github.com/x/y'}\n"
    )
    result = rt("deploy", input=manifest)
    assert result.exit_code == 0, result.output
    assert server.body("POST", "/api/v1/deploy")["manifest"]["name"] == "piped"


def test_dash_without_stdin_is_a_usage_error(rt, server) -> None:
    assert rt("deploy", "-").exit_code == 2


def test_legacy_fatman_yaml_with_a_warning(rt, server, isolated, job) -> None:
    logged_in(isolated)
    (job / "job.yaml").rename(job / "fatman.yaml")
    deploying(server)
    result = rt("deploy", str(job))
    assert result.exit_code == 0
    assert "legacy name" in result.stderr and "fatman.yaml" in result.stderr


def test_extends_overlay_is_merged(rt, server, isolated, tmp_path) -> None:
    logged_in(isolated)
    d = tmp_path / "overlay"
    write_job(d)
    (d / "base.yaml").write_text((d / "job.yaml").read_text() + "runtime_env: {A: '1', B: '2'}\n")
    (d / "job.yaml").write_text("extends: base.yaml\nversion: '0.0.9'\nruntime_env: {B: '3'}\n")
    deploying(server)
    assert rt("deploy", str(d)).exit_code == 0
    manifest = server.body("POST", "/api/v1/deploy")["manifest"]
    assert manifest["version"] == "0.0.9" and manifest["runtime_env"] == {"A": "1", "B": "3"}
    assert "extends" not in manifest and manifest["name"] == "adder"


def test_no_manifest_in_directory(rt, server, tmp_path) -> None:
    result = rt("deploy", str(tmp_path))
    assert result.exit_code == 1
    assert "no job.yaml in" in result.stderr


def test_locally_invalid_manifest_names_fields(rt, server, tmp_path) -> None:
    (tmp_path / "job.yaml").write_text(
        "name: x\nversion: 1.0\ngit: {remote: 'git@github.com:a/b'}\ncolour: red\n"
    )
    result = rt("deploy", str(tmp_path))
    assert result.exit_code == 1
    for fragment in (
        "colour: unknown field",
        "owner_email: required",
        "git.remote:",
        "must start with https://",
        "version: 1.0 is not a semantic version",
        "jobtype: required",
    ):
        assert fragment in result.stderr
    assert not server.sent("POST", "/api/v1/deploy")


def test_server_rejecting_the_manifest(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on(
        "POST",
        "/api/v1/deploy",
        {"error": "jobtype: python9:latest is not installed", "type": "InvalidInput"},
        status=400,
    )
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "the server rejected the manifest: jobtype: python9:latest is not installed" in result.stderr


def test_existing_version_suggests_force(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on(
        "POST",
        "/api/v1/deploy",
        {"error": "job adder v0.0.1 already exists", "type": "AlreadyExists"},
        status=409,
    )
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "already exists" in result.stderr and "--force" in result.stderr


def test_failed_deployment_names_phase_reason_and_build_logs(rt, server, isolated, job) -> None:
    logged_in(isolated)
    deploying(
        server,
        final={
            "id": "d1",
            "status": "failed",
            "phase": "building image",
            "error": "pip install failed: no matching distribution for nosuchpkg",
        },
    )
    result = rt("deploy", str(job), "--remote", "http://127.0.0.1:7002")
    assert result.exit_code == 1
    assert (
        'deployment of job "adder" v0.0.1 failed during phase "building image": '
        "pip install failed: no matching distribution for nosuchpkg"
    ) in result.stderr
    assert "racetrack build-logs adder --version 0.0.1 --remote http://127.0.0.1:7002" in result.stderr
    assert "Traceback" not in result.output


def test_progress_prints_warnings_once_and_build_log_lines_when_verbose(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on("POST", "/api/v1/deploy", {"id": "d1"})
    server.on_sequence(
        "GET",
        "/api/v1/deploy/d1",
        [
            {
                "status": "in_progress",
                "phase": "building image",
                "warnings": ["w1"],
                "build_logs": "Step 1/2\n",
            },
            {
                "status": "in_progress",
                "phase": "building image",
                "warnings": ["w1"],
                "build_logs": "Step 1/2\nStep 2/2\n",
            },
            DONE,
        ],
    )
    result = rt("-v", "deploy", str(job))
    assert result.exit_code == 0
    assert result.stderr.count("w1") == 1
    assert result.stderr.count("building image") == 1
    assert "| Step 1/2" in result.stderr and "| Step 2/2" in result.stderr


def test_live_display_on_a_terminal(rt, server, isolated, job, monkeypatch) -> None:
    from client import output

    monkeypatch.setattr(output, "stderr_is_tty", lambda: True)
    logged_in(isolated)
    deploying(server)
    result = rt("deploy", str(job))
    assert result.exit_code == 0, result.output
    assert "✓ building image" in result.stderr
    assert result.stdout.startswith('Job "adder" v0.0.1 is deployed.')


def test_ctrl_c_while_waiting_exits_130_and_says_it_goes_on(rt, server, isolated, job, monkeypatch) -> None:
    from client import progress

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(progress, "sleep", interrupt)
    logged_in(isolated)
    deploying(server)
    result = rt("deploy", str(job))
    assert result.exit_code == 130
    assert "deployment d1 goes on" in result.stderr


def test_deprecated_positional_remote(rt, server, isolated, job) -> None:
    write_config(isolated, "user_auths: {'https://rt.example.com/lifecycle': tok}\n")
    deploying(server)
    result = rt("deploy", str(job), "rt.example.com")
    assert result.exit_code == 0, result.output
    assert "deprecated" in result.stderr
    assert (
        str(server.sent("POST", "/api/v1/deploy")[0].url) == "https://rt.example.com/lifecycle/api/v1/deploy"
    )


def test_validate_prints_the_final_yaml(rt, job) -> None:
    result = rt("validate", str(job), "-e", "version=1.2.3")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["version"] == "1.2.3" and data["name"] == "adder"


def test_validate_from_stdin_and_invalid(rt, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = rt("validate", input="name: a\n")
    assert result.exit_code == 1
    assert "owner_email: required" in result.stderr
    assert rt("validate", input="[1, 2]\n").exit_code == 1


PLAN = {
    "steps": [
        {
            "op": "create",
            "urn": "urn:pulumi:s::p::docker:index/image:Image::adder-image",
            "type": "docker:index/image:Image",
            "name": "adder-image",
            "diffs": [],
            "changes": {},
        },
        {
            "op": "update",
            "type": "docker:index/container:Container",
            "name": "job-adder",
            "diffs": ["image", "envs"],
            "changes": {
                "image": {"old": "adder:1", "new": "adder:2"},
                "envs": {"old": "[secret]", "new": "[secret]"},
            },
        },
        {
            "op": "replace",
            "type": "docker:index/network:Network",
            "name": "net",
            "diffs": ["name"],
            "changes": {"name": {"old": "a", "new": "b"}},
        },
        {"op": "delete", "type": "docker:index/volume:Volume", "name": "old-vol"},
        {"op": "same", "type": "pulumi:pulumi:Stack", "name": "stack"},
    ],
    "summary": {"create": 1, "update": 1, "replace": 1, "delete": 1, "same": 1},
}


def test_preview_prints_a_plan(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on("POST", "/api/v1/deploy/preview", {"id": "p1"})
    server.on_sequence(
        "GET",
        "/api/v1/deploy/p1",
        [{"status": "in_progress", "phase": "previewing"}, {"status": "done", "preview": PLAN}],
    )
    result = rt("preview", str(job))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert 'Plan for job "adder" v0.0.1' in out
    assert "+   create   docker:index/image:Image  adder-image" in out
    assert "~   update   docker:index/container:Container  job-adder" in out
    assert '~ image: "adder:1" -> "adder:2"' in out
    assert "~ envs: [secret] -> [secret]" in out
    assert "-/+ replace" in out and "-   delete" in out
    assert "pulumi:pulumi:Stack" not in out
    assert "Resources: + 1 to create, ~ 1 to update, -/+ 1 to replace, - 1 to delete, 1 unchanged" in out
    body = server.body("POST", "/api/v1/deploy/preview")
    assert body["manifest"]["name"] == "adder"


def test_preview_masks_secrets_the_server_leaked_and_json_output(rt, server, isolated, tmp_path) -> None:
    logged_in(isolated)
    job = write_job(tmp_path / "j", extra="secret_runtime_env_file: s.env\n")
    (job / "s.env").write_text("TOKEN=very-secret-value\n")
    leaky = {
        "steps": [
            {
                "op": "update",
                "type": "t",
                "name": "n",
                "diffs": ["env"],
                "changes": {"env": {"old": "TOKEN=old", "new": "TOKEN=very-secret-value"}},
            }
        ],
        "summary": {"update": 1},
    }
    server.on("POST", "/api/v1/deploy/preview", {"id": "p1"})
    server.on("GET", "/api/v1/deploy/p1", {"status": "done", "preview": leaky})
    text = rt("preview", str(job))
    assert "very-secret-value" not in text.output
    assert '~ env: "TOKEN=old" -> [secret]' in text.stdout
    as_json = rt("preview", str(job), "--output", "json")
    assert as_json.exit_code == 0
    assert "very-secret-value" not in as_json.output
    import json

    assert json.loads(as_json.stdout)["steps"][0]["changes"]["env"]["new"] == "[secret]"


def test_preview_failure(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on("POST", "/api/v1/deploy/preview", {"id": "p1"})
    server.on("GET", "/api/v1/deploy/p1", {"status": "failed", "phase": "preview", "error": "stack is busy"})
    result = rt("preview", str(job))
    assert result.exit_code == 1
    assert 'failed during phase "preview": stack is busy' in result.stderr


def test_preview_with_no_changes(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on("POST", "/api/v1/deploy/preview", {"id": "p1"})
    server.on(
        "GET", "/api/v1/deploy/p1", {"status": "done", "preview": {"steps": [], "summary": {"same": 3}}}
    )
    result = rt("preview", str(job))
    assert "no changes" in result.stdout and "3 unchanged" in result.stdout


def test_deploy_unreachable_server(rt, server, isolated, job) -> None:
    server.down = True
    result = rt("deploy", str(job), "--remote", "http://127.0.0.1:7002")
    assert result.exit_code == 1
    assert f"cannot reach {LIFECYCLE}" in result.stderr


def test_non_json_error_page_is_reported_with_status(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on("POST", "/api/v1/deploy", httpx.Response(502, text="<html>Bad Gateway</html>"))
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "502 Bad Gateway" in result.stderr


def test_polling_survives_transient_server_errors(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on("POST", "/api/v1/deploy", {"id": "d1"})
    server.on_sequence(
        "GET",
        "/api/v1/deploy/d1",
        [
            {"status": "in_progress", "phase": "building image"},
            httpx.Response(502, text="bad gateway"),
            httpx.Response(503, json={"error": "restarting", "type": "Unavailable"}),
            DONE,
        ],
    )
    result = rt("deploy", str(job))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("retrying") == 2


def test_polling_gives_up_after_repeated_failures(rt, server, isolated, job) -> None:
    logged_in(isolated)
    server.on("POST", "/api/v1/deploy", {"id": "d1"})
    server.on(
        "GET", "/api/v1/deploy/d1", httpx.Response(500, json={"error": "database is down", "type": "X"})
    )
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "Error: database is down" in result.stderr


def test_failure_before_any_phase(rt, server, isolated, job) -> None:
    logged_in(isolated)
    deploying(
        server,
        phases=(),
        final={"status": "failed", "phase": None, "error": "no deploy engine is configured"},
    )
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert 'Error: deployment of job "adder" v0.0.1 failed: no deploy engine is configured' in result.stderr
    assert "build-logs" not in result.stderr and "Racetrack admin" in result.stderr


def test_local_build_context_never_packs_the_secret_env_files(rt, server, isolated, tmp_path) -> None:
    logged_in(isolated)
    job = write_job(
        tmp_path / "sec",
        owner="sample@example.com",
        extra="secret_build_env_file: ./conf/build.env\nsecret_runtime_env_file: run.env\n",
    )
    (job / "conf").mkdir()
    (job / "conf" / "build.env").write_text("A=secret-a\n")
    (job / "conf" / "other.txt").write_text("kept")
    (job / "run.env").write_text("B=secret-b\n")
    deploying(server)
    assert rt("deploy", str(job)).exit_code == 0
    encoded = server.body("POST", "/api/v1/deploy")["build_context"]
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(encoded)), mode="r:gz") as tar:
        names = sorted(tar.getnames())
    assert names == ["conf/other.txt", "entrypoint.py", "job.yaml"]


def test_a_build_failing_on_a_certificate_shows_the_log_lines_and_the_ca_fix(
    rt, server, isolated, job
) -> None:
    logged_in(isolated)
    log = (
        "#7 [3/9] RUN pip install -q -r /src/wrapper-requirements.txt\n"
        "#7 1.20 WARNING: Retrying after connection broken by 'SSLError(SSLCertVerificationError(1, "
        "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in "
        "certificate chain'))'\n"
        "#7 4.51 ERROR: Could not find a version that satisfies the requirement uvicorn==0.30.0\n"
        "#7 ERROR: process did not complete successfully: exit code: 1\n"
    )
    deploying(
        server,
        final={
            "id": "d1",
            "status": "failed",
            "phase": "building image and creating resources",
            "error": "building image failed: this build trusted the CA bundle none "
            "(RACETRACK_EXTRA_CA_BUNDLE=none)",
            "build_logs": log,
        },
    )
    result = rt("deploy", str(job))
    assert result.exit_code == 1
    assert "The build log says:" in result.stderr
    assert "  | WARNING: Retrying after connection broken by 'SSLError" in result.stderr
    assert "  | ERROR: Could not find a version that satisfies the requirement uvicorn" in result.stderr
    assert "RUN pip install" not in result.stderr  # lines that say nothing about why stay in the full log
    assert "could not verify a TLS certificate" in result.stderr
    assert "RACETRACK_EXTRA_CA_BUNDLE=<PEM bundle file>" in result.stderr
    assert "this build trusted the CA bundle none" in result.stderr
    assert "racetrack build-logs adder --version 0.0.1" in result.stderr


def test_progress_splits_the_long_phase_into_building_and_starting(rt, server, isolated, job) -> None:
    """The phases a first deploy goes through, as its log (Pulumi's own lines) shows them."""
    logged_in(isolated)
    phase = "building image and creating resources"
    log = " +  pulumi-python:dynamic:Resource network creating (0s)\n"
    log += " +  pulumi-python:dynamic:Resource job-adder-v-0-0-1-job-image creating (0s)\n"
    log += "building image racetrack/job-entrypoint/adder:0.0.1-abc (job)\n#5 [2/9] RUN python3 -m venv\n"
    started = log + " +  pulumi-python:dynamic:Resource job-adder-v-0-0-1-job-image created (8s)\n"
    started += " +  pulumi-python:dynamic:Resource job-adder-v-0-0-1 creating (0s)\n"
    server.on("POST", "/api/v1/deploy", {"id": "d1"}, status=202)
    server.on_sequence(
        "GET",
        "/api/v1/deploy/d1",
        [
            {"id": "d1", "status": "in_progress", "phase": "fetching source code"},
            {"id": "d1", "status": "in_progress", "phase": phase, "build_logs": log},
            {"id": "d1", "status": "in_progress", "phase": phase, "build_logs": started},
            DONE,
        ],
    )
    result = rt("deploy", str(job))
    assert result.exit_code == 0, result.output
    phases = [line.split("] ", 1)[1] for line in result.stderr.splitlines() if line.startswith("[")]
    assert phases == [
        "fetching source code",
        "building image",
        "starting the job, waiting until it answers /live and /ready",
        "post-deploy hooks",
    ], result.stderr
    assert "        | #5 [2/9] RUN python3 -m venv" in result.stderr  # the build's newest line
