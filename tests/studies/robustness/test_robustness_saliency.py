"""Corruptions (seeded, in range, exact occlusion) and saliency (paper's loop, Captum)."""

import numpy as np
import pytest
import torch
from references import captum_integrated_gradients, captum_saliency

from lowcap.models import build_mlp, init_params
from lowcap.studies.robustness.corruptions import CORRUPTIONS, SEVERITIES, corrupt, occlusion
from lowcap.studies.saliency import maps as saliency


@pytest.fixture
def images():
    return torch.rand(20, 784, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruptions_are_seeded_and_in_range(images, name):
    parameter = SEVERITIES[name][-1] if name in SEVERITIES else (7 if name == "occlusion"
                                                                 else 0.5)
    a, b = corrupt(images, name, parameter, 3), corrupt(images, name, parameter, 3)
    assert torch.equal(a, b)
    assert a.shape == images.shape and a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, images)
    if name not in ("gaussian_blur", "brightness"):  # deterministic by design
        assert not torch.equal(a, corrupt(images, name, parameter, 4))


def test_occlusion_zeros_exactly_one_7x7_patch():
    x = torch.rand(50, 784) * 0.9 + 0.1  # no zero pixels to begin with
    out = occlusion(x, 7, seed=1).reshape(50, 28, 28)
    for img in out:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        assert len(rows) == 49
        assert rows.max() - rows.min() == 6 and cols.max() - cols.min() == 6
    changed = (out.reshape(50, 784) != x).sum(1)
    assert changed.tolist() == [49] * 50


def test_gaussian_noise_has_the_given_sigma():
    x = torch.full((100, 784), 0.5)
    noisy = corrupt(x, "gaussian", 0.1, 0)
    assert (noisy - x).std().item() == pytest.approx(0.1, rel=0.02)


def paper_saliency_loop(model, image_vector, epsilon=0.01):
    """Appendix C.2, line by line (model.predict = sigmoid output)."""
    def predict(v):
        with torch.no_grad():
            return torch.sigmoid(model(torch.from_numpy(v).float())).numpy().reshape(-1)

    baseline_score = predict(image_vector.reshape(1, -1))[0]
    saliency_values = np.zeros_like(image_vector)
    for i in range(image_vector.shape[0]):
        perturbed_image = np.copy(image_vector)
        perturbed_image[i] += epsilon
        new_score = predict(perturbed_image.reshape(1, -1))[0]
        saliency_values[i] = np.abs(new_score - baseline_score)
    return saliency_values


def trained_like_params(h=6, seed=0):
    params = {k: v.float() for k, v in init_params(h, seed).items()}
    params["w1"] *= 8  # make several units switch on/off under perturbation
    return params


def test_finite_difference_equals_the_papers_loop(images):
    params = trained_like_params()
    model = build_mlp(params)
    ours = saliency.finite_difference(params, images[:3])
    for i in range(3):
        expected = paper_saliency_loop(model, images[i].numpy())
        np.testing.assert_allclose(ours[i].numpy(), expected, rtol=1e-3, atol=2e-6)


def test_gradient_equals_captum_saliency(images):
    params = trained_like_params(h=10, seed=2)
    torch.testing.assert_close(saliency.gradient(params, images),
                               captum_saliency(params, images), rtol=1e-5, atol=1e-7)


def test_integrated_gradients_completeness(images):
    params = {k: v.double() for k, v in trained_like_params(h=5, seed=4).items()}
    x = images[:4].double()
    attributions = saliency.integrated_gradients(params, x, steps=200)
    model = build_mlp(params)
    with torch.no_grad():
        gap = torch.sigmoid(model(x)).squeeze(1) - torch.sigmoid(model(torch.zeros_like(x)))[0]
    torch.testing.assert_close(attributions.sum(1), gap, rtol=2e-2, atol=2e-3)


def test_integrated_gradients_equal_captums():
    params = {k: v.double() for k, v in trained_like_params(h=7, seed=5).items()}
    x = torch.rand(6, 784, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(saliency.integrated_gradients(params, x),
                               captum_integrated_gradients(params, x),
                               rtol=1e-7, atol=1e-10)


def test_agreement_known_values():
    a = torch.arange(784.0).repeat(3, 1)
    b = a.clone()
    b[1] = a[1].flip(0)
    b[2] = a[2] ** 2  # monotone: same ranks
    result = saliency.agreement(a, b, top_k=10)
    np.testing.assert_allclose(result["spearman"], [1.0, -1.0, 1.0])
    np.testing.assert_allclose(result["topk_overlap"], [1.0, 0.0, 1.0])
