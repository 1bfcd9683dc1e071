"""Infrastructure targets: everything that depends on where jobs run, behind one interface.

    target = open_target("docker", config)        # a manifest's infrastructure_target
    spec = FamilySpec(..., target_settings=target.stack_settings(build_log_path=...))
    target.deliver_images(spec)                   # before the stack runs
    addresses = target.addresses(outputs["versions"]["1.0.0"])
    print(target.runtime_logs("adder", "1.0.0", tail=20))

A target is named in manifests (`infrastructure_target`) and keyed by that name here. The built-in ones
are `docker` (stacks/docker/target.py) and `kubernetes` (stacks/kubernetes/target.py); a third plugs in
through the entry-point group `racetrack.infrastructure_targets` (name = a class implementing
`InfrastructureTarget`, constructed with a `TargetConfig`), or `register_target` in-process, without
the deploy engine knowing it. The stack runner's worker process finds a target's Pulumi program the
same way, so a plugin target is an installed distribution, not an object handed over.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from core.errors import InvalidInput
from jobtypes.config import BuildSettings
from stacks.spec import FamilySpec

__all__ = [
    "DRAINING",
    "ENTRY_POINT_GROUP",
    "InfrastructureTarget",
    "Replica",
    "TargetConfig",
    "canonical_target_name",
    "known_target_names",
    "open_target",
    "register_target",
    "target_class",
]

ENTRY_POINT_GROUP = "racetrack.infrastructure_targets"


@dataclass(frozen=True)
class TargetConfig:
    """What the platform tells a target: where pub is, how to build, and the target's own options."""

    pub_url: str  # pub as users reach it, e.g. http://127.0.0.1:7005/pub
    pub_port: int = 7005
    job_pub_url: str | None = None  # pub as jobs reach it, when the target's default does not fit
    build: BuildSettings = field(default_factory=BuildSettings)
    options: Mapping[str, Any] = field(default_factory=dict)  # the target's own settings


@dataclass(frozen=True)
class Replica:
    """One running copy of a job as its target sees it."""

    name: str  # the container's or pod's name
    state: str  # "running", or what the target calls a copy that does not run ("exited", ...)
    detail: str = ""  # why it does not run, e.g. its last log lines
    index: int = 0  # which replica of the job this copy is (0, 1, ...)
    address: str = ""  # where pub reaches it now (host:port), "" when the target does not say
    # The platform installation that started it (its label), "" when unknown: the monitor removes an
    # orphan only when it is its own installation's.
    installation: str = ""


# The state of a copy a deploy is replacing or removing: it still serves, until the registry and pub
# have moved to the copies that stay.
DRAINING = "draining"


class LogFollower(Protocol):
    """Blocking iteration over log lines, ended from another thread by `close()`."""

    def __iter__(self) -> Iterator[str]: ...

    def close(self) -> None: ...


@runtime_checkable
class InfrastructureTarget(Protocol):
    """One place where jobs run. Every method the deploy engine needs from a target is here."""

    name: str
    # Other names manifests use for this target (upstream's plugins' names).
    aliases: tuple[str, ...]

    @staticmethod
    def program(spec: FamilySpec) -> Callable[[], None]:
        """The family's Pulumi program: a pure function of its spec (runs in the runner's worker)."""
        ...

    def stack_settings(self, *, build_log_path: str | None) -> dict[str, Any]:
        """The spec's `target_settings`: what shapes this target's resources."""
        ...

    def deliver_images(self, spec: FamilySpec) -> None:
        """Makes the spec's images available where the target runs them, or refuses saying why."""
        ...

    def addresses(self, version_outputs: Mapping[str, Any]) -> list[str]:
        """Where pub reaches a version's replicas (host:port each, all of them), from its stack outputs."""
        ...

    def job_pub_url(self) -> str:
        """The pub URL a job on this target calls other jobs through (its PUB_URL)."""
        ...

    def public_url(self, name: str, version: str) -> str:
        """Where users call a job."""
        ...

    def runtime_logs(self, name: str, version: str, tail: int) -> str:
        """The last `tail` lines (0: all) of every replica, each headed by the replica's name."""
        ...

    def follow_logs(self, name: str, version: str, tail: int) -> LogFollower | None:
        """The job's log lines as its replicas write them, starting with the last `tail` (0: all), each
        line prefixed with its replica when there are several; None: this target cannot follow (the
        lifecycle then reads `runtime_logs` again each second)."""
        ...

    def replicas(self) -> dict[tuple[str, str], list[Replica]] | None:
        """Every job replica the target runs, by (job name, version), for the monitor; None: not watched.
        A target whose addresses the lifecycle reaches as pub does says so with `live_probes = True`:
        the monitor then asks each running replica's `/live`. A target may also offer
        `remove_replica(name)`, with which the monitor removes orphans labelled as its installation's."""
        ...

    def watch(self, changed: Callable[[], None], stop: threading.Event) -> None:
        """Calls `changed` whenever one of the target's job replicas starts or stops, until `stop` is set
        (blocking; the monitor runs it in a thread of its own). A target without such events returns at
        once, and its jobs are checked at the monitor's interval only."""
        ...


_BUILTIN: dict[str, str] = {
    "docker": "stacks.docker.target:DockerTarget",
    "kubernetes": "stacks.kubernetes.target:KubernetesTarget",
}
# A class from the built-ins or a plugin: what it makes is checked against the protocol by `open_target`.
TargetClass = type[Any]
_registered: dict[str, TargetClass] = {}


def register_target(cls: TargetClass) -> TargetClass:
    """Adds a target class in this process (tests, embedding); installed plugins use the entry points."""
    _registered[cls.name] = cls
    return cls


def _load(reference: str) -> TargetClass:
    module, _, attribute = reference.partition(":")
    loaded = getattr(importlib.import_module(module), attribute)
    if not isinstance(loaded, type):
        raise InvalidInput(f"infrastructure target {reference!r} is not a class")
    return loaded


def _given(cls: TargetClass) -> TargetClass:
    return cls


@functools.cache
def _installed() -> tuple[Any, ...]:
    """The plugin targets installed as distributions (read once: installing one means a restart)."""
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def _classes() -> dict[str, Callable[[], TargetClass]]:
    found: dict[str, Callable[[], TargetClass]] = {
        name: functools.partial(_load, ref) for name, ref in _BUILTIN.items()
    }
    for entry in _installed():
        found.setdefault(entry.name, entry.load)
    for name, cls in _registered.items():
        found[name] = functools.partial(_given, cls)
    return found


def known_target_names() -> list[str]:
    return sorted(_classes())


def canonical_target_name(name: str) -> str:
    """The target's own name for `name` or an alias of it; an unknown name is refused, listing the known."""
    classes = _classes()
    if name in classes:
        return name
    for key, load in classes.items():
        if name in getattr(load(), "aliases", ()):
            return key
    raise InvalidInput(
        f"infrastructure_target: {name!r} is not known (accepted: {', '.join(sorted(classes))})"
    )


def target_class(name: str) -> TargetClass:
    return _classes()[canonical_target_name(name)]()


def open_target(name: str, config: TargetConfig) -> InfrastructureTarget:
    target = target_class(name)(config)
    if not isinstance(target, InfrastructureTarget):
        raise InvalidInput(f"infrastructure target {name!r} does not implement InfrastructureTarget")
    return target
