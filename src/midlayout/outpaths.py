"""Output paths checked before any work: a folder or a file that cannot be written is exit 2 in one
line naming it (never an OSError after the whole read)."""

from __future__ import annotations

import os
from pathlib import Path

from midlayout import umask
from midlayout.errors import UsageError


def out_folder(path: Path, option: str = "--out", mode: int = 0o777) -> Path:
    """An output folder, created when missing (with `mode`, less the user's umask, also while a conversion
    in another thread holds the private one); UsageError when it cannot be one."""
    if path.is_symlink() and not path.exists():
        raise UsageError(f"{option} {path}: a dangling symbolic link (what it points to does not exist)")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file, not a folder")
    created = not path.exists()
    try:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        wanted = mode & ~umask.user() & 0o7777
        current = path.stat().st_mode
        if created and current & 0o777 != wanted & 0o777:  # another thread's conversion held umask 077
            os.chmod(path, (current & ~0o777) | (wanted & 0o777))
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot create the folder ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the folder is not writable")
    return path


def out_file(path: Path, option: str = "--out", force: bool = True) -> Path:
    """An output file in an existing, writable folder; UsageError when it cannot be written (or exists,
    without `force`)."""
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    if path.is_symlink() and not path.exists():
        raise UsageError(f"{option} {path}: a dangling symbolic link (what it points to does not exist)")
    if path.exists() and not force:
        raise UsageError(f"{option} {path}: exists; pass --force to overwrite it")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the folder {parent} is not writable")
    return path
