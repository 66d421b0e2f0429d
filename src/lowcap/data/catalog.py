"""Loading any dataset lowcap knows, offline: one loader per dataset, one `Dataset` out.

- `mnist`: the MNIST loader (cache, IDX folder, mirrors, package registry; `lowcap.data.loading`).
- `fashion_mnist`, `kmnist`: the four published gzip IDX files from a folder the user names
  (`data_dirs:` in the config), each checked against its published MD5 (the checksums
  torchvision lists for them).
- `digits`: scikit-learn's bundled 8×8 digits, split 75/25 (stratified, random_state 0).
- `mnist1d`: generated locally by the `mnist1d` package from its default arguments, cached.
- `mnist_pca`: MNIST projected on its training images' first principal components, cached.

Every result is verified against the dataset's facts (`lowcap.data.datasets`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import torch

from lowcap.atomic import atomic_path
from lowcap.data.bank import ImageBank
from lowcap.data.datasets import PCA_COMPONENTS, Dataset, facts
from lowcap.data.idx import read_idx
from lowcap.data.loading import default_cache_dir, load_mnist
from lowcap.data.sources import IDX_FILES, file_digest
from lowcap.errors import DataError, UserInputError

# Published MD5s of the gzip files, in IDX_FILES order (train images, train labels, test
# images, test labels).
PUBLISHED_MD5 = {
    "fashion_mnist": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                      "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"),
    "kmnist": ("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
               "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"),
}
NEEDS_FOLDER = frozenset(PUBLISHED_MD5)


def read_published_idx(name: str, folder: Path) -> Dataset:
    """Fashion-MNIST or KMNIST from the four published .gz files in `folder`; DataError
    naming the file that is missing or whose MD5 is not the published one."""
    if not folder.is_dir():
        raise DataError(f"data_dirs.{name}: {folder} is not a folder")
    arrays = {}
    for (field, (stem, ndim)), md5 in zip(IDX_FILES.items(), PUBLISHED_MD5[name], strict=True):
        path = folder / f"{stem}.gz"
        if not path.is_file():
            raise DataError(f"data_dirs.{name}: {path} is missing; put the four published "
                            f"gzip IDX files of {name} there, unchanged")
        got = file_digest(path, "md5")
        if got != md5:
            raise DataError(f"{path}: MD5 {got} is not the published {md5} of {name}'s "
                            f"{stem}.gz; download it again")
        arrays[field] = read_idx(path, ndim)
    return Dataset(facts(name), arrays["train_images"], arrays["train_labels"],
                   arrays["test_images"], arrays["test_labels"]).verify(str(folder))


def sklearn_digits() -> Dataset:
    """scikit-learn's 1,797 8×8 digits (values 0–16 as uint8), split 75/25 stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.uint8)
    train, test = train_test_split(np.arange(len(digits.target)), test_size=0.25,
                                   stratify=digits.target, random_state=0)
    train, test = np.sort(train), np.sort(test)
    labels = digits.target.astype(np.uint8)
    return Dataset(facts("digits"), images[train], labels[train], images[test],
                   labels[test]).verify("scikit-learn digits")


def cached_arrays(path: Path, make: Callable[[], dict[str, np.ndarray]]
                  ) -> dict[str, np.ndarray]:
    """The arrays stored at `path` (an .npz), made by `make` and written atomically the first
    time (for the datasets lowcap derives itself)."""
    if path.exists():
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    arrays = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return arrays


def mnist1d(cache_dir: Path | None = None) -> Dataset:
    """MNIST-1D as the `mnist1d` package generates it with its default arguments (4,000
    training and 1,000 test signals of 40 values), cached as float32."""
    cache = (cache_dir or default_cache_dir()) / "mnist1d-default-seed42.npz"

    def make() -> dict[str, np.ndarray]:
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError as exc:
            raise UserInputError("dataset mnist1d needs the mnist1d package: "
                                 "pip install mnist1d") from exc
        state = np.random.get_state()  # make_dataset seeds NumPy's global stream
        try:
            made = make_dataset(get_dataset_args())
        finally:
            np.random.set_state(state)
        return {"x": made["x"].astype(np.float32), "y": made["y"].astype(np.uint8),
                "x_test": made["x_test"].astype(np.float32),
                "y_test": made["y_test"].astype(np.uint8)}

    arrays = cached_arrays(cache, make)
    return Dataset(facts("mnist1d"), arrays["x"], arrays["y"], arrays["x_test"],
                   arrays["y_test"]).verify(f"MNIST-1D ({cache})")


