"""The protocol ablation: main effects and their sentences follow the numbers; a smoke-sized
design where one factor decides a claim says so; bad designs exit 2 naming the culprit and
write nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import ROOT

from lowcap.report.claims import Claim
from lowcap.report.statistics import FAILS, HOLDS
from lowcap.report.tables import results_by_model
from lowcap.run.analysis_cache import run_analysis_unit
from lowcap.run.config import ConfigSection
from lowcap.studies import registry
from lowcap.studies.ablation.design import cells
from lowcap.studies.ablation.effects import CellResult, effects, explain, main_effect
from lowcap.studies.base import Section, Study
from lowcap.studies.capacity.report import plans as capacity_plans
from lowcap.studies.selection import ModelFilter, Selection

FACTORS = {"budget": ["short", "long"], "init": ["normal", "kaiming"]}


def _design(holds_when, quantity) -> list[CellResult]:
    """A 2 × 2 design: `holds_when(levels)` gives the verdict, `quantity(levels, seed)` the
    claim's number per seed."""
    out = []
    for budget in FACTORS["budget"]:
        for init in FACTORS["init"]:
            levels = {"budget": budget, "init": init}
            out.append(CellResult(levels, {"c": HOLDS if holds_when(levels) else FAILS},
                                  {"c": {str(s): quantity(levels, s) for s in range(3)}}))
    return out


def test_main_effect_counts_flips_and_averages_the_change_over_seeds():
    design = _design(lambda lv: lv["budget"] == "short",
                     lambda lv, s: (10.0 if lv["budget"] == "short" else 2.0) + s)
    budget = main_effect("c", "budget", FACTORS["budget"], design)
    assert (budget["flips"], budget["comparisons"]) == (2, 2)
    assert budget["mean_change"] == pytest.approx(-8.0)  # long − short, every seed
    assert budget["ci"] == pytest.approx([-8.0, -8.0])
    assert budget["holds_at"] == {"short": 2, "long": 0}
    init = main_effect("c", "init", FACTORS["init"], design)
    assert (init["flips"], init["mean_change"]) == (0, 0.0)


def test_the_sentence_comes_from_the_numbers():
    design = _design(lambda lv: lv["budget"] == "short",
                     lambda lv, s: float(lv["budget"] == "short"))
    found = effects("c", FACTORS, design)
    text = explain("c", "the quantity", found, design)
    assert "holds in 2 of 4 cells" in text
    assert "it holds only with budget = short" in text and "init never changes it" in text
    assert "budget (short → long) -1" in text and "(the interval excludes 0)" in text
    # Change the numbers: now the initialisation decides, and the sentence says so.
    design = _design(lambda lv: lv["init"] == "kaiming",
                     lambda lv, s: 3.0 * (lv["init"] == "kaiming"))
    text = explain("c", "the quantity", effects("c", FACTORS, design), design)
    assert "it holds only with init = kaiming" in text and "budget never changes it" in text
    assert "init (normal → kaiming) +3" in text
    # And where the verdict never changes, no factor is said to matter.
    design = _design(lambda lv: True, lambda lv, s: 1.0)
    text = explain("c", "the quantity", effects("c", FACTORS, design), design)
    assert "every cell: holds" in text and "No factor changes the quantity" in text


# A synthetic claim a factor decides for certain: "first-layer weights are small" (std < 0.05)
# holds under Kaiming-uniform init (std 1/√(3·784) ≈ 0.021) and not under N(0, 0.1²), whatever
# the optimiser, after two epochs at a tiny learning rate.
class WeightScaleConfig(ConfigSection):
    select: ModelFilter = ModelFilter()


def _compute(ctx, cfg, protocol) -> bool:
    models = Selection(cfg.weight_scale.select).healthy(ctx, cfg, protocol)
    return run_analysis_unit(ctx, "weight_scale", [m.model_id for m in models], lambda: [
        (m.model_id, {}, "w1_std", float(ctx.load_params(m.model_id)["w1"].std()))
        for m in models])


