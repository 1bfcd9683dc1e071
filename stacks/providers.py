"""Provider plugins built the first time a stack needs one.

`make setup` builds what the default target (Docker) needs and no provider plugin: the Kubernetes
provider takes 15 to 35 minutes to build on two cores, and a platform that deploys to Docker never uses
it. The first Kubernetes deploy, render or test builds it here instead (scripts/build-providers.sh,
which takes a lock, so concurrent first uses build it once), saying so and how long it takes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from stacks.errors import EngineMissing

if TYPE_CHECKING:  # stacks.engine installs providers through this module
    from stacks.engine import EngineConfig

__all__ = ["ensure_providers", "plugin_path"]

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build-providers.sh"
BUILD_ESTIMATES = {"kubernetes": "15-35 minutes on 2 cores"}


def plugin_path(pulumi_home: Path, name: str, version: str) -> Path:
    return pulumi_home / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ensure_providers(
    config: EngineConfig,
    providers: tuple[str, ...],
    *,
    log: Callable[[str], None] = _stderr,
) -> None:
    """Builds and installs each of `providers` whose plugin is missing from the config's plugin cache.

    Where this checkout's build script or Go is not at hand (e.g. inside the platform image), does
    nothing: `check_installed` then names the fix.
    """
    from stacks.engine import provider_versions

    versions = provider_versions()
    cache_dir = config.pulumi_root.parent.parent  # <cache>/pulumi/v<version>
    for name in providers:
        version = versions[name]
        if os.access(plugin_path(config.pulumi_home, name, version), os.X_OK):
            continue
        if not SCRIPT.is_file() or shutil.which("go") is None:
            return
        built = cache_dir / "providers" / f"{name}-v{version}" / f"pulumi-resource-{name}"
        if os.access(built, os.X_OK):
            log(f"provider plugin {name} v{version}: installing the one built before")
        else:
            log(
                f"provider plugin {name} v{version} is needed and not built yet: building it now from the Go "
                f"module proxy (first time only, about {BUILD_ESTIMATES.get(name, 'several minutes')}; "
                "later runs reuse it)"
            )
        env = {
            **os.environ,
            "RACETRACK_CACHE_DIR": str(cache_dir),
            "RACETRACK_PULUMI_HOME": str(config.pulumi_home),
            "PULUMI_VERSION": config.pulumi_root.name.removeprefix("v"),
            f"PULUMI_{name.upper()}_VERSION": version,
        }
        process = subprocess.Popen(
            ["bash", str(SCRIPT), name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        tail: list[str] = []
        for raw in process.stdout:
            line = raw.rstrip("\n")
            tail = [*tail[-19:], line]
            if not line.startswith("go: downloading"):  # thousands of these say nothing about progress
                log(line)
        if process.wait() != 0:
            raise EngineMissing(
                f"building the Pulumi provider plugin {name} v{version} failed; its output ends: "
                + " | ".join(tail[-5:])
                + f". Retry with `bash scripts/build-providers.sh {name}`"
            )
