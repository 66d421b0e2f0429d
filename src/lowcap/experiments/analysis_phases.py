"""Analyses of the capacity-sweep models as resumable phases: pruning, dead neurons, t-SNE."""

from __future__ import annotations

import time
from collections import defaultdict

import numpy as np
import torch

from lowcap.analyses import saliency
from lowcap.analyses.corruptions import SEVERITIES, corrupt
from lowcap.analyses.evaluate import (
    evaluate_lane,
    hidden_activations,
    model_logits,
    params_cohort,
)
from lowcap.analyses.pruning import Pruner, prune
from lowcap.analyses.tsne import embed
from lowcap.analyses.units import dead_units, disconnected_units, live_units
from lowcap.data.tasks import TaskSplit
from lowcap.experiments.checkpoints import save_tensors
from lowcap.experiments.config import ExperimentConfig, ProtocolConfig, RobustnessConfig
from lowcap.experiments.narrow_phase import narrow_phase
from lowcap.experiments.phases import phase_plans
from lowcap.experiments.runner import RunContext, TrainedModel, run_analysis_unit, trained_models
from lowcap.experiments.sensitivity_phase import sensitivity_phase
from lowcap.progress import progress
from lowcap.training.evaluation import EvalSet, evaluate

Rows = list[tuple[str, dict, str, float]]
SOURCE_PHASE = "capacity"
# Fig D.1's clean image (the robustness pair's first test image), so the report needs no MNIST.
CORRUPTION_EXAMPLE = "corruption-example.safetensors"


def _by_lane(ctx: RunContext, models: list[TrainedModel]
             ) -> list[tuple[TaskSplit, list[TrainedModel], list[dict[str, torch.Tensor]]]]:
    groups: dict[tuple, list[TrainedModel]] = defaultdict(list)
    for model in models:
        groups[model.plan.lane_key()].append(model)
    return [(ctx.split(members[0].plan), members,
             [ctx.load_params(m.model_id) for m in members]) for members in groups.values()]


def _healthy(ctx: RunContext, cfg: ExperimentConfig, protocol: ProtocolConfig
             ) -> list[TrainedModel]:
    plans = phase_plans(cfg, SOURCE_PHASE, protocol)
    return [m for m in trained_models(ctx.store, plans) if not m.diverged]


def _first_seed(ctx: RunContext, cfg: ExperimentConfig, protocol: ProtocolConfig,
                pair: tuple[int, int], hidden: int) -> TrainedModel | None:
    """The (pair, hidden) capacity model with the smallest seed: the one the paper's single-model
    analyses (t-SNE, saliency) look at."""
    candidates = [m for m in _healthy(ctx, cfg, protocol)
                  if m.plan.pair == pair and m.plan.hidden == hidden]
    return min(candidates, key=lambda m: m.plan.seed) if candidates else None


def pruning_methods(cfg: ExperimentConfig, protocol: ProtocolConfig) -> list[str]:
    """The configured methods (layerwise once per rounding), plus the reference code's scaled
    fractions where asked."""
    if cfg.pruning is None:
        return []
    methods = [m for m in cfg.pruning.methods
               if m != "layerwise" or "floor" in cfg.pruning.rounding]
    if "layerwise" in cfg.pruning.methods and "nearest" in cfg.pruning.rounding:
        methods.append("layerwise_nearest")
    return methods + (["layerwise_refscale"] if protocol.pruning_fraction_scale == "both" else [])


