"""The one door to the Pulumi engine.

Every stack the platform touches is opened here, so that each Automation API call runs with the same
offline configuration: the CLI that `make setup` built (no download server is reachable), one
`PULUMI_HOME` whose plugin cache holds the providers built from Go modules, a state backend under the
platform's data directory (or any backend URL from the settings), a secrets passphrase the platform
manages, and update checks and plugin downloads switched off.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pulumi import automation as auto

from core.errors import AlreadyExists, NotFound
from stacks.errors import EngineMissing, StackBusy, StackError

__all__ = [
    "EngineConfig",
    "open_stack",
    "remove_stack",
    "translate_errors",
    "provider_versions",
    "check_installed",
]

# Provider plugins the stacks use, by the Python package whose version they must match exactly.
PROVIDER_PACKAGES = {"kubernetes": "pulumi-kubernetes"}


class EngineSettings(Protocol):
    """What `EngineConfig.from_settings` reads: the API's settings have it, and stacks import no API."""

    @property
    def pulumi_root(self) -> Path: ...
    @property
    def pulumi_home(self) -> Path: ...
    @property
    def effective_pulumi_backend_url(self) -> str: ...
    def pulumi_secret_passphrase(self) -> str: ...


@dataclass(frozen=True)
class EngineConfig:
    """Where the engine, its plugins and the state live. Build it with `from_settings`."""

    pulumi_root: Path
    pulumi_home: Path
    backend_url: str
    passphrase: str = field(repr=False)

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> EngineConfig:
        return cls(
            pulumi_root=settings.pulumi_root,
            pulumi_home=settings.pulumi_home,
            backend_url=settings.effective_pulumi_backend_url,
            passphrase=settings.pulumi_secret_passphrase(),
        )

    @property
    def pulumi_binary(self) -> Path:
        return self.pulumi_root / "bin" / "pulumi"

    def environment(self) -> dict[str, str]:
        """Variables for the CLI process; the passphrase never leaves this mapping."""
        return {
            "PULUMI_HOME": str(self.pulumi_home),
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # Dynamic providers run in a Python process the engine starts: it must be this interpreter,
            # the one that can import the project.
            "PULUMI_PYTHON_CMD": sys.executable,
        }


def provider_versions() -> dict[str, str]:
    return {name: importlib.metadata.version(package) for name, package in PROVIDER_PACKAGES.items()}


def check_installed(config: EngineConfig, providers: tuple[str, ...] = ()) -> None:
    """Raises EngineMissing, naming the fix, when the CLI or a needed provider plugin is absent."""
    if not os.access(config.pulumi_binary, os.X_OK):
        raise EngineMissing(
            f"the Pulumi CLI is not installed at {config.pulumi_binary}: run `make setup` to build it"
        )
    versions = provider_versions()
    for name in providers:
        version = versions[name]
        plugin = config.pulumi_home / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"
        if not os.access(plugin, os.X_OK):
            raise EngineMissing(
                f"the Pulumi provider plugin {name} v{version} is not installed at {plugin}: "
                f"run `make setup` (then `bash scripts/build-providers.sh {name}`) to build it"
            )


def _backend_dir(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    return None


def _workspace_options(config: EngineConfig, project: str) -> auto.LocalWorkspaceOptions:
    backend = _backend_dir(config.backend_url)
    if backend is not None:
        backend.mkdir(parents=True, exist_ok=True, mode=0o700)
    config.pulumi_home.mkdir(parents=True, exist_ok=True)
    return auto.LocalWorkspaceOptions(
        pulumi_command=auto.PulumiCommand(root=str(config.pulumi_root), skip_version_check=False),
        pulumi_home=str(config.pulumi_home),
        env_vars=config.environment(),
        secrets_provider="passphrase",
        project_settings=auto.ProjectSettings(
            name=project, runtime="python", backend=auto.ProjectBackend(url=config.backend_url)
        ),
    )


def open_stack(
    config: EngineConfig,
    *,
    project: str,
    stack: str,
    program: Callable[[], None],
    providers: tuple[str, ...] = (),
    existing: bool = False,
) -> auto.Stack:
    """Creates or selects `project/stack` with `program` as its inline program.

    With `existing=True` a stack that does not exist raises NotFound instead of being created.
    """
    if providers:
        from stacks.providers import ensure_providers  # builds the Kubernetes provider on first use

        ensure_providers(config, providers)
    check_installed(config, providers)
    opener = auto.select_stack if existing else auto.create_or_select_stack
    with translate_errors(f"{project}/{stack}"):
        return opener(
            stack_name=auto.fully_qualified_stack_name("organization", project, stack),
            project_name=project,
            program=program,
            opts=_workspace_options(config, project),
        )


def remove_stack(config: EngineConfig, *, project: str, stack: str) -> None:
    """Deletes the stack's record (its resources must already be destroyed)."""
    opened = open_stack(config, project=project, stack=stack, program=lambda: None)
    with translate_errors(f"{project}/{stack}"):
        opened.workspace.remove_stack(opened.name)


@contextlib.contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Re-raises Automation API errors as the platform's own, keeping the original as the cause."""
    try:
        yield
    except auto.ConcurrentUpdateError as exc:
        raise StackBusy(f"another operation is running on stack {what}; retry when it ends") from exc
    except auto.StackNotFoundError as exc:
        raise NotFound(f"stack {what} does not exist") from exc
    except auto.StackAlreadyExistsError as exc:
        raise AlreadyExists(f"stack {what} already exists") from exc
    except auto.CommandError as exc:
        raise StackError(f"Pulumi failed on stack {what}", details=_last_lines(str(exc))) from exc


def _last_lines(text: str, count: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-count:])
