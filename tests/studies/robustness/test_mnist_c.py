"""MNIST-C as published: each corruption changes an image by the amount its published code
(google-research/mnist-c) does at its default severity."""

import numpy as np
import pytest
from scipy.stats import poisson

from lowcap.studies.robustness import mnist_c as mc


def _digitish(n=64, seed=0):
    """Images with a bright blob in the middle, black elsewhere."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28))
    x[:, 8:20, 10:18] = rng.uniform(0.6, 1.0, size=(n, 12, 8))
    return x


def _centroid(image):
    rows, cols = np.indices(image.shape)
    return np.array([(image * cols).sum(), (image * rows).sum()]) / image.sum()


def test_every_corruption_is_seeded_in_range_and_changes_the_image():
    x = _digitish(16)
    for name in mc.MNIST_C:
        a, b = mc.mnist_c(x, name, 3), mc.mnist_c(x, name, 3)
        np.testing.assert_array_equal(a, b)
        assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1, name
        assert np.abs(a - x).mean() > 1e-3, name
    with pytest.raises(ValueError, match="unknown MNIST-C corruption 'snow'"):
        mc.mnist_c(x, "snow", 0)


def test_the_default_severities_are_the_published_ones():
    assert mc.parameter("shot_noise", mc.DEFAULT_SEVERITY["shot_noise"]) == 3
    assert mc.parameter("impulse_noise", mc.DEFAULT_SEVERITY["impulse_noise"]) == 0.17
    assert mc.parameter("glass_blur", mc.DEFAULT_SEVERITY["glass_blur"]) == (0.7, 1, 2)
    assert mc.parameter("motion_blur", mc.DEFAULT_SEVERITY["motion_blur"]) == (10, 3)
    assert mc.parameter("shear", mc.DEFAULT_SEVERITY["shear"]) == 0.4
    assert mc.parameter("scale", mc.DEFAULT_SEVERITY["scale"]) == pytest.approx(1 / 0.7)
    assert mc.parameter("rotate", mc.DEFAULT_SEVERITY["rotate"]) == 0.4
    assert mc.parameter("translate", mc.DEFAULT_SEVERITY["translate"]) == 3
    assert mc.parameter("fog", mc.DEFAULT_SEVERITY["fog"]) == (3.0, 1.4)
    assert mc.parameter("spatter", mc.DEFAULT_SEVERITY["spatter"])[:2] == (0.65, 0.3)
    assert len(mc.MNIST_C) == 15


def test_shot_noise_is_poisson_with_three_photons():
    x = np.full((200, 28, 28), 0.5)
    out = mc.mnist_c(x, "shot_noise", 0)
    counts = np.arange(20)
    expected = (poisson.pmf(counts, 1.5) * np.minimum(counts / 3, 1)).sum()  # clipped at 1
    assert out.mean() == pytest.approx(expected, abs=2e-3)
    assert set(np.unique(out * 3).round(6)) <= {0, 1, 2, 3}


def test_impulse_noise_hits_seventeen_percent_of_pixels_half_salt_half_pepper():
    out = mc.mnist_c(np.full((200, 28, 28), 0.5), "impulse_noise", 0)
    hit = out != 0.5
    assert hit.mean() == pytest.approx(0.17, abs=3e-3)
    assert (out[hit] == 1).mean() == pytest.approx(0.5, abs=0.01)


def test_brightness_adds_one_half_and_stripe_inverts_the_side_columns():
    x = _digitish(4)
    np.testing.assert_allclose(mc.mnist_c(x, "brightness", 0), np.clip(x + 0.5, 0, 1))
    striped = mc.mnist_c(x, "stripe", 0)
    np.testing.assert_allclose(striped[:, :, 7:21], x[:, :, 7:21])
    np.testing.assert_allclose(striped[:, :, :7], 1 - x[:, :, :7])
    np.testing.assert_allclose(striped[:, :, 21:], 1 - x[:, :, 21:])


@pytest.mark.parametrize("name", ["shear", "rotate", "scale", "translate"])
def test_geometric_corruptions_move_a_spot_where_the_inverse_affine_sends_it(name):
    x = np.zeros((32, 28, 28))
    x[:, 6:8, 16:18] = 1.0  # a 2×2 spot centred at (column 16.5, row 6.5): off the centre
    out = mc.mnist_c(x, name, 1)
    spot = np.array([16.5, 6.5])
    value = mc.parameter(name, mc.DEFAULT_SEVERITY[name])
    for image in out:
        moved = _centroid(image)
        if name == "translate":
            candidates = [spot - (dx, dy) for dx in (-3, 3) for dy in (-3, 3)]
        else:
            signs = (1.0,) if name == "scale" else (-1.0, 1.0)
            candidates = []
            for sign in signs:
                v = sign * value
                linear = {"shear": [[1, -np.sin(v)], [0, np.cos(v)]],
                          "rotate": [[np.cos(v), -np.sin(v)], [np.sin(v), np.cos(v)]],
                          "scale": [[v, 0], [0, v]]}[name]
                forward = mc.centred_affine(np.array(linear))
                # the output at p shows the input at A·p: the spot lands at A⁻¹·spot
                candidates.append((np.linalg.inv(forward) @ [*spot, 1])[:2])
        assert min(np.linalg.norm(moved - c) for c in candidates) < 0.35, (name, moved)


def test_scale_shrinks_the_ink_by_the_square_of_point_seven():
    x = _digitish(8)
    out = mc.mnist_c(x, "scale", 0)
    assert out.sum() / x.sum() == pytest.approx(0.7 ** 2, rel=0.05)


def test_motion_blur_spreads_a_point_along_imagemagicks_one_sided_kernel():
    weights, offsets = mc.motion_kernel(10, 3, 0.0)
    assert len(weights) == 21 and weights.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(offsets[:, 1], 0)
    np.testing.assert_array_equal(offsets[:, 0], np.arange(21))
    assert weights[1] / weights[0] == pytest.approx(np.exp(-1 / 18))
    x = np.zeros((1, 28, 28))
    x[0, 14, 14] = 1.0
    out = mc.mnist_c(x, "motion_blur", 0)[0]
    # the taps read to one side only, so the smear runs from the point backwards, one-sided
    assert out.sum() == pytest.approx(1.0, abs=0.03)
    assert out[14, 14] == pytest.approx(np.round(weights[0] * 255) / 255)


def test_glass_blur_blurs_columns_only_and_keeps_the_ink():
    x = np.zeros((8, 28, 28))
    x[:, 10:18, 14] = 1.0  # one bright column segment
    out = mc.mnist_c(x, "glass_blur", 0)
    assert out.sum() == pytest.approx(x.sum(), rel=0.05)  # shuffling moves ink, never makes it
    assert (out[:, :, :11] == 0).all() and (out[:, :, 18:] == 0).all()  # shuffles reach ±1 px
    assert (out[:, :, 13:16].sum(axis=2) > 0).sum() > 8 * 8  # and the blur spread it in rows


def test_fog_adds_a_fractal_haze_scaled_by_the_image_maximum():
    x = _digitish(4)
    out = mc.mnist_c(x, "fog", 0)
    peak = x.max(axis=(1, 2), keepdims=True)
    haze = (out * (peak + 3.0) / peak - x) / 3.0  # the plasma crop, in [0, 1]
    assert haze.min() >= -1e-6 and haze.max() <= 1 + 1e-6 and haze.std() > 0.02
    assert (mc.mnist_c(np.zeros((2, 28, 28)), "fog", 0) == 0).all()  # the published quirk


def test_spatter_only_moves_pixels_toward_mud_grey():
    x = _digitish(16)
    out = mc.mnist_c(x, "spatter", 0)
    mud = 63 / 255
    changed = ~np.isclose(out, x)
    assert changed.any()
    low, high = np.minimum(x, mud), np.maximum(x, mud)
    assert (out[changed] >= low[changed] - 1e-9).all()
    assert (out[changed] <= high[changed] + 1e-9).all()


def test_dotted_line_leaves_every_other_pair_of_columns_alone():
    x = _digitish(16)
    out = mc.mnist_c(x, "dotted_line", 0)
    blank = np.concatenate([np.arange(s, s + 2) for s in range(0, 28, 4)])
    np.testing.assert_array_equal(out[:, :, blank], x[:, :, blank])
    assert (out >= x).all() and (out > x).any(axis=(1, 2)).all()


def test_zigzag_only_adds_ink_within_its_band():
    x = np.zeros((16, 28, 28))
    out = mc.mnist_c(x, "zigzag", 0)
    assert (out >= 0).all() and (out > 0).any(axis=(1, 2)).all()
    for image in out:
        rows = np.nonzero(image.any(axis=1))[0]
        assert rows.max() - rows.min() <= 5 + 2 * 2 + 2 * 3  # tilt, zig amplitude, line width


def test_canny_edges_outline_a_filled_square():
    x = np.zeros((1, 28, 28))
    x[0, 8:20, 8:20] = 1.0
    edges = mc.mnist_c(x, "canny_edges", 0)[0]
    assert set(np.unique(edges)) == {0.0, 1.0}
    assert edges[11:17, 11:17].sum() == 0  # the inside has no edge
    assert edges[6:22, 6:22].sum() == edges.sum() > 30  # the edges hug the border