def mnist_pca(cache_dir: Path | None = None, progress: bool = True) -> Dataset:
    """MNIST's images (pixels / 255) projected on the first `PCA_COMPONENTS` principal
    components of its 60,000 training images (scikit-learn's PCA: centred by their mean, the
    components' signs fixed by its svd_flip; the test images never enter the fit), float32,
    cached. The inputs of double descent on MNIST pairs: few enough that the interpolation
    threshold falls at widths a CPU trains in seconds."""
    cache = (cache_dir or default_cache_dir()) / f"mnist-pca{PCA_COMPONENTS}-v1.npz"

    def make() -> dict[str, np.ndarray]:
        from sklearn.decomposition import PCA

        mnist = load_mnist(progress=progress).mnist
        train = mnist.train_images.reshape(len(mnist.train_labels), -1) / 255.0
        test = mnist.test_images.reshape(len(mnist.test_labels), -1) / 255.0
        # The covariance route: 784 × 784 eigenproblem instead of an SVD of 60,000 rows.
        pca = PCA(PCA_COMPONENTS, svd_solver="covariance_eigh").fit(train)
        return {"x": pca.transform(train).astype(np.float32), "y": mnist.train_labels,
                "x_test": pca.transform(test).astype(np.float32), "y_test": mnist.test_labels}

    arrays = cached_arrays(cache, make)
    return Dataset(facts("mnist_pca"), arrays["x"], arrays["y"], arrays["x_test"],
                   arrays["y_test"]).verify(f"MNIST-PCA ({cache})")


def load_dataset(name: str, data_dirs: Mapping[str, Path] | None = None,
                 progress: bool = True) -> tuple[Dataset, str]:
    """The verified dataset `name` and where it came from (in words)."""
    facts(name)  # an unknown name fails here, naming the known ones
    dirs = data_dirs or {}
    if name == "mnist":
        loaded = load_mnist(progress=progress)
        return Dataset.of_mnist(loaded.mnist), loaded.source
    if name in NEEDS_FOLDER:
        if name not in dirs:
            raise UserInputError(f"dataset {name}: lowcap cannot download it here; set "
                                 f"data_dirs: {{{name}: FOLDER}} in the config, FOLDER holding "
                                 "its four published gzip IDX files")
        return read_published_idx(name, Path(dirs[name])), f"IDX folder {dirs[name]}"
    loaders: dict[str, Callable[[], Dataset]] = {
        "digits": sklearn_digits, "mnist1d": mnist1d,
        "mnist_pca": lambda: mnist_pca(progress=progress)}
    return loaders[name](), facts(name).source


class Datasets:
    """The datasets of a run: loaded on first use (or up front by `load`), with one image bank
    per (dataset, float type) on the compute device."""

    def __init__(self, device: torch.device | str = "cpu",
                 data_dirs: Mapping[str, Path] | None = None, progress: bool = True,
                 loaded: Mapping[str, Dataset] | None = None):
        self.device = torch.device(device)
        self.data_dirs = dict(data_dirs or {})
        self.progress = progress
        self.sources: dict[str, str] = {}
        self._data: dict[str, Dataset] = dict(loaded or {})
        self._banks: dict[tuple[str, torch.dtype], ImageBank] = {}

    def load(self, names: Iterable[str]) -> None:
        """Load and verify these datasets now (a missing or wrong file fails before a run
        writes anything)."""
        for name in sorted(set(names)):
            self.get(name)

    def get(self, name: str) -> Dataset:
        """The verified dataset `name`."""
        if name not in self._data:
            self._data[name], self.sources[name] = load_dataset(name, self.data_dirs,
                                                                self.progress)
        return self._data[name]

    def bank(self, name: str = "mnist", dtype: torch.dtype = torch.float32) -> ImageBank:
        """The dataset's inputs on the device in `dtype` (a float64 bank holds the float32
        values exactly: both are the stored values / scale rounded to float32)."""
        key = (name, dtype)
        if key not in self._banks:
            base = (name, torch.float32)
            if base not in self._banks:
                self._banks[base] = ImageBank.from_dataset(self.get(name), self.device)
            self._banks[key] = self._banks[base].to(dtype)
        return self._banks[key]