def pruning_phase(ctx: RunContext, cfg: ExperimentConfig, protocol: ProtocolConfig) -> bool:
    """Every capacity model pruned at every level by every method, evaluated on val and test."""
    assert cfg.pruning is not None
    models = _healthy(ctx, cfg, protocol)
    methods = pruning_methods(cfg, protocol)
    levels = cfg.pruning.levels

    def compute() -> Rows:
        lanes = _by_lane(ctx, models)
        flat = [p for _, _, plist in lanes for p in plist]
        ids = [m.model_id for _, members, _ in lanes for m in members]
        variants: list[tuple[str, float, list, np.ndarray]] = [
            ("dense", 0.0, flat, np.zeros(len(flat)))]
        pruner = Pruner(flat)
        for level in levels:
            for method in methods:
                pruned, achieved = pruner.prune(level, method, seed=round(level * 1000))
                variants.append((method, level, pruned, achieved.cpu().numpy()))
        # One work item per split (a Ray task on a cluster): all its models' variants.
        items, start = [], 0
        for split, members, _ in lanes:
            count = len(members)
            inputs = {part: ctx.bank.inputs(split, part) for part in ("val", "test")}
            items.append((split, inputs, [p for _, _, ps, _ in variants
                                          for p in ps[start:start + count]], cfg.activation))
            start += count
        rows: Rows = []
        start = 0
        for (_, members, _), results in zip(lanes, ctx.map(evaluate_lane, items), strict=True):
            count = len(members)
            for part, metrics in results.items():
                for v, (method, level, _, achieved) in enumerate(variants):
                    for i, model in enumerate(members):
                        params = {"method": method, "level": level}
                        j = v * count + i
                        rows.append((model.model_id, params, f"{part}_f1", metrics["f1"][j]))
                        rows.append((model.model_id, params, f"{part}_auc", metrics["auc"][j]))
                        if part == "val":
                            rows.append((model.model_id, params, "achieved_sparsity",
                                         achieved[start + i]))
            start += count
        assert len({r[0] for r in rows}) == len(ids)
        return rows

    identity = {"models": [m.model_id for m in models], "levels": levels, "methods": methods}
    return run_analysis_unit(ctx, "pruning", identity, compute)


def dead_neurons_phase(ctx: RunContext, cfg: ExperimentConfig, protocol: ProtocolConfig) -> bool:
    """Dead hidden units (ReLU output 0 on every validation input), before and after pruning."""
    assert cfg.dead_neurons is not None
    models = _healthy(ctx, cfg, protocol)
    level = cfg.dead_neurons.level

    def compute() -> Rows:
        rows: Rows = []
        for split, members, plist in _by_lane(ctx, models):
            x, _ = ctx.bank.inputs(split, "val")
            pruned, _ = prune(plist, level, "layerwise")
            for model, dense, sparse in zip(members, plist, pruned, strict=True):
                for lvl, params in ((0.0, dense), (level, sparse)):
                    dead = dead_units(params, x)
                    cut = disconnected_units(params) & ~dead
                    for metric, units in (("dead", dead), ("disconnected", cut),
                                          ("live", ~dead & ~cut)):
                        rows.append((model.model_id, {"level": lvl}, metric, float(units.sum())))
        return rows

    # "version" 2: disconnected and live units are counted too (older runs recompute).
    identity = {"models": [m.model_id for m in models], "level": level, "version": 2}
    return run_analysis_unit(ctx, "dead_neurons", identity, compute)


def tsne_phase(ctx: RunContext, cfg: ExperimentConfig, protocol: ProtocolConfig) -> bool:
    """Fig 5: 2-D t-SNE of one model's hidden activations before and after pruning, scored."""
    spec = cfg.tsne
    assert spec is not None
    model = _first_seed(ctx, cfg, protocol, spec.pair, spec.hidden)
    if model is None:
        return False

    def compute() -> Rows:
        split = ctx.split(model.plan)
        x, y = ctx.bank.inputs(split, "val")
        take = np.random.default_rng(spec.seed).permutation(len(y))[: spec.max_points]
        x, y = x[torch.from_numpy(take).to(x.device)], y.cpu().numpy()[take]
        dense = ctx.load_params(model.model_id)
        (sparse,), _ = prune([dense], spec.level, "layerwise")
        rows: Rows = []
        arrays = {"labels": torch.from_numpy(y)}
        pruned = hidden_activations(sparse, x)
        for lvl, hidden, units in ((0.0, hidden_activations(dense, x), "all"),
                                   (spec.level, pruned, "all"),
                                   (spec.level, pruned[:, live_units(sparse, x)], "live")):
            hidden = hidden.cpu().numpy()
            result = embed(hidden, y, spec.perplexity, spec.seed)
            suffix = "_live" if units == "live" else ""
            arrays[f"embedding_{lvl}{suffix}"] = torch.from_numpy(result.embedding)
            arrays[f"agreement_{lvl}{suffix}"] = torch.from_numpy(result.agreement)
            for metric, value in {**result.scores, "units": float(hidden.shape[1])}.items():
                rows.append((model.model_id, {"level": lvl, "units": units}, metric, value))
        save_tensors(ctx.out / "store" / f"tsne-{protocol.name}.safetensors", arrays)
        return rows

    # "version" 2: live-unit embedding and per-point agreement (older runs recompute).
    identity = {"model": model.model_id, "version": 2, **spec.model_dump(mode="json")}
    return run_analysis_unit(ctx, "tsne", identity, compute)


