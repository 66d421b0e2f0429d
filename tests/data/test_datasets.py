"""The dataset seam: every dataset loads offline or from a checked folder, has its facts' shape,
trains through the one cohort path, and bad input exits 2 naming the value."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
import torch
import yaml
from references import rel_err, train_reference, write_idx

from lowcap.data import catalog
from lowcap.data.bank import ImageBank
from lowcap.data.datasets import FACTS, PCA_COMPONENTS, DatasetFacts, facts
from lowcap.data.sources import IDX_FILES
from lowcap.errors import DataError, UserInputError
from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.models.mlp import init_params
from lowcap.run.plan import ModelPlan
from lowcap.run.split import plan_split
from lowcap.training import train_cohort
from lowcap.training.hyperparameters import Hyperparameters


@pytest.mark.parametrize("name", ["digits", "mnist1d"])
def test_offline_datasets_load_with_their_facts(name):
    data, source = catalog.load_dataset(name)
    f = facts(name)
    assert data.train_inputs.shape == (sum(f.train_counts), *f.shape)
    assert tuple(np.bincount(data.test_labels, minlength=10)) == f.test_counts
    bank = ImageBank.from_dataset(data)
    assert bank.input_dim == f.input_dim and bank.test_offset == len(data.train_labels)
    assert bank.images.shape == (len(data.train_labels) + len(data.test_labels) + 1, f.input_dim)
    assert torch.all(bank.images[-1] == 0)  # the padding row
    if name == "digits":  # 0–16 values scaled to [0, 1]
        assert bank.images.min() == 0 and bank.images.max() == 1
    assert source == f.source


def test_mnist1d_leaves_numpys_global_stream_alone(tmp_path):
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    catalog.mnist1d(cache_dir=tmp_path)  # generated: the package seeds the global stream
    assert np.random.rand() == expected
    again = catalog.mnist1d(cache_dir=tmp_path)  # from the cache, the same arrays
    np.testing.assert_array_equal(again.train_inputs, catalog.mnist1d(tmp_path).train_inputs)


def test_mnist_pca_is_mnist_on_its_training_images_principal_components(tmp_path):
    """Equal, up to each component's sign, to a plain eigendecomposition of the training
    images' covariance: centred by the training mean, the test images never in the fit;
    made once, then read from the cache."""
    data = catalog.mnist_pca(cache_dir=tmp_path)
    mnist = catalog.load_mnist(progress=False).mnist
    train = mnist.train_images.reshape(60000, -1) / 255.0
    mean = train.mean(axis=0)
    _, vectors = np.linalg.eigh(np.cov(train, rowvar=False))
    top = vectors[:, ::-1][:, :PCA_COMPONENTS]
    for ours, images in ((data.train_inputs, train),
                         (data.test_inputs, mnist.test_images.reshape(10000, -1) / 255.0)):
        plain = (images - mean) @ top
        signs = np.sign(np.sum(ours * plain, axis=0))
        np.testing.assert_allclose(ours, plain * signs, atol=2e-4)
    assert np.all(np.diff(data.train_inputs.var(axis=0)) < 0)  # by falling variance
    np.testing.assert_array_equal(data.test_labels, mnist.test_labels)
    again = catalog.mnist_pca(cache_dir=tmp_path)
    np.testing.assert_array_equal(again.test_inputs, data.test_inputs)


def _fake_published(monkeypatch, folder, name="fashion_mnist"):
    """Small IDX files standing in for a published dataset, with their MD5s as 'published'."""
    rng = np.random.default_rng(0)
    counts = (3,) * 10
    labels = {part: np.repeat(np.arange(10, dtype=np.uint8), 3) for part in ("train", "test")}
    arrays = {"train_images": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
              "train_labels": labels["train"],
              "test_images": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
              "test_labels": labels["test"]}
    md5s = []
    for field, (stem, _) in IDX_FILES.items():
        write_idx(folder / f"{stem}.gz", arrays[field])
        md5s.append(hashlib.md5((folder / f"{stem}.gz").read_bytes()).hexdigest())
    monkeypatch.setitem(catalog.PUBLISHED_MD5, name, tuple(md5s))
    monkeypatch.setitem(FACTS, name, DatasetFacts(name, (28, 28), FACTS[name].classes, counts,
                                                  counts, 255.0, "test"))
    return arrays


def test_a_published_folder_loads_when_every_md5_matches(tmp_path, monkeypatch):
    arrays = _fake_published(monkeypatch, tmp_path)
    data, source = catalog.load_dataset("fashion_mnist", {"fashion_mnist": tmp_path})
    np.testing.assert_array_equal(data.test_inputs, arrays["test_images"])
    assert str(tmp_path) in source


def test_a_changed_file_names_itself_and_both_checksums(tmp_path, monkeypatch):
    _fake_published(monkeypatch, tmp_path)
    target = tmp_path / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05"))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: MD5 [0-9a-f]{32} is not"):
        catalog.load_dataset("fashion_mnist", {"fashion_mnist": tmp_path})


def test_missing_files_and_folders_are_named(tmp_path):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz is missing"):
        catalog.load_dataset("kmnist", {"kmnist": tmp_path})
    with pytest.raises(DataError, match="is not a folder"):
        catalog.load_dataset("kmnist", {"kmnist": tmp_path / "nowhere"})
    with pytest.raises(UserInputError, match=r"data_dirs: \{kmnist: FOLDER\}"):
        catalog.load_dataset("kmnist")
    with pytest.raises(UserInputError, match="dataset 'cifar' is unknown"):
        catalog.load_dataset("cifar")


@pytest.mark.parametrize("name", ["digits", "mnist1d"])
def test_a_cohort_on_another_dataset_equals_independent_training(name):
    """The one training path at the dataset's own input size (64, 40)."""
    data, _ = catalog.load_dataset(name)
    bank = ImageBank.from_dataset(data)
    plan = ModelPlan("corrected", (3, 8), 6, 0.05, 0, Hyperparameters(
        3, 32, "kaiming_uniform", 0.1, False, 0.2, "relu", dataset=name))
    split = plan_split(data, plan)
    specs = (ModelSpec(6, 0.05, 0), ModelSpec(11, 0.2, 0))
    cohort = Cohort([Lane(split, 0, specs)], input_dim=bank.input_dim)
    train_cohort(cohort, bank, 3, 32)
    for i, spec in enumerate(specs):
        init = init_params(spec.hidden, 0, input_dim=bank.input_dim)
        assert init["w1"].shape == (spec.hidden, facts(name).input_dim)
        reference = train_reference(init, split, bank, spec.lr, 3, 32, 0)
        got = cohort.model_params(0, i)
        assert rel_err(got["w1"], reference[0].weight.detach()) < 1e-5


