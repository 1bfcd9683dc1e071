"""The `engine` and `browser` markers mean something: a test that starts Docker, Pulumi or Playwright
without its marker fails, saying which marker it needs (the check is in tests/conftest.py)."""

from __future__ import annotations

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