def robustness_settings(spec: RobustnessConfig) -> list[tuple[str, float, int]]:
    """(corruption, parameter, severity) of every evaluation the config asks for."""
    return ([("gaussian", float(sigma), 0) for sigma in spec.sigmas]
            + [("occlusion", float(spec.occlusion_size), 0)]
            + [(name, float(SEVERITIES[name][k - 1]), k) for name in spec.mnist_c
               for k in spec.severities])


def robustness_phase(ctx: RunContext, cfg: ExperimentConfig, protocol: ProtocolConfig) -> bool:
    """Every chosen model on the same corrupted test images (the test split is shared by all
    seeds of a pair, so identical inputs really are identical)."""
    spec = cfg.robustness
    assert spec is not None
    models = [m for m in _healthy(ctx, cfg, protocol)
              if m.plan.pair == spec.pair and m.plan.hidden in spec.widths]
    if not models:
        return False
    settings = robustness_settings(spec)

    def compute() -> Rows:
        split = ctx.split(models[0].plan)
        x, y = ctx.bank.inputs(split, "test")
        save_tensors(ctx.out / "store" / CORRUPTION_EXAMPLE, {"image": x[0].reshape(28, 28)})
        cohort = params_cohort([(split, [ctx.load_params(m.model_id) for m in models])],
                               cfg.activation, x.device, x.dtype)
        rows: Rows = []
        for name, parameter, severity in settings:
            corrupted = corrupt(x, name, parameter, spec.seed)
            metrics = evaluate(cohort, EvalSet.single(corrupted, y))
            params = {"corruption": name, "parameter": parameter, "severity": severity}
            for i, model in enumerate(models):
                rows.append((model.model_id, params, "test_f1", float(metrics["f1"][0, i])))
                rows.append((model.model_id, params, "test_auc", float(metrics["auc"][0, i])))
        return rows

    identity = {"models": [m.model_id for m in models], **spec.model_dump(mode="json")}
    return run_analysis_unit(ctx, "robustness", identity, compute)