def _config(tmp_path, protocol: dict, sections: dict) -> str:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({
        "profile": "custom", "widths": [2, 4], "epochs": 2,
        "protocols": {"corrected": {"seeds": [0], **protocol}}, **sections}))
    return str(path)


@pytest.mark.slow
def test_a_run_on_digits_trains_and_reports(tmp_path, run_cli):
    out = tmp_path / "run"
    cfg = _config(tmp_path, {"dataset": "digits"},
                  {"capacity": {"pairs": [[3, 8], [4, 9]]}, "dead_neurons": {
                      "models": [[4, 9, 4]]}})
    code, _, err = run_cli("reproduce", "--config", cfg, "--out", str(out), "--quiet",
                           "--device", "cpu")
    assert code == 0, err
    from lowcap.api import open_run

    with open_run(out) as run:
        models = run.models()
        assert len(models) == 4
        model = run.model(models.model_id.iloc[0])
        assert model[0].weight.shape[1] == 64  # 8×8 inputs


@pytest.mark.parametrize(("protocol", "sections", "named"), [
    ({"dataset": "cifar"}, {"capacity": {}}, "dataset 'cifar' is unknown"),
    ({"dataset": "mnist1d", "augment": True}, {"capacity": {}}, "augment: dataset mnist1d"),
    ({"dataset": "digits"}, {"capacity": {}, "saliency": {"pair": [4, 9], "hidden": 4}},
     "saliency: it reads 28×28 images"),
    ({"dataset": "kmnist"}, {"capacity": {}}, "data_dirs: {kmnist: FOLDER}"),
])
def test_bad_dataset_input_exits_2_and_writes_nothing(tmp_path, run_cli, protocol, sections,
                                                      named):
    out = tmp_path / "run"
    code, _, err = run_cli("reproduce", "--config", _config(tmp_path, protocol, sections),
                           "--out", str(out), "--quiet", "--device", "cpu")
    assert code == 2 and named in err, err
    assert not out.exists()
