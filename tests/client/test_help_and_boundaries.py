"""--help everywhere, shell completion, and the client's import boundary."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from client.main import app
from tests.client.conftest import logged_in

COMMANDS = [
    [],
    ["deploy"],
    ["preview"],
    ["validate"],
    ["list"],
    ["delete"],
    ["logs"],
    ["build-logs"],
    ["call"],
    ["move"],
    ["history"],
    ["rollback"],
    ["login"],
    ["logout"],
    ["version"],
    ["get"],
    ["get", "config"],
    ["get", "remote"],
    ["get", "pub"],
    ["get", "auth-token"],
    ["set"],
    ["set", "remote"],
    ["set", "alias"],
    ["set", "credentials"],
    ["plugin"],
    ["plugin", "install"],
    ["plugin", "list"],
    ["plugin", "uninstall"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "racetrack")
def test_every_command_has_complete_help(rt, command: list[str]) -> None:
    result = rt(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def _walk(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _walk(sub, (*path, name))


def test_every_command_and_parameter_has_a_help_text() -> None:
    import typer

    missing = []
    for path, command in _walk(typer.main.get_command(app)):
        if not (command.help or "").strip():
            missing.append(" ".join(path) or "racetrack")
        for param in command.params:
            if param.name not in ("help", "install_completion", "show_completion") and not getattr(
                param, "help", None
            ):
                missing.append(f"{' '.join(path)} {param.name}")
    assert not missing, missing


def test_root_lists_every_command(rt) -> None:
    out = rt("--help").stdout
    for name in (
        "deploy",
        "preview",
        "validate",
        "list",
        "delete",
        "logs",
        "build-logs",
        "call",
        "move",
        "history",
        "rollback",
        "login",
        "logout",
        "version",
        "get",
        "set",
        "plugin",
    ):
        assert f" {name} " in out


def test_no_arguments_shows_help(rt) -> None:
    result = rt()
    assert "Usage:" in result.output


def test_show_completion_script(rt) -> None:
    result = rt("--show-completion", "bash")
    assert result.exit_code == 0
    assert "_RACETRACK_COMPLETE" in result.stdout or "complete" in result.stdout


def test_job_name_completion_queries_the_server(runner, server, isolated) -> None:
    logged_in(isolated)
    server.on("GET", "/api/v1/job", [{"name": "adder"}, {"name": "python-class"}, {"name": "adder"}])
    result = runner.invoke(
        app,
        [],
        prog_name="racetrack",
        env={"_RACETRACK_COMPLETE": "complete_bash", "COMP_WORDS": "racetrack logs ad", "COMP_CWORD": "2"},
    )
    assert result.stdout.split() == ["adder"]


def test_job_name_completion_is_silent_when_server_is_down(runner, server, isolated) -> None:
    server.down = True
    result = runner.invoke(
        app,
        [],
        prog_name="racetrack",
        env={"_RACETRACK_COMPLETE": "complete_bash", "COMP_WORDS": "racetrack delete a", "COMP_CWORD": "2"},
    )
    assert "Error" not in result.output and "Traceback" not in result.output


ALLOWED = {"typer", "httpx", "yaml", "rich", "click", "socketio", "client"}


def test_client_imports_only_its_allowed_dependencies() -> None:
    """client/ may use typer, httpx, pyyaml (rich via typer), python-socketio (live logs) and the stdlib.

    Never api/, stacks/ or jobtypes/: the CLI is installed on machines without the server.
    """
    import sys

    root = Path(__file__).resolve().parents[2] / "client"
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED and top not in stdlib:
                    offenders.append(f"{path.relative_to(root.parent)}: {name}")
    assert not offenders, "client/ imports outside its boundary:\n" + "\n".join(offenders)


def test_boundary_check_catches_server_imports(tmp_path) -> None:
    tree = ast.parse("from api.settings import Settings\nimport stacks.runner\n")
    tops = {
        n.module.split(".")[0] if isinstance(n, ast.ImportFrom) else n.names[0].name.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
    }
    assert tops & ALLOWED == set() and tops == {"api", "stacks"}


def test_remote_completion_offers_aliases_and_logged_in_servers(runner, isolated) -> None:
    from tests.client.conftest import write_config

    write_config(
        isolated,
        "lifecycle_url_aliases: {dev: 'https://dev/lifecycle', docker: 'http://127.0.0.1:7102'}\n"
        "user_auths: {'http://127.0.0.1:7002/lifecycle': t}\n",
    )
    result = runner.invoke(
        app,
        [],
        prog_name="racetrack",
        env={
            "_RACETRACK_COMPLETE": "complete_bash",
            "COMP_WORDS": "racetrack list --remote d",
            "COMP_CWORD": "3",
        },
    )
    assert result.stdout.split() == ["dev", "docker"]
    result = runner.invoke(
        app,
        [],
        prog_name="racetrack",
        env={
            "_RACETRACK_COMPLETE": "complete_bash",
            "COMP_WORDS": "racetrack list --remote ",
            "COMP_CWORD": "3",
        },
    )
    assert "http://127.0.0.1:7002/lifecycle" in result.stdout.split()
