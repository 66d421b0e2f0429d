"""Deeper cohorts (2 and 3 hidden layers): every model trains exactly as a plain nn.Module with
torch.optim alone, stays isolated from a diverging neighbour, and round-trips its layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TESTS, small_split
from references import (
    captum_integrated_gradients,
    captum_saliency,
    rel_err,
    train_reference,
)

from lowcap.models.cohort import Cohort, Lane, ModelSpec
from lowcap.models.mlp import build_mlp, init_params
from lowcap.models.optimisers import OptimiserSpec
from lowcap.training import train_cohort

MIXED = [(3, 0.05), (8, 0.1), (5, 0.02), (16, 0.03)]


def _lanes(mnist, optimiser=None):
    optimiser = optimiser or OptimiserSpec()
    return [Lane(small_split(mnist, (4, 9), 0, 400), 0,
                 tuple(ModelSpec(h, lr, 0, optimiser=optimiser) for h, lr in MIXED)),
            Lane(small_split(mnist, (3, 8), 1, 300), 1,
                 tuple(ModelSpec(h, lr, 1, optimiser=optimiser) for h, lr in MIXED[:2]))]


def _check_against_modules(cohort, lanes, bank, depth, batch_size, epochs, make_optimiser=None):
    for g, lane in enumerate(lanes):
        for i, spec in enumerate(lane.models):
            init = init_params(spec.hidden, spec.seed, depth=depth)
            reference = train_reference(
                init, lane.split, bank, spec.lr, epochs, batch_size, lane.order_seed,
                make_optimiser=None if make_optimiser is None
                else (lambda m, lr=spec.lr: make_optimiser(m, lr)))
            got = build_mlp(cohort.model_params(g, i))
            for mine, theirs in zip(got.parameters(), reference.parameters(), strict=True):
                assert rel_err(mine.detach(), theirs.detach()) < 1e-5, (depth, g, i)


@pytest.mark.parametrize(("depth", "batch_size"), [(2, 64), (3, 64), (3, None)])
def test_deep_cohort_equals_independent_sgd(mnist, bank, depth, batch_size):
    lanes = _lanes(mnist)
    cohort = Cohort(lanes, depth=depth)
    train_cohort(cohort, bank, 3, batch_size)
    _check_against_modules(cohort, lanes, bank, depth, batch_size, 3)


@pytest.mark.parametrize("kind", ["momentum", "adam"])
def test_deep_cohort_equals_torch_optimisers(mnist, bank, kind):
    spec = OptimiserSpec(kind, weight_decay=1e-3)
    lanes = _lanes(mnist, spec)
    if kind == "adam":  # Adam at a tenth of the SGD rates
        lanes = [Lane(lane.split, lane.order_seed, tuple(
            ModelSpec(m.hidden, m.lr * 0.1, m.seed, optimiser=spec) for m in lane.models))
            for lane in lanes]
    cohort = Cohort(lanes, depth=3)
    train_cohort(cohort, bank, 2, 64)

    def make(model, lr):
        if kind == "adam":
            return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-3)
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)

    _check_against_modules(cohort, lanes, bank, 3, 64, 2, make)


def test_a_diverging_deep_model_leaves_its_lane_unchanged(mnist, bank):
    split = small_split(mnist, (4, 9), 0, 512)
    specs = (ModelSpec(8, 0.03, 0), ModelSpec(16, 0.1, 0))
    with_bad = Cohort([Lane(split, 0, (specs[0], ModelSpec(12, 1e38, 0), specs[1]))], depth=3)
    without = Cohort([Lane(split, 0, specs)], depth=3)
    seen = []
    train_cohort(with_bad, bank, 3, 64, on_epoch=lambda c, r: seen.append(r))
    train_cohort(without, bank, 3, 64)
    assert seen[-1].diverged[0].tolist() == [False, True, False]
    assert np.isfinite(seen[-1].metrics["val_f1"][0, [0, 2]]).all()
    for idx_bad, idx_ok in ((0, 0), (2, 1)):
        a, b = with_bad.model_params(0, idx_bad), without.model_params(0, idx_ok)
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-6, atol=1e-7)


def test_layers_round_trip_and_off_block_weights_stay_zero(mnist, bank):
    lanes = _lanes(mnist)
    cohort = Cohort(lanes, depth=3)
    train_cohort(cohort, bank, 1, 64)
    params = [[cohort.model_params(g, i) for i in range(len(lane.models))]
              for g, lane in enumerate(lanes)]
    assert sorted(params[0][0]) == ["b1", "b2", "b3", "b4", "w1", "w2", "w3", "w4"]
    assert params[0][1]["w2"].shape == (8, 8) and params[0][1]["w4"].shape == (1, 8)
    for w in cohort.deep_w:
        assert torch.all(w[~cohort.block] == 0)  # no weight between two models' units
    again = Cohort(lanes, depth=3, params=params)
    x, _ = bank.inputs(lanes[0].split, "val")
    logits = again.logits(x[None].expand(2, -1, -1))
    for i in range(len(lanes[0].models)):
        module = build_mlp(params[0][i])
        torch.testing.assert_close(logits[0, :, i], module(x).squeeze(1), rtol=1e-5,
                                   atol=1e-5)


def test_a_deep_cohort_resumes_from_its_state(mnist, bank):
    """Snapshot after 2 epochs (hidden-to-hidden layers and Adam's moments included), restore
    into a fresh cohort, train the third: the same as 3 epochs straight."""
    lanes = _lanes(mnist, OptimiserSpec("adam"))
    straight = Cohort(lanes, depth=3)
    train_cohort(straight, bank, 3, 64)
    first = Cohort(lanes, depth=3)
    train_cohort(first, bank, 2, 64)
    resumed = Cohort(lanes, depth=3)
    resumed.load_state({k: v.clone() for k, v in first.state().items()})
    train_cohort(resumed, bank, 3, 64, start_epoch=2)
    for g, i, _ in straight.models():
        for key, value in straight.model_params(g, i).items():
            torch.testing.assert_close(resumed.model_params(g, i)[key], value, rtol=0, atol=0)


def test_depth_zero_and_paper_draws_beyond_one_layer_are_refused():
    with pytest.raises(ValueError, match="depth 0"):
        init_params(4, 0, depth=0)
    from lowcap.models.mlp import InitSpec

    with pytest.raises(ValueError, match="one hidden layer only"):
        init_params(4, 0, InitSpec("paper_code"), depth=2)


def _run_config(tmp_path, body: dict) -> str:
    import yaml

    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({"widths": [2, 6], "epochs": 2, **body}))
    return str(path)


@pytest.mark.slow
def test_a_depth_2_protocol_trains_and_its_logit_analyses_run(tmp_path, run_cli):
    """Every study runs on deeper models: capacity and robustness read logits, pruning and
    tickets prune every layer, dead neurons, unit information and t-SNE count every layer's
    units, the maps and the Jacobian go back through every layer."""
    out = tmp_path / "run"
    cfg = _run_config(tmp_path, {
        "protocols": {"corrected": {"seeds": [0], "depth": 2}},
        "capacity": {"pairs": [[4, 9]]},
        "robustness": {"pair": [4, 9], "widths": [6], "sigmas": [0.0, 0.3], "mnist_c": [],
                       "mnist_c_parity": []},
        "sensitivity": {"pairs": [[4, 9]], "widths": [6], "variants": ["random_labels"],
                        "points": 50, "ellipses": 1, "trajectory_points": 64, "bootstrap": 50},
        "pruning": {"levels": [0.5, 0.9]},
        "dead_neurons": {"models": [[4, 9, 6]]}, "unit_information": {},
        "tsne": {"pair": [4, 9], "hidden": 6, "max_points": 60, "embeddings": 1},
        "saliency": {"pair": [4, 9], "hidden": 6, "max_images": 20},
        "faithfulness": {"pair": [4, 9], "widths": [6], "max_images": 10, "points": 5},
        "saliency_shift": {"pair": [4, 9], "widths": [6], "max_images": 10, "sigmas": [0.3],
                           "methods": ["gradient"]},
        "tickets": {"pairs": [[4, 9]], "widths": [6], "seeds": 1, "rounds": 2,
                    "train_size": 256}})
    code, _, err = run_cli("reproduce", "--config", cfg, "--out", str(out), "--quiet",
                           "--device", "cpu")
    assert code == 0, err
    from lowcap.api import open_run

    with open_run(out) as run:
        models = run.models()
        assert set(models.depth) == {2}
        net = run.model(models.model_id.iloc[0])
        assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
        f1 = run.results("robustness")
        assert len(f1) and f1.value.between(0, 1).all()
        pruned = run.results("pruning")
        sparsity = pruned[pruned.metric == "achieved_sparsity"]
        assert set(sparsity.level) == {0.0, 0.5, 0.9} and (sparsity.value <= 1).all()
        dead = run.results("dead_neurons")
        counts = dead.groupby(["model_id", "level"]).value.sum().reset_index()
        width = counts.merge(models, on="model_id").hidden
        assert len(counts) and (counts.value == 2 * width).all()  # both layers' units
        assert len(run.results("unit_information"))
        tsne = run.results("tsne")
        assert set(tsne[(tsne.metric == "units") & (tsne.level == 0.0)].value) == {12.0}
        for analysis in ("saliency", "faithfulness", "saliency_shift", "tickets"):
            assert len(run.results(analysis)), analysis
        norms = run.results("sensitivity")
        assert norms.model_id.nunique() and set(norms.model_id) <= set(run.models(depth=2).model_id)
        assert (norms[norms.metric == "jac_test"].value > 0).all()


@pytest.mark.parametrize(("body", "named"), [
    ({"protocols": {"reference": {"seeds": [0], "depth": 2}}, "capacity": {}},
     "the public code's draws exist for one hidden layer only"),
    ({"protocols": {"corrected": {"seeds": [0], "depth": 0}}, "capacity": {}}, "depth"),
    ({"protocols": {"corrected": {"seeds": [0]}}, "ablation": {
        "factors": {"data": {"mnist": {"dataset": "mnist"}, "digits": {"dataset": "digits"}}},
        "analyses": {"capacity": {}, "robustness": {"mnist_c_parity": []}}}},
     "ablation.factors.data.digits: robustness: it reads 28×28 images"),
])
def test_bad_depth_and_dataset_input_exits_2(tmp_path, run_cli, body, named):
    out = tmp_path / "run"
    code, _, err = run_cli("reproduce", "--config", _run_config(tmp_path, body), "--out",
                           str(out), "--quiet", "--device", "cpu")
    assert code == 2 and named in err, err
    assert not out.exists()


def test_dead_and_disconnected_units_of_every_layer():
    from lowcap.studies.dead_neurons.units import dead_units, disconnected_units

    x = torch.rand(30, 5)  # non-negative inputs
    params = {"w1": torch.ones(3, 5), "b1": torch.zeros(3),
              "w2": torch.tensor([[1.0, 0.0, 1.0], [-1.0, -1.0, -1.0], [0.0, 0.0, 0.0]]),
              "b2": torch.zeros(3), "w3": torch.tensor([[1.0, 1.0, 0.0]]), "b3": torch.zeros(1)}
    params["w1"][2] = 0.0  # layer-1 unit 2: no incoming weight
    # Layer 1: unit 1 has no outgoing weight (column 1 of w2 is 0 for rows 0 and 2, -1 for
    # row 1: not cut); unit 2 has no incoming weight. Layer 2: unit 1 is dead (always ≤ 0),
    # unit 2 has no incoming weight and no outgoing one.
    assert disconnected_units(params).tolist() == [False, False, True, False, False, True]
    assert dead_units(params, x).tolist() == [False, False, True, False, True, True]


@pytest.mark.parametrize("depth", [2, 3])
def test_saliency_maps_of_deep_models_equal_captum_and_brute_force(depth):
    from lowcap.studies.saliency import maps

    params = {k: v.double() for k, v in init_params(7, 3, input_dim=784, depth=depth).items()}
    x = torch.rand(4, 784, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(maps.gradient(params, x), captum_saliency(params, x))
    torch.testing.assert_close(maps.integrated_gradients(params, x),
                               captum_integrated_gradients(params, x))
    module = build_mlp(params)
    eps = 0.01
    brute = torch.stack([
        (torch.sigmoid(module(x + eps * torch.eye(784, dtype=x.dtype)[i])).squeeze(1)
         - torch.sigmoid(module(x)).squeeze(1)).abs() for i in range(0, 784, 97)], dim=1)
    torch.testing.assert_close(maps.finite_difference(params, x, eps)[:, ::97], brute.detach())


def test_masks_of_every_layer_hold_while_training(mnist, bank):
    """A deep model's mask covers each matrix (hidden-to-hidden included): masked weights stay
    exactly 0; a dense neighbour trains as if no model were masked."""
    lanes = _lanes(mnist)
    gen = torch.Generator().manual_seed(0)
    shapes = {k: v.shape for k, v in init_params(3, 0, depth=3).items() if k.startswith("w")}
    mask = {k: (torch.rand(shape, generator=gen) > 0.5).double() for k, shape in shapes.items()}
    masked = Cohort(lanes, depth=3)
    masked.set_masks([[mask] + [None] * 3, [None, None]])
    dense = Cohort(lanes, depth=3)
    train_cohort(masked, bank, 2, 64)
    train_cohort(dense, bank, 2, 64)
    params = masked.model_params(0, 0)
    for name, m in mask.items():
        assert torch.all(params[name][m == 0] == 0), name
        assert torch.any(params[name][m == 1] != 0), name
    for key, value in dense.model_params(0, 1).items():
        torch.testing.assert_close(masked.model_params(0, 1)[key], value, rtol=0, atol=0)


def test_a_snapshot_written_before_one_layer_numbering_resumes_with_the_new_names():
    """tests/golden/snapshot_depth2_4875edb.safetensors: a depth-2 cohort (Adam, one masked
    model, three updates) saved by lowcap 4875edb, which named the readout w2/b2 and the
    hidden-to-hidden layer hw0/hb0. Loaded today, every model's layers are its own again
    (expected_<model>_<layer> in the file), and masks and Adam's moments follow their layer."""

    from lowcap.data.tasks import TaskSplit
    from lowcap.run.checkpoints import load_tensors

    old = load_tensors(TESTS / "golden" / "snapshot_depth2_4875edb.safetensors")
    idx = np.arange(4)
    split = TaskSplit((4, 9), 0, idx, idx, idx, idx % 2, idx % 2, idx % 2)
    adam = OptimiserSpec(kind="adam")
    lane = Lane(split, 0, (ModelSpec(2, 0.01, 0, optimiser=adam),
                           ModelSpec(3, 0.02, 1, optimiser=adam)))
    cohort = Cohort([lane], input_dim=6, depth=2, dtype=torch.float64)
    dense = {k: torch.ones_like(v) for k, v in cohort.model_params(0, 1).items()
             if k.startswith("w")}
    cohort.set_masks([[None, dense]])
    cohort.load_state({k: v for k, v in old.items() if not k.startswith("expected_")})
    assert cohort.readout_names == ("w3", "b3") and "hw0" not in cohort.state()
    for i in range(2):
        for name, value in cohort.model_params(0, i).items():
            torch.testing.assert_close(value, old[f"expected_{i}_{name}"], rtol=0, atol=0)
    torch.testing.assert_close(cohort.masks["w3"], old["mask_w2"], rtol=0, atol=0)
    torch.testing.assert_close(cohort.masks["w2"], old["mask_hw0"], rtol=0, atol=0)
    torch.testing.assert_close(cohort.optimiser.buffers["v_w2"], old["opt_v_hw0"])
    torch.testing.assert_close(cohort.optimiser.buffers["m_b3"], old["opt_m_b2"])
    assert int(cohort.masks["w3"].sum()) == 4  # one of model 1's three readout weights masked