def _summary(inp) -> dict:
    plans = Selection(inp.cfg.weight_scale.select).plans(inp.cfg, inp.protocol)
    rows = results_by_model(inp.store, "weight_scale", plans)
    by_seed: dict[str, list[float]] = {}
    for plan in plans:
        for row in rows.get(plan.model_id, []):
            by_seed.setdefault(str(plan.seed), []).append(row["value"])
    return {"weight_scale": {s: float(np.mean(v)) for s, v in by_seed.items()}}


def _check(r: dict) -> tuple[str, str]:
    values = list(r.get("weight_scale", {}).values())
    return (HOLDS if values and max(values) < 0.05 else FAILS), f"w1 std {values}"


WEIGHT_SCALE = Study(
    "weight_scale", WeightScaleConfig, compute=_compute, summary=_summary,
    report=lambda inp: Section(_summary(inp)),
    claims=(Claim("w1_small", "First-layer weights are small.", "every seed's w1 std < 0.05",
                  _check, lambda r: r.get("weight_scale", {}), "one seed's mean w1 std"),),
    selection=lambda cfg: Selection(cfg.weight_scale.select))

SMOKE_ABLATION = {
    "profile": "ablation-smoke", "lr": 1e-6, "epochs": 2, "snapshot_every": 1,
    "protocols": {"corrected": {"seeds": [0, 1]}},
    "ablation": {
        "protocol": {"train_size": 512}, "pairs": [[4, 9]], "widths": [2, 4],
        "factors": {"optimiser": {"full_batch": {"batch_size": "full"},
                                  "sgd_128": {"batch_size": 128}},
                    "init": {"normal": {"init": "normal", "init_std": 0.1},
                             "kaiming": {"init": "kaiming_uniform"}}},
        "analyses": {"capacity": {}, "linear_baseline": {}, "weight_scale": {}}}}


def test_a_smoke_ablation_finds_the_factor_that_decides_a_claim(tmp_path, run_cli):
    config = tmp_path / "ablation.yaml"
    config.write_text(yaml.safe_dump(SMOKE_ABLATION, sort_keys=False))
    with registry.registered(WEIGHT_SCALE):
        code, _, err = run_cli("reproduce", "--config", str(config), "--out",
                               str(tmp_path / "run"), "--quiet", "--device", "cpu")
        assert code == 0, err
        cfg = registry.load_config(tmp_path / "run" / "config.yaml")
        design = cells(cfg)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())["ablation"]
    verdicts = {c["name"]: c["verdicts"]["w1_small"] for c in summary["cells"]}
    assert verdicts == {"full_batch·normal": FAILS, "full_batch·kaiming": HOLDS,
                        "sgd_128·normal": FAILS, "sgd_128·kaiming": HOLDS}
    claim = summary["claims"]["w1_small"]
    assert claim["effects"]["init"]["flips"] == 2 and claim["effects"]["optimiser"]["flips"] == 0
    assert claim["effects"]["init"]["ci"][1] < 0  # kaiming − normal: smaller weights
    assert "it holds only with init = kaiming" in claim["explanation"]
    assert "optimiser never changes it" in claim["explanation"]
    # Every cell is an ordinary protocol: the cell that is the corrected protocol (with the
    # design's train_size) is the anchor, and shares its models.
    named = {cell.name: cell.protocol.name for cell in design}
    assert named["sgd_128·kaiming"] == "corrected" and set(named.values()) == {
        "corrected", "ablation"}
    # The linear baseline runs per cell on the cell's own split (512 images in 784 dimensions).
    assert all(isinstance(c["separable"]["4-9"], bool) for c in summary["cells"])
    anchor = next(a for a in summary["anchors"] if a["name"] == "protocol corrected")
    assert anchor["verdicts"]["w1_small"] == HOLDS
    plans = {c.name: capacity_plans(c.cfg, c.protocol) for c in design}
    assert all(p.hp.train_size == 512 for ps in plans.values() for p in ps)
    assert {p.hp.batch_size for p in plans["full_batch·normal"]} == {None}
    figures = {p.name for p in (tmp_path / "run" / "figures").iterdir()}
    assert {"figE1_ablation_verdicts.png", "figE2_ablation_effects.png",
            "figE3_ablation_min_capacity.png"} <= figures
    assert "Protocol ablation: why the findings appear" in (
        tmp_path / "run" / "report.html").read_text()


