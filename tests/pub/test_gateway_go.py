"""The Go gateway's own tests (api/pub/gateway/*_test.go), run with the suite so `make test` and
.ci/run fail when they fail."""

from __future__ import annotations

import os
import shutil
import subprocess

from .servers import ROOT


def test_go_tests_of_the_gateway_pass():
    go = shutil.which("go")
    assert go, "Go is needed to build and test pub's gateway (https://go.dev/dl/)"
    done = subprocess.run(
        [go, "test", "-count=1", "./..."],
        cwd=ROOT / "api" / "pub" / "gateway",
        env={**os.environ, "CGO_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"go test failed:\n{done.stdout}\n{done.stderr}"
