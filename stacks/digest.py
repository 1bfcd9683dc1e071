"""Content digests of build contexts: the name under which an image can be found again."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["context_digest"]


def context_digest(context: Path, *, extra: Iterable[str] = ()) -> str:
    """A digest of every file in a build context (names, modes and contents), plus `extra` strings.

    Two contexts with the same digest build the same image, so the digest names the image and lets a
    rollback find an image it built before instead of building again.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file() or p.is_symlink()):
        relative = path.relative_to(context).as_posix()
        digest.update(relative.encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode())
        else:
            digest.update(oct(path.stat().st_mode & 0o111).encode())
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        digest.update(b"\0")
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()
