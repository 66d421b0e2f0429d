"""t-SNE embedding and its scores on inputs with known structure."""

import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from safetensors.torch import load_file

from lowcap.studies.tsne.embedding import embed, neighbour_agreement


def two_clusters(n: int = 60, columns: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], n // 2)
    return rng.normal(0, 0.1, (n, columns)) + 10 * labels[:, None], labels


def test_neighbour_agreement_of_separated_clusters_is_one_and_of_mixed_labels_lower():
    points, labels = two_clusters()
    assert np.array_equal(neighbour_agreement(points, labels, k=5), np.ones(len(labels)))
    shuffled = np.random.default_rng(1).permutation(labels)
    assert neighbour_agreement(points, shuffled, k=5).mean() < 0.8


def test_a_single_live_unit_is_embedded():
    features, labels = two_clusters(columns=1)  # 95% pruning can leave one live unit
    result = embed(features, labels, perplexity=10)
    assert np.isfinite(result.embedding).all()
    assert result.agreement.shape == (len(labels),)
    assert result.scores["knn_agreement_hidden"] == 1.0


def test_constant_features_give_nan_scores():
    result = embed(np.zeros((30, 2)), np.repeat([0, 1], 15))
    assert np.isnan(result.agreement).all() and np.isnan(result.scores["trustworthiness"])


def test_embeddings_run_side_by_side_give_the_serial_result():
    """The study embeds its views and runs concurrently where the cores allow: with exact
    neighbours and one thread per embedding, the result does not depend on that."""
    from concurrent.futures import ThreadPoolExecutor

    views = [two_clusters(80, columns)[0] for columns in (2, 3, 5)]
    labels = two_clusters(80)[1]
    serial = [embed(v, labels, perplexity=10).embedding for v in views]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda v: embed(v, labels, perplexity=10).embedding, views))
    for a, b in zip(serial, together, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_tsne_numbers_are_identical_with_1_2_and_4_threads(run_copy, tmp_path):
    """The whole analysis (hidden features, exact affinities, the runs side by side) under
    1, 2 and 4 threads of every kind, the three at once so that each runs on a loaded machine:
    the stored numbers and embeddings agree bit for bit. (The report, which only reads them,
    is not rebuilt.)"""
    procs = {}
    for threads in ("1", "2", "4"):
        copy = tmp_path / f"run{threads}"
        shutil.copytree(run_copy, copy)
        env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "OPENBLAS_NUM_THREADS": threads}
        procs[copy] = subprocess.Popen(
            [sys.executable, "-m", "lowcap.cli", "tsne", str(copy), "--quiet", "--device",
             "cpu", "--max-points", "120", "--embeddings", "3", "--select-protocols",
             "corrected", "--no-report"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
    results = []
    for copy, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        db = sqlite3.connect(copy / "store" / "results.sqlite")
        rows = db.execute("SELECT model_id, params, metric, value FROM results WHERE analysis "
                          "= 'tsne' ORDER BY model_id, params, metric").fetchall()
        db.close()
        arrays = load_file(copy / "store" / "tsne-corrected.safetensors")
        assert arrays["agreement_0.0"].shape == (3, 120)
        results.append((rows, {k: v.numpy().tobytes() for k, v in arrays.items()}))
    assert results[0] == results[1] == results[2]
