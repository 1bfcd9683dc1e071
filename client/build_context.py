"""The local build context: the job directory as a base64 tar.gz, without what `.gitignore` excludes.

Used by `deploy --build-context local`, so a job can be built from uncommitted files. The `.git`
directory is never sent. Patterns follow gitignore(5): `#` comments, `!` negation, a trailing `/` for
directories only, a `/` inside a pattern anchoring it to the job directory, `*`, `?`, `[...]` and `**`.
"""

from __future__ import annotations

import base64
import io
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from client.errors import InvalidInput

__all__ = ["IgnoreRules", "list_context_files", "encode_build_context", "BuildContext"]

ALWAYS_IGNORED = {".git"}


def _translate(pattern: str) -> str:
    """A gitignore glob as a regular expression over a `/`-separated relative path."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                if pattern.startswith("**/", i):
                    out.append("(?:.*/)?")
                    i += 3
                else:
                    out.append(".*")
                    i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find(
                "]", i + 2 if pattern.startswith("[!", i) or pattern.startswith("[^", i) else i + 1
            )
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j + 1
                continue
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


class IgnoreRules:
    """The patterns of one `.gitignore`, the last matching one deciding."""

    def __init__(self, lines: list[str] | None = None) -> None:
        self.rules: list[_Rule] = []
        for raw in lines or []:
            line = raw.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            if negated:
                line = line[1:]
            elif line.startswith("\\!") or line.startswith("\\#"):
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            anchored = "/" in line
            line = line.lstrip("/")
            body = _translate(line)
            regex = re.compile("^" + body + "$" if anchored else "^(?:.*/)?" + body + "$")
            self.rules.append(_Rule(regex=regex, negated=negated, dir_only=dir_only))

    @classmethod
    def from_dir(cls, directory: Path) -> IgnoreRules:
        path = directory / ".gitignore"
        return cls(path.read_text().splitlines() if path.is_file() else [])

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        verdict = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(rel_path):
                verdict = not rule.negated
        return verdict


def list_context_files(directory: Path, rules: IgnoreRules | None = None) -> list[str]:
    """Relative paths (sorted, `/`-separated) of the files to send; ignored directories are not entered."""
    rules = rules if rules is not None else IgnoreRules.from_dir(directory)
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        rel_root = Path(root).relative_to(directory).as_posix()
        prefix = "" if rel_root == "." else rel_root + "/"
        kept = []
        for d in sorted(dirs):
            rel = prefix + d
            if d in ALWAYS_IGNORED or rules.ignored(rel, True):
                continue
            if os.path.islink(os.path.join(root, d)):
                found.append(rel)  # sent as a link, not followed
                continue
            kept.append(d)
        dirs[:] = kept
        for f in sorted(files):
            rel = prefix + f
            if not rules.ignored(rel, False):
                found.append(rel)
    return sorted(found)


def _packed_path(directory: Path, rel: str) -> str:
    """What to pack for `rel`: the platform takes only files and folders, so a link to a file inside
    the job directory is sent as that file; any other link is an error naming it."""
    path = directory / rel
    if not path.is_symlink():
        return str(path)
    target = path.resolve()
    if target.is_file() and target.is_relative_to(directory.resolve()):
        return str(target)
    raise InvalidInput(
        f"{rel} is a symbolic link to {os.readlink(path)}, which is not a file inside the job directory",
        hint="the platform accepts only files and folders: replace the link with a copy of what it "
        "points to, or deploy from git (links inside the job's folder are kept there)",
    )


@dataclass
class BuildContext:
    encoded: str
    files: int

    @property
    def size(self) -> int:
        return len(self.encoded)


def encode_build_context(directory: Path, exclude: set[str] | None = None) -> BuildContext:
    """Pack the job directory as a tar.gz and encode it in base64, the way the deploy API expects it.

    `exclude` holds relative paths never to pack: the secret env files, which travel as secret vars
    and must not end up in an image layer.
    """
    skipped = {Path(p).as_posix() for p in exclude or set()}
    files = [f for f in list_context_files(directory) if f not in skipped]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel in files:
            tar.add(_packed_path(directory, rel), arcname=rel, recursive=False)
    return BuildContext(encoded=base64.b64encode(buffer.getvalue()).decode(), files=len(files))


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
