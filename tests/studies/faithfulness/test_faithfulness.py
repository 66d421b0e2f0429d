"""Deletion and insertion curves: endpoints, a plain per-image loop, and a faithful map
beating a random ranking on a model whose evidence is known."""

import numpy as np
import pytest
import torch

from lowcap.models.forward import forward
from lowcap.studies.faithfulness.curves import area, deletion_insertion, pixel_counts
from lowcap.studies.saliency.maps import gradient


def _model_and_images(n=64):
    """One unit summing pixels 0..49: bright there means class 1."""
    w1 = torch.zeros(2, 784, dtype=torch.float64)
    w1[0, :50] = 1.0
    params = {"w1": w1, "b1": torch.zeros(2, dtype=torch.float64),
              "w2": torch.tensor([[0.2, 0.0]], dtype=torch.float64),
              "b2": torch.tensor([-5.0], dtype=torch.float64)}
    gen = torch.Generator().manual_seed(0)
    x = 0.3 * torch.rand(n, 784, generator=gen, dtype=torch.float64)
    y = (torch.arange(n) % 2).double()
    x[y == 1, :50] += 0.7
    return params, x, y


def test_the_curves_start_and_end_where_they_must():
    params, x, y = _model_and_images()
    counts = pixel_counts(9)
    assert counts[0] == 0 and counts[-1] == 784 and len(counts) == 9
    curves = deletion_insertion(params, x, y, gradient(params, x), counts)
    p = torch.sigmoid(forward(params, x))
    p_true = torch.where(y.bool(), p, 1 - p).mean()
    black = torch.sigmoid(forward(params, torch.zeros(1, 784, dtype=torch.float64)))[0]
    p_black = torch.where(y.bool(), black, 1 - black).mean()
    for start, end, name in ((p_true, p_black, "deletion"), (p_black, p_true, "insertion")):
        assert curves[name][0].item() == pytest.approx(start.item())
        assert curves[name][-1].item() == pytest.approx(end.item())


def test_a_curve_point_equals_removing_the_pixels_image_by_image():
    params, x, y = _model_and_images(8)
    scores = torch.rand(x.shape, generator=torch.Generator().manual_seed(3), dtype=x.dtype)
    k = 100
    curves = deletion_insertion(params, x, y, scores, [k])
    expected = []
    for image, label, score in zip(x, y, scores, strict=True):
        removed = image.clone()
        removed[torch.argsort(-score)[:k]] = 0
        p = torch.sigmoid(forward(params, removed.unsqueeze(0)))[0]
        expected.append(p if label == 1 else 1 - p)
    assert curves["deletion"][0].item() == pytest.approx(float(np.mean(expected)))


def test_a_faithful_map_beats_a_random_ranking_on_both_curves():
    params, x, y = _model_and_images()
    counts = pixel_counts(33)
    true = deletion_insertion(params, x, y, gradient(params, x), counts)
    random = deletion_insertion(params, x, y, torch.rand(x.shape, dtype=x.dtype,
                                generator=torch.Generator().manual_seed(1)), counts)
    assert area(true["deletion"]) < area(random["deletion"]) - 0.05
    assert area(true["insertion"]) > area(random["insertion"]) + 0.05


def test_the_claims_decide_on_the_per_model_gains():
    from lowcap.studies.faithfulness.claims import CLAIMS

    faithful, randomisation = CLAIMS

    def section(gain, spearman):
        curves = {"deletion": [gain + 0.01 * i for i in range(6)],
                  "insertion": [gain - 0.01 * i for i in range(6)]}
        return {"faithfulness": {
            "models": 6, "gain_over_random": {"finite_difference": {
                "dense": curves, "pruned": curves}},
            "randomisation_spearman": {"finite_difference": {
                "models": [spearman + 0.01 * i for i in range(6)]}}}}

    assert faithful.check(section(0.2, 0.0))[0].verdict == "holds"
    assert faithful.check(section(-0.2, 0.0))[0].verdict == "does not hold"
    assert faithful.check({})[0].verdict == "inconclusive"
    assert randomisation.check(section(0.2, 0.1))[0].verdict == "holds"
    assert randomisation.check(section(0.2, 0.9))[0].verdict == "does not hold"


def test_the_smoke_run_reports_faithfulness(smoke_run):
    import json

    summary = json.loads((smoke_run / "summary.json").read_text())
    for protocol in ("corrected", "reference"):
        section = summary["protocols"][protocol]["faithfulness"]
        assert section["by_width"] and section["models"] == 4  # widths 8, 24 x 2 seeds
        for states in section["by_width"].values():
            for methods in states.values():
                for entry in methods.values():
                    assert 0 <= entry["deletion_auc"] <= 1 and 0 <= entry["insertion_auc"] <= 1
                    assert len(entry["deletion"]) == len(section["pixels"])
        assert len(section["gain_over_random"]["gradient"]["pruned"]["deletion"]) == 4
        ids = {c["id"] for c in summary["protocols"][protocol]["claims"]}
        assert {"saliency_maps_faithful", "saliency_passes_randomisation"} <= ids


@pytest.mark.slow
def test_the_command_reruns_it_with_other_settings(run_copy, run_cli):
    import json

    def areas():
        section = json.loads((run_copy / "summary.json").read_text())["protocols"][
            "corrected"]["faithfulness"]
        return section["models"], section["by_width"]["24"]["dense"]["gradient"]["deletion_auc"]

    before = areas()
    code, _, err = run_cli("faithfulness", str(run_copy), "--max-images", "10", "--quiet")
    assert code == 0, err
    after = areas()
    assert after[0] == before[0] == 4 and after[1] != before[1]  # 10 images, not 40
