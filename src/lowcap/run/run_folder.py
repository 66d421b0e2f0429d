"""What lowcap owns in a run folder, and the rules that keep it away from everything else.

A *run folder* is one lowcap made: it holds the marker file `.lowcap-run`, written when the
folder is first opened for a run (folders made before the marker existed are recognised by their
`config.yaml` beside a lowcap results store). lowcap writes only into a folder that is new,
empty or a run folder, and deletes only files it recognises as its own by name and place:
`--fresh` and the clean-up of a killed run's temporaries never touch a file a user put there.

The marker doubles as the run lock: a process that writes to the run (training, an analysis,
`lowcap report`, which rewrites the report) holds an exclusive `flock` on it (and writes its
pid into it), so a second writer is refused at once. Readers (`lowcap.open_run`) never take
the lock, never wait for it and create no file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from fnmatch import fnmatch
from pathlib import Path

from lowcap.errors import UserInputError
from lowcap.run.store import Store

MARKER = ".lowcap-run"
STORE_FILE = Path("store") / "results.sqlite"
# Folder (relative to the run) → names of the files lowcap writes there.
OWNED: dict[str, tuple[str, ...]] = {
    ".": ("config.yaml", "summary.json", "report.html"),
    "store": ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm",
              "results.sqlite-journal", "*.safetensors"),
    "checkpoints": ("*.safetensors",),
    "figures": ("*.png", "*.svg", "rendered.json"),
}
# An atomic write's temporary: "." + final name + "." + random suffix + ".tmp" (atomic.py).
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]+\.tmp$")


def _owned_name(folder: str, name: str) -> bool:
    return any(fnmatch(name, pattern) for pattern in OWNED.get(folder, ()))


def _is_temporary(folder: str, name: str) -> bool:
    match = _TEMPORARY.match(name)
    return match is not None and _owned_name(folder, match["name"])


def owned_files(out: Path, temporaries_only: bool = False) -> list[Path]:
    """The files of `out` lowcap wrote (or only its interrupted writes' temporaries); the
    marker is not among them."""
    found = []
    for folder in OWNED:
        directory = out / folder
        if not directory.is_dir() or directory.is_symlink():
            continue
        for path in directory.iterdir():
            if path.is_symlink() or not path.is_file():
                continue
            if _is_temporary(folder, path.name) or (
                    not temporaries_only and _owned_name(folder, path.name)):
                found.append(path)
    return found


def owned_path(out: Path, relative: str) -> Path:
    """`out / relative` if that is a file lowcap may write or delete (a path recorded in the
    store, say); a UserInputError otherwise, so a damaged store cannot aim a deletion
    elsewhere."""
    parts = Path(relative).parts
    folder = "." if len(parts) == 1 else parts[0]
    if len(parts) > 2 or ".." in parts or Path(relative).is_absolute() \
            or not _owned_name(folder, parts[-1]):
        raise UserInputError(f"{out}: the store names {relative!r}, which is not a file "
                             "lowcap writes; the store is damaged")
    return out / relative


def remove_stale_temporaries(out: Path) -> int:
    """Delete the temporaries that a killed run's atomic writes left in `out`'s own folders;
    returns how many. Nothing else is touched."""
    stale = owned_files(out, temporaries_only=True)
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def _legacy_run(out: Path) -> bool:
    """A run folder of a lowcap from before the marker: config.yaml and a lowcap store."""
    store = out / STORE_FILE
    return (out / "config.yaml").is_file() and store.is_file() and Store.is_lowcap_store(store)


def _regular_file(path: Path) -> bool:
    """A file, not a symbolic link (to one or to anything else)."""
    return path.is_file() and not path.is_symlink()


def is_run_folder(out: Path) -> bool:
    """Whether lowcap made `out` (its marker, or a store and config of an older lowcap); a
    marker that is a symbolic link is not lowcap's."""
    return out.is_dir() and (_regular_file(out / MARKER) or _legacy_run(out))


def refuse_links(out: Path) -> None:
    """UserInputError if a place inside the run folder `out` where lowcap writes (its marker,
    store, checkpoints and figures folders, and the files it owns in them) is a symbolic link:
    writing through it would land among someone else's files. Checked before a writer starts;
    `atomic_path` also refuses to replace a link."""
    places = [out / MARKER, *(out / folder for folder in OWNED if folder != ".")]
    for folder, patterns in OWNED.items():
        directory = out / folder
        if directory.is_dir() and not directory.is_symlink():
            places += [path for path in directory.iterdir()
                       if any(fnmatch(path.name, pattern) for pattern in patterns)]
    for path in places:
        if path.is_symlink():
            raise UserInputError(
                f"{path}: a symbolic link where lowcap keeps its own "
                f"{'folder' if path.parent == out and path.name in OWNED else 'file'}; lowcap "
                "never writes through links inside a run folder: remove the link (or copy what "
                "it points to in its place) and run the command again")


def require_run_folder(out: Path) -> None:
    """UserInputError unless `out` is a lowcap run folder with its config."""
    if not is_run_folder(out) or not (out / "config.yaml").is_file():
        raise UserInputError(f"{out}: not a run directory (no lowcap run there); run "
                             "`lowcap reproduce --out DIR` first")


def check_writable(out: Path) -> None:
    """UserInputError if this process may not write into the folder `out`."""
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserInputError(f"{out}: the folder is not writable (read-only?); fix its "
                             "permissions or copy the run elsewhere")


def check_writable_target(out: Path) -> None:
    """Refuse, before anything is written, an `--out` that lowcap must not write into: a file,
    a folder holding someone else's files, or a place that cannot be created."""
    if out.is_symlink() and not out.exists():
        raise UserInputError(f"--out {out}: a broken symbolic link")
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: a file, not a folder; choose a folder for the run")
    if out.is_dir():
        if is_run_folder(out) or not any(out.iterdir()):
            check_writable(out)
            return
        raise UserInputError(
            f"--out {out}: the folder holds files lowcap did not write and is not a lowcap run "
            "folder; choose a new or empty folder (lowcap never writes among your files)")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise UserInputError(f"--out {out}: cannot be created ({parent} is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserInputError(f"--out {out}: cannot be created ({parent} is not writable)")


def check_fresh_target(out: Path) -> None:
    """`--fresh` empties only a run folder, and never `/`, the home folder, the current
    folder or one of its parents (even a run folder there is more likely a typo)."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return  # nothing to delete
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    guarded = {Path("/"), Path.home().resolve(), cwd, *cwd.parents}
    if resolved in guarded:
        raise UserInputError(f"--fresh {out}: refusing to empty {resolved} (the root, home "
                             "or current folder, or one of its parents); name the run folder")
    if not is_run_folder(out):
        raise UserInputError(f"--fresh {out}: not a lowcap run folder; --fresh only empties "
                             "folders lowcap made (nothing was deleted)")


def clear_run(out: Path) -> int:
    """Delete what lowcap wrote in the run folder `out` (not the marker, not anyone else's
    files); its own subfolders go too when nothing else is in them. Returns the files
    deleted."""
    files = owned_files(out)
    for path in files:
        path.unlink(missing_ok=True)
    for folder in OWNED:
        directory = out / folder
        if folder != "." and directory.is_dir() and not directory.is_symlink() \
                and not any(directory.iterdir()):
            directory.rmdir()
    return len(files)


class RunLock:
    """The exclusive writer's lock on a run folder (flock on its marker). Creating it makes
    the folder (if new) and the marker; `release()` (or process exit) frees it."""

    def __init__(self, out: Path):
        refuse_links(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
            # O_NOFOLLOW: a marker planted as a link is never opened through (refuse_links
            # checked it; this closes the window between the check and the open).
            self._fd = os.open(out / MARKER, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise UserInputError(f"--out {out}: cannot create the run folder "
                                 f"({exc.strerror})") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(self._fd)
            os.close(self._fd)
            raise UserInputError(
                f"{out}: another lowcap process is writing to this run ({holder}); wait for "
                "it to finish, or use another --out") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps({"pid": os.getpid(),
                                        "command": " ".join(sys.argv)}).encode(), 0)

    def release(self) -> None:
        """Free the lock (idempotent)."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"
