"""Semantic versions of jobs and the resolution of `latest` and wildcards such as `1.x` or `1.2.x`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

from core.errors import InvalidInput

__all__ = ["SemVer", "parse_semver", "is_version_selector", "resolve_version", "LATEST_STATUSES"]

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_WILDCARD = re.compile(r"^(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?\.[x*]$")

# `latest` picks among versions that exist on the infrastructure; `starting` ones are not ready yet.
LATEST_STATUSES = frozenset({"running", "error", "lost"})


@total_ordering
@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @property
    def stable(self) -> bool:
        return not self.prerelease

    def _prerelease_key(self) -> tuple[tuple[int, int | str], ...]:
        # Numeric identifiers sort below alphanumeric ones (semver.org rule 11).
        return tuple((0, int(part)) if part.isdigit() else (1, part) for part in self.prerelease)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        left, right = (self.major, self.minor, self.patch), (other.major, other.minor, other.patch)
        if left != right:
            return left < right
        if self.stable != other.stable:
            return not self.stable  # a pre-release comes before its release
        return self._prerelease_key() < other._prerelease_key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + self.build
        return text


def parse_semver(text: str) -> SemVer | None:
    """Returns the version, or None when `text` is not MAJOR.MINOR.PATCH[-pre][+build]."""
    match = _SEMVER.match(text)
    if match is None:
        return None
    major, minor, patch, pre, build = match.groups()
    return SemVer(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (), build or "")


def is_version_selector(text: str) -> bool:
    return text == "latest" or _WILDCARD.match(text) is not None


def resolve_version(requested: str, candidates: Iterable[tuple[str, str]]) -> str | None:
    """Picks the version meant by `requested` among (version, status) pairs.

    - an exact version matches itself, whatever its status;
    - `latest` is the highest stable version whose status is running, error or lost;
    - `1.x` / `1.2.x` (or `1.*`) is the highest stable version with that prefix and such a status.
    """
    pairs = list(candidates)
    if requested != "latest" and _WILDCARD.match(requested) is None:
        return requested if any(version == requested for version, _ in pairs) else None
    if requested == "latest":
        prefix: tuple[int, ...] = ()
    else:
        match = _WILDCARD.match(requested)
        if match is None:  # pragma: no cover - guarded above
            raise InvalidInput(f"version {requested!r} is not a version, `latest` or a wildcard like 1.x")
        prefix = tuple(int(part) for part in match.groups() if part is not None)
    best: SemVer | None = None
    best_text: str | None = None
    for version, status in pairs:
        parsed = parse_semver(version)
        if parsed is None or not parsed.stable or status not in LATEST_STATUSES:
            continue
        if (parsed.major, parsed.minor)[: len(prefix)] != prefix:
            continue
        if best is None or parsed > best:
            best, best_text = parsed, version
    return best_text
