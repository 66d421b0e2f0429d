"""Data augmentation: known shifts and turns, draws fixed by (seed, epoch), and a cohort
whose augmented lane trains exactly as a plain nn.Module on the same augmented batches."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import small_split

from lowcap.errors import UserInputError
from lowcap.models import Cohort, Lane, ModelSpec, build_mlp, init_params
from lowcap.run.plan import grid
from lowcap.studies.registry import parse_config
from lowcap.training import epoch_order, train_cohort
from lowcap.training.augment import ROTATE, SHIFT, augment, draws, thetas


def _spot(row, col):
    x = torch.zeros(1, 784)
    x[0, row * 28 + col] = 1.0
    return x


def test_zero_draws_leave_the_image_and_whole_pixel_shifts_move_it():
    # (bilinear resampling at the pixel centres: exact up to float rounding)
    x = torch.rand(5, 784, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(augment(x, thetas(torch.zeros(5, 3))), x, atol=1e-5, rtol=0)
    moved = augment(x, thetas(torch.tensor([[2.0, -1.0, 0.0]]).expand(5, 3)))
    expected = torch.zeros(5, 28, 28)
    expected[:, :27, 2:] = x.reshape(5, 28, 28)[:, 1:, :26]  # 2 right, 1 up, zeros come in
    torch.testing.assert_close(moved, expected.reshape(5, 784), atol=1e-5, rtol=0)


def test_a_quarter_turn_moves_a_pixel_about_the_centre():
    out = augment(_spot(10, 12), thetas(torch.tensor([[0.0, 0.0, 90.0]])))[0]
    assert divmod(int(out.argmax()), 28) == (12, 17)  # (−1.5, −3.5) from (13.5, 13.5) → (3.5, −1.5)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_draws_are_fixed_by_seed_and_epoch_and_stay_in_range():
    a, b = draws(3, 7, (4, 64)), draws(3, 7, (4, 64))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, draws(3, 8, (4, 64)))
    assert not np.array_equal(a, draws(4, 7, (4, 64)))
    assert np.abs(a[..., :2]).max() <= SHIFT and np.abs(a[..., 2]).max() <= ROTATE
    assert np.abs(a[..., :2]).max() > 0.9 * SHIFT  # the range is used


def _reference(params, split, bank, lr, epochs, batch_size, seed, augmented):
    """A plain nn.Module with torch.optim.SGD on the same batches, augmented as the cohort
    augments them."""
    model = build_mlp({k: v.float() for k, v in params.items()})
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = bank.inputs(split, "train")
    for epoch in range(epochs):
        order = epoch_order(len(y), seed, epoch, batch_size)
        width = batch_size or len(y)
        theta = thetas(torch.from_numpy(draws(seed, epoch, (len(order), width))).float())
        for step, idx in enumerate(order):
            inputs = augment(x[idx], theta[step, :len(idx)]) if augmented else x[idx]
            optimiser.zero_grad()
            F.binary_cross_entropy_with_logits(model(inputs).squeeze(1), y[idx]).backward()
            optimiser.step()
    return model


@pytest.mark.parametrize("batch_size", [64, None])
def test_an_augmented_lane_trains_as_a_module_on_the_augmented_batches(mnist, bank, batch_size):
    specs = (ModelSpec(4, 0.05, 0), ModelSpec(12, 0.1, 0))
    lanes = [Lane(small_split(mnist, (4, 9), 0, 300), 0, specs, augment=True),
             Lane(small_split(mnist, (3, 8), 1, 300), 1, specs)]
    cohort = Cohort(lanes)
    train_cohort(cohort, bank, 3, batch_size)
    for g, lane in enumerate(lanes):
        for i, spec in enumerate(lane.models):
            reference = _reference(init_params(spec.hidden, spec.seed), lane.split, bank,
                                   spec.lr, 3, batch_size, lane.order_seed, lane.augment)
            ours = cohort.model_params(g, i)
            for key, ref in zip(("w1", "b1"), (reference[0].weight, reference[0].bias),
                                strict=True):
                error = ((ours[key] - ref).norm() / ref.norm()).item()
                assert error < 1e-5, (g, i, key, error)
    # and augmentation changed something: the augmented lane differs from plain training
    plain = _reference(init_params(4, 0), lanes[0].split, bank, 0.05, 3, batch_size, 0, False)
    assert not torch.allclose(cohort.model_params(0, 0)["w1"], plain[0].weight, atol=1e-4)


def test_augment_is_a_protocol_field_that_names_new_models():
    plans = {}
    for on in (False, True):
        cfg = parse_config({"protocols": {"corrected": {"augment": on}}}, "cfg")
        plans[on] = grid(cfg, cfg.protocol("corrected"), [(4, 9)], [4], [0.03])[0]
    assert not plans[False].hp.augment and plans[True].hp.augment
    assert plans[False].model_id != plans[True].model_id
    assert plans[False].lane_key() != plans[True].lane_key()
    with pytest.raises(UserInputError, match="augment"):
        parse_config({"protocols": {"corrected": {"augment": "sometimes"}}}, "cfg")
