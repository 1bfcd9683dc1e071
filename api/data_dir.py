"""The data directory (`RACETRACK_DATA_DIR`) is private to the user the platform runs as.

It holds the database, the token signing key, sealed secrets, deploy inputs, build logs, workspaces and
Pulumi state, so nothing in it may be readable by another account on the host: directories are 0700,
files 0600. Setting the umask once at process start covers what this process and its children create
later (SQLite's -wal and -shm files, Pulumi's state, git checkouts, build logs) without each writer
having to remember; `tighten` repairs what an earlier version or a hand-made copy left open.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["OWNER_ONLY_UMASK", "make_private", "tighten"]

OWNER_ONLY_UMASK = 0o077


def make_private(data_dir: Path, *, leave: tuple[Path, ...] = ()) -> None:
    """Makes this process create owner-only files, creates `data_dir` 0700 and tightens what is in it,
    except the folders in `leave`, which another program keeps."""
    os.umask(OWNER_ONLY_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tighten(data_dir, leave=leave)


def tighten(root: Path, *, leave: tuple[Path, ...] = ()) -> None:
    """Removes group and other permission bits from `root` and everything below it but `leave`.

    Links are left alone, and so are other file systems mounted below `root` (folders and single files):
    the platform's container mounts the host's build cache read-only inside its data directory, and the
    local cluster's network namespaces are files mounted in its state; neither is ours to change.
    """
    paths = [root]
    for folder, dirs, files in os.walk(root):  # does not descend into linked folders
        dirs[:] = [
            name
            for name in dirs
            if Path(folder, name) not in leave and not os.path.ismount(Path(folder, name))
        ]
        files = [name for name in files if not os.path.ismount(Path(folder, name))]
        paths += [Path(folder, name) for name in (*dirs, *files)]
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # removed while we walked: nothing left to protect
            continue
        if stat.S_ISLNK(mode) or not mode & 0o077:
            continue
        try:
            os.chmod(path, stat.S_IMODE(mode) & ~0o077)
        except OSError as error:
            # A bind mount of one file system shows no mount point; read-only is how it tells us.
            if error.errno != errno.EROFS:
                raise