@pytest.mark.parametrize(("change", "named"), [
    ({"vary": ["optimser"]}, "unknown factor 'optimser'"),
    ({"factors": {}}, "one cell"),
    ({"factors": {"optimiser": {"full_batch": {"batch_size": "full"}}}}, "1 level(s)"),
    ({"factors": {"lr": {"low": {"learning_rate": 0.01}, "high": {"lr": 0.1}}}},
     "ablation.factors.lr.low: learning_rate: unknown field"),
    ({"factors": {"init": {"normal": {"init": "gaussian"}, "kaiming": {"init": "normal"}}}},
     "ablation.factors.init.normal: init"),
    ({"analyses": {"tsne": {}}}, "'tsne' is not a study the cells can run"),
])
def test_a_bad_design_exits_2_naming_it_and_writes_nothing(tmp_path, run_cli, change, named):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({**SMOKE_ABLATION,
                                      "ablation": {**SMOKE_ABLATION["ablation"], **change}}))
    code, _, err = run_cli("reproduce", "--config", str(config), "--out", str(tmp_path / "run"))
    assert code == 2 and named in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_ablate_on_a_run_refuses_an_unknown_factor_then_runs_and_reports(run_copy, run_cli):
    before = {p: p.stat().st_mtime_ns for p in run_copy.rglob("*")}
    code, _, err = run_cli("ablate", str(run_copy), "--factors", "optimiser,colour")
    assert code == 2 and "unknown factor 'colour'" in err
    assert {p: p.stat().st_mtime_ns for p in run_copy.rglob("*")} == before
    code, _, err = run_cli("ablate", str(run_copy), "--factors", "optimiser,budget", "--pairs",
                           "4-9", "--widths", "2", "--quiet", "--no-report")
    assert code == 0, err
    assert run_cli("report", str(run_copy))[0] == 0
    summary = json.loads((run_copy / "summary.json").read_text())["ablation"]
    assert [c["name"] for c in summary["cells"]] == [
        "full_batch·updates_100", "full_batch·sgd_epochs_100", "sgd_128·updates_100",
        "sgd_128·sgd_epochs_100"]
    assert summary["fixed"] == {"init": "normal", "balance": "balanced"}
    assert summary["protocol"] == {"train_size": 1024}
    # The section is in the run's config: the report is rebuilt from the store alone.
    (run_copy / "summary.json").unlink()
    assert run_cli("report", str(run_copy))[0] == 0
    assert json.loads((run_copy / "summary.json").read_text())["ablation"] == summary


def test_the_default_design_shares_the_corrected_cell_with_its_anchor():
    """16 cells and two anchors on 3 pairs × 7 widths × 3 seeds; the SGD / Kaiming / natural /
    long-budget cell trains exactly as the corrected protocol (its update budget is its own
    batch size) and so is that protocol, with the same models."""

    from lowcap.studies.ablation.compute import design, labelled_plans

    cfg = registry.load_config(ROOT / "configs" / "ablation.yaml")
    every = design(cfg)
    assert len(every) == 18
    named = [c.name for c in every if c.protocol.name == "corrected"]
    assert named == ["sgd_128·kaiming·natural·sgd_epochs_100", "protocol corrected"]
    plans = [p for _, p in labelled_plans(cfg)]
    assert len(plans) == 18 * 63 and len({p.model_id for p in plans}) == 17 * 63
    assert {p.hp.train_size for p in plans} == {1024}
