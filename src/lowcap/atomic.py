"""Atomic file writes: a reader sees the old file or the complete new one, never a partial one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from lowcap.errors import UserInputError, WriteError


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is fsynced and renamed onto `path`.

    On any exception the temporary file is removed and `path` is left untouched; a failed write
    (disk full, quota, permissions) becomes a `WriteError` naming `path`. A `path` that is a
    symbolic link is refused (UserInputError): replacing it would delete someone's link.
    """
    if path.is_symlink():
        raise UserInputError(f"{path}: a symbolic link where lowcap writes its own file; "
                             "lowcap does not replace links: remove it and run the command "
                             "again")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc.strerror or str(exc)) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); the result is readable like any tool's
        # output (0644 under the usual umask).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc.strerror or str(exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it back at once
    os.umask(mask)
    return mask


def write_error(target: Path | str, reason: str) -> WriteError:
    """The error for a failed write of `target`, with what to do about it."""
    return WriteError(f"cannot write {target}: {reason}; nothing partial was kept: free space "
                      "(or fix permissions) and run the same command again to resume")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