def saliency_phase(ctx: RunContext, cfg: ExperimentConfig, protocol: ProtocolConfig) -> bool:
    """Fig 8 maps, and dense-vs-pruned agreement over validation images against a
    random-pruning baseline at the same sparsity."""
    spec = cfg.saliency
    assert spec is not None
    model = _first_seed(ctx, cfg, protocol, spec.pair, spec.hidden)
    if model is None:
        return False

    def compute() -> Rows:
        x, y = ctx.bank.inputs(ctx.split(model.plan), "val")
        dense = ctx.load_params(model.model_id)
        (magnitude,), _ = prune([dense], spec.level, "layerwise")
        (random,), _ = prune([dense], spec.level, "random", seed=spec.seed)
        take = torch.from_numpy(np.random.default_rng(spec.seed).permutation(len(y))
                                [: spec.max_images]).to(x.device)
        reference = saliency.finite_difference(dense, x[take], spec.epsilon)
        rows: Rows = []
        per_image = {}
        for name, params in (("magnitude", magnitude), ("random", random)):
            maps = saliency.finite_difference(params, x[take], spec.epsilon)
            key = {"pruning": name, "level": spec.level}
            for metric, values in saliency.agreement(reference, maps, spec.top_k).items():
                rows.append((model.model_id, key, f"{metric}_mean", float(np.nanmean(values))))
                rows.append((model.model_id, key, f"{metric}_std", float(np.nanstd(values))))
                per_image[f"{metric}_{name}"] = torch.from_numpy(values)
            # A pruned network with a constant output has an all-zero map: Spearman is
            # undefined there, and counting it as no agreement (0) is the honest mean.
            undefined = np.isnan(per_image[f"spearman_{name}"].numpy())
            rows.append((model.model_id, key, "undefined_maps", float(undefined.sum())))
            rows.append((model.model_id, key, "images", float(len(undefined))))
            rows.append((model.model_id, key, "spearman_mean_undefined_as_zero",
                         float(np.nan_to_num(per_image[f"spearman_{name}"].numpy()).mean())))
        save_tensors(ctx.out / "store" / f"saliency-{protocol.name}.safetensors",
                     {**_figure_maps(dense, magnitude, x, y, spec.epsilon), **per_image})
        return rows

    # "version" 2: per-image agreement and undefined maps are stored (older runs recompute).
    identity = {"model": model.model_id, "version": 2, **spec.model_dump(mode="json")}
    return run_analysis_unit(ctx, "saliency", identity, compute)


def _figure_maps(dense: dict, pruned: dict, x: torch.Tensor, y: torch.Tensor, epsilon: float
                 ) -> dict[str, torch.Tensor]:
    """Fig 8 panels: a correct first digit, a correct second digit, a first digit taken for the
    second, and the correct first digit under the pruned model (paper, §4.7)."""
    predicted = model_logits(dense, x) > 0
    correct_a = torch.nonzero((y == 0) & ~predicted).flatten()
    correct_b = torch.nonzero((y == 1) & predicted).flatten()
    mistaken = torch.nonzero((y == 0) & predicted).flatten()
    picks = [int(idx[0]) if len(idx) else -1 for idx in (correct_a, correct_b, mistaken)]
    images = torch.stack([x[i] if i >= 0 else torch.full_like(x[0], float("nan"))
                          for i in picks])
    fd = saliency.finite_difference(dense, images.nan_to_num(), epsilon)
    fd_pruned = saliency.finite_difference(pruned, images[:1].nan_to_num(), epsilon)
    return {"images": images, "indices": torch.tensor(picks),
            "finite_difference": torch.cat([fd, fd_pruned]),
            "gradient": saliency.gradient(dense, images.nan_to_num()),
            "integrated_gradients": saliency.integrated_gradients(
                {k: v.cpu() for k, v in dense.items()}, images.nan_to_num().cpu())}


ANALYSES = {"pruning": pruning_phase, "dead_neurons": dead_neurons_phase, "tsne": tsne_phase,
            "robustness": robustness_phase, "saliency": saliency_phase,
            "sensitivity": sensitivity_phase, "narrow": narrow_phase}


def run_analyses(ctx: RunContext, cfg: ExperimentConfig, only: tuple[str, ...] | None = None
                 ) -> dict[str, float]:
    """Run every configured analysis (or those in `only`) under every protocol, resuming."""
    seconds: dict[str, float] = {}
    todo = [(protocol, name, phase) for protocol in cfg.protocols
            for name, phase in ANALYSES.items()
            if getattr(cfg, name) is not None and (only is None or name in only)]
    bar = progress(len(todo), "analyses", ctx.quiet, unit="analyses")
    for protocol, name, phase in todo:
        started = time.perf_counter()
        did_work = phase(ctx, cfg, protocol)
        key = f"{name}_{protocol.name}"
        seconds[key] = time.perf_counter() - started
        if did_work:
            ctx.store.set_timing(key, seconds[key])
        bar.update(1)
    bar.close()
    return seconds
