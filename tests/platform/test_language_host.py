"""`pulumi preview` and `pulumi up` on a local Python program, through stacks/language_host.py."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from stacks.language_host import _parse_plugin_args, install_launcher, launcher_text

from .conftest import PulumiRun

pytestmark = pytest.mark.engine

PROGRAM = """
import pulumi
import helper  # a module beside __main__.py, found because the program directory is on sys.path

config = pulumi.Config()
print("program ran", flush=True)
pulumi.export("greeting", helper.greet(config.get("who") or "world"))
pulumi.export("stack", pulumi.get_stack())
pulumi.export("secret", config.get_secret("token"))
"""


def _project(root: Path) -> Path:
    (root / "prog").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: tiny\nruntime: python\nmain: prog/\n")
    (root / "prog" / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    (root / "prog" / "helper.py").write_text("def greet(who):\n    return f'hello {who}'\n")
    return root


def test_preview_up_and_destroy_a_local_program(tmp_path: Path, pulumi: PulumiRun) -> None:
    project = _project(tmp_path / "project")
    pulumi(project, "stack", "init", "dev")
    pulumi(project, "config", "set", "who", "racetrack")
    pulumi(project, "config", "set", "--secret", "token", "s3cret")

    preview = pulumi(project, "preview", "--diff")
    assert "program ran" in preview.stdout + preview.stderr
    assert "hello racetrack" in preview.stdout
    assert "s3cret" not in preview.stdout

    pulumi(project, "up", "--yes", "--skip-preview")
    outputs = json.loads(pulumi(project, "stack", "output", "--json", "--show-secrets").stdout)
    assert outputs == {"greeting": "hello racetrack", "stack": "dev", "secret": "s3cret"}

    pulumi(project, "config", "set", "who", "pulumi")
    changed = pulumi(project, "preview", "--diff")
    assert "hello pulumi" in changed.stdout

    pulumi(project, "destroy", "--yes", "--skip-preview")
    pulumi(project, "stack", "rm", "--yes", "dev")


def test_a_failing_program_fails_the_operation_with_its_error(tmp_path: Path, pulumi: PulumiRun) -> None:
    project = _project(tmp_path / "project")
    (project / "prog" / "__main__.py").write_text("raise ValueError('the program is broken')\n")
    pulumi(project, "stack", "init", "dev")
    result = pulumi(project, "preview", check=False)
    assert result.returncode != 0
    assert "the program is broken" in result.stdout + result.stderr


def test_plugin_arguments_and_an_idempotent_launcher(tmp_path: Path) -> None:
    assert _parse_plugin_args(["-root=/p", "-virtualenv=.venv", "127.0.0.1:4000"]) == ("127.0.0.1:4000", "/p")
    first = install_launcher(tmp_path, python="/venv/bin/python")
    stamp = first.stat().st_mtime_ns
    assert install_launcher(tmp_path, python="/venv/bin/python").stat().st_mtime_ns == stamp
    assert first.read_text() == launcher_text(
        "/venv/bin/python", str(Path(__file__).parents[2] / "stacks" / "language_host.py")
    )
    assert first.stat().st_mode & 0o111
