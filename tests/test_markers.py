"""The `engine` and `browser` markers mean something: a test that starts Docker, Pulumi or Playwright
without its marker fails, saying which marker it needs (the check is in tests/conftest.py)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]


def test_an_unmarked_test_that_starts_docker_fails_and_a_marked_one_runs(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    engine: docker\n    browser: chromium\n")
    docker = pytester.path / "bin" / "docker"  # a stand-in program: only its name matters to the check
    docker.parent.mkdir()
    docker.write_text("#!/bin/sh\necho fake docker\n")
    docker.chmod(0o755)
    pytester.makepyfile(
        f"""
        import subprocess
        import pytest

        def test_unmarked():
            subprocess.run([{str(docker)!r}, "version"], check=True)

        @pytest.mark.engine
        def test_marked():
            ran = subprocess.run([{str(docker)!r}], capture_output=True, text=True)
            assert ran.stdout == "fake docker\\n"

        def test_unmarked_docker_client():
            import docker
            docker.APIClient(base_url="unix:///nonexistent.sock")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*running docker version needs @pytest.mark.engine*"])
    result.stdout.fnmatch_lines(["*a Docker client needs @pytest.mark.engine*"])


def test_every_marker_said_to_be_left_out_by_test_fast_is_left_out() -> None:
    """pyproject.toml says which markers `make test-fast` leaves out; the Makefile's -m expression agrees."""
    markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    said = {line.split(":")[0] for line in markers if "left out by `make test-fast`" in line}
    assert {"engine", "browser", "slow"} <= said
    recipe = re.search(r"^test-fast:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe, "no test-fast target in the Makefile"
    expression = re.search(r'-m "([^"]+)"', recipe.group(1))
    assert expression, f"test-fast selects no markers: {recipe.group(1)}"
    left_out = set(re.findall(r"not (\w+)", expression.group(1)))
    assert said <= left_out, f"registered as left out but run by make test-fast: {sorted(said - left_out)}"
