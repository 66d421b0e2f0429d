"""t-SNE of hidden representations, with numbers that make "clusters preserved" measurable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from openTSNE import TSNE
from sklearn.manifold import trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors


@dataclass
class Embedding:
    """A 2-D embedding [N, 2], its scores, and each point's neighbour agreement [N]."""

    embedding: np.ndarray
    scores: dict[str, float]
    agreement: np.ndarray


def knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """5-fold cross-validated accuracy of a k-NN classifier on the points: how well the labels
    cluster."""
    return float(cross_val_score(KNeighborsClassifier(k), points, labels, cv=5).mean())


def neighbour_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> np.ndarray:
    """Per point, the fraction of its k nearest other points with its label: the per-point
    form of "the labels cluster" that a bootstrap over points can resample."""
    _, index = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    return (labels[index[:, 1:]] == labels[:, None]).mean(axis=1)


def embed(features: np.ndarray, labels: np.ndarray, perplexity: float = 30.0, seed: int = 0
          ) -> Embedding:
    """openTSNE 2-D embedding (seeded), scored by 10-NN label agreement in 2-D and in the
    original space, and by trustworthiness (10 neighbours). Features that cannot be embedded
    (non-finite, or all points equal, as for a network whose units are all dead) give NaN.

    Affinities use exact nearest neighbours and the embedding runs on one thread: openTSNE's
    default approximate neighbours are drawn by threads and change with their timing, and
    with exact ones the result is the same for any thread count (tested). Callers run
    several embeddings side by side instead."""
    features = np.asarray(features, dtype=np.float64)
    perplexity = min(perplexity, (len(features) - 1) / 3)
    if not np.isfinite(features).all() or np.ptp(features, axis=0).max(initial=0) == 0:
        nan = float("nan")
        return Embedding(np.full((len(features), 2), nan), {
            "knn_agreement_2d": nan, "knn_agreement_hidden": nan, "trustworthiness": nan},
            np.full(len(features), nan))
    if features.shape[1] == 1:  # one unit: openTSNE's PCA start needs two columns, and a
        features = np.hstack([features, np.zeros_like(features)])  # zero one moves no distance
    points = np.asarray(TSNE(n_components=2, perplexity=perplexity, random_state=seed,
                             neighbors="exact", n_jobs=1, verbose=False).fit(features))
    return Embedding(points, {
        "knn_agreement_2d": knn_agreement(points, labels),
        "knn_agreement_hidden": knn_agreement(features, labels),
        "trustworthiness": float(trustworthiness(features, points, n_neighbors=10)),
    }, neighbour_agreement(points, labels))
