"""Unpacking archives that users send (build context uploads, plugin zips) inside one folder.

    extract_tar(fileobj, target, what="build context", max_bytes=...)
    extract_zip(zip_file, target, what="plugin x.zip", max_bytes=...)

Only regular files and folders are accepted: links (symbolic or hard), devices and fifos are
refused with the member's name, as are absolute names and names that climb with `..`. Each member
is written through folder descriptors opened one level at a time from `target` with O_NOFOLLOW,
so the real parent of every file is the folder checked just before writing, whatever is on disk:
no path is ever resolved through a link. The same code runs on every Python; it does not rely on
`tarfile.data_filter`, which Debian bookworm's Python 3.11.2 (the platform image's) lacks.
Modes are 0644/0755 less the process's umask: the lifecycle's (077) keeps what it unpacks in its
data directory owner-only.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from core.errors import InvalidInput

__all__ = ["extract_tar", "extract_zip", "process_umask", "MAX_MEMBERS"]

MAX_MEMBERS = 100_000
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


def process_umask() -> int:
    """The process's umask, read without setting it: `os.umask` sets it for every thread at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022  # no /proc: assume the usual, which keeps the modes this module chose


@dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    executable: bool
    size: int
    mtime: float | None
    open: Callable[[], IO[bytes]] | None


def _refuse(what: str, name: str, problem: str) -> InvalidInput:
    return InvalidInput(
        f"{what}: member {name!r} {problem}; archives may hold only files and folders inside "
        "their top folder (replace links with copies of the files they point to)"
    )


def _parts(what: str, name: str) -> list[str]:
    """The folder names and file name of a member, or an error naming it."""
    if any(ord(char) < 0x20 or char == "\x7f" for char in name):
        raise _refuse(what, name, "has a control character in its name")
    if name.startswith("/"):
        raise _refuse(what, name, "has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse(what, name, "leaves the folder with '..'")
    return parts


@contextmanager
def _folder(root_fd: int, parts: list[str], what: str, name: str) -> Iterator[int]:
    """A descriptor of the folder `parts` under root, made where missing; never through a link."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            try:
                os.mkdir(part, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refuse(what, name, f"goes through {part!r}, which is not a folder") from None
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _write(root_fd: int, member: _Member, what: str, budget: list[int], umask: int) -> None:
    parts = _parts(what, member.name)
    if not parts:
        return  # the top folder itself ("./")
    if member.is_dir:
        with _folder(root_fd, parts, what, member.name):
            return
    mode = (0o755 if member.executable else 0o644) & ~umask
    with _folder(root_fd, parts[:-1], what, member.name) as parent:
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, mode, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EISDIR):
                raise _refuse(what, member.name, "would replace a folder or a link") from None
            raise
        with os.fdopen(fd, "wb") as out:
            assert member.open is not None
            with member.open() as source:
                while chunk := source.read(1 << 20):
                    budget[0] -= len(chunk)
                    if budget[0] < 0:
                        raise InvalidInput(f"{what}: unpacks to more than the allowed size")
                    out.write(chunk)
            os.fchmod(out.fileno(), mode)
            if member.mtime is not None:
                os.utime(out.fileno(), (member.mtime, member.mtime))


def _extract(members: Iterable[_Member], target: Path, what: str, max_bytes: int) -> None:
    listed = list(members)
    if len(listed) > MAX_MEMBERS:
        raise InvalidInput(f"{what}: more than {MAX_MEMBERS} files and folders")
    declared = sum(member.size for member in listed)
    if declared > max_bytes:
        raise InvalidInput(f"{what}: unpacks to {declared >> 20} MB, more than {max_bytes >> 20} MB")
    for member in listed:
        _parts(what, member.name)  # refuse a bad archive before writing anything
    target.mkdir(parents=True, exist_ok=True)
    root_fd = os.open(target, _DIR_FLAGS)
    budget = [max_bytes]
    umask = process_umask()
    try:
        for member in listed:
            _write(root_fd, member, what, budget, umask)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # nothing half-unpacked stays behind
        raise
    finally:
        os.close(root_fd)


def extract_tar(archive: tarfile.TarFile, target: Path, *, what: str, max_bytes: int) -> None:
    """Unpacks a tar archive into `target` (see the module's docstring for what is refused)."""
    members = []
    for info in archive.getmembers():
        if info.issym():
            raise _refuse(what, info.name, f"is a symbolic link (to {info.linkname!r})")
        if info.islnk():
            raise _refuse(what, info.name, f"is a hard link (to {info.linkname!r})")
        if not (info.isreg() or info.isdir()):
            raise _refuse(what, info.name, "is not a file or folder (a device or fifo)")

        def opener(info: tarfile.TarInfo = info) -> IO[bytes]:
            handle = archive.extractfile(info)
            assert handle is not None
            return handle

        members.append(
            _Member(
                name=info.name,
                is_dir=info.isdir(),
                executable=bool(info.mode & 0o111),
                size=info.size if info.isreg() else 0,
                mtime=float(info.mtime),
                open=opener if info.isreg() else None,
            )
        )
    _extract(members, target, what, max_bytes)


def extract_zip(archive: zipfile.ZipFile, target: Path, *, what: str, max_bytes: int) -> None:
    """Unpacks a zip archive into `target` (see the module's docstring for what is refused)."""
    members = []
    for info in archive.infolist():
        unix_mode = info.external_attr >> 16 if info.create_system == 3 else 0
        kind = stat.S_IFMT(unix_mode)
        if kind == stat.S_IFLNK:
            raise _refuse(what, info.filename, "is a symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _refuse(what, info.filename, "is not a file or folder (a device or fifo)")
        is_dir = info.is_dir() or kind == stat.S_IFDIR
        members.append(
            _Member(
                name=info.filename,
                is_dir=is_dir,
                executable=bool(unix_mode & 0o111),
                size=0 if is_dir else info.file_size,
                mtime=None,
                open=None if is_dir else functools.partial(archive.open, info),
            )
        )
    try:
        _extract(members, target, what, max_bytes)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as exc:  # encrypted, unknown method
        raise InvalidInput(f"{what}: cannot be unpacked: {exc}") from None
