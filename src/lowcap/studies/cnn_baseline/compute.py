"""The CNN baseline as a resumable analysis: one unit per (protocol, pair, width), the seeds'
CNNs trained together on the protocol's splits of the pair."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict

import numpy as np
import torch
from sklearn.metrics import f1_score

from lowcap.data import ImageBank, TaskSplit, pair_key
from lowcap.progress import progress
from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.config import ProtocolConfig, RunConfig
from lowcap.run.context import RunContext
from lowcap.run.plan import grid
from lowcap.studies.cnn_baseline.config import CnnBaselineConfig
from lowcap.studies.cnn_baseline.network import initial_stack, logits, sgd_step
from lowcap.training.batches import epoch_order

ANALYSIS = "cnn_baseline"


def setting(spec: CnnBaselineConfig, protocol: str) -> str:
    """A short hash naming what a row was computed under (the report reads only the current
    setting's rows). The widths are left out: a width's CNNs do not depend on the others, so
    more widths add to a finished study."""
    fields = spec.model_dump(mode="json", exclude={"channels"})
    blob = json.dumps([protocol, fields], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def model_id(protocol: str, pair: tuple[int, int], seed: int) -> str:
    """The name a CNN's rows are stored under (its width is a row parameter)."""
    return f"cnn/{protocol}/{pair_key(pair)}/{seed}"


def splits(ctx: RunContext, cfg: RunConfig, protocol: ProtocolConfig, pair: tuple[int, int],
           train_size: int | None) -> dict[int, TaskSplit]:
    """seed → the protocol's split of `pair` (as an MLP of the protocol trains on it)."""
    narrowed = protocol.model_copy(update={"train_size": train_size})
    return {p.seed: ctx.split(p) for p in grid(cfg, narrowed, [pair], [1], [cfg.lr])}


def _stacked(bank: ImageBank, members: list[TaskSplit], part: str
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Every member's images and labels of one part, side by side: [N, models, 784], [N,
    models] (the members have equally many)."""
    parts = [bank.inputs(split, part) for split in members]
    return torch.stack([x for x, _ in parts], 1), torch.stack([y for _, y in parts], 1)


def _f1(scores: torch.Tensor, y: torch.Tensor) -> list[float]:
    predicted, truth = (scores > 0).cpu().numpy(), y.cpu().numpy()
    return [float(f1_score(truth[:, m], predicted[:, m], zero_division=0))
            for m in range(truth.shape[1])]


def train_group(bank: ImageBank, members: dict[int, TaskSplit], channels: int,
                spec: CnnBaselineConfig) -> dict[int, dict[str, float]]:
    """Seed → best and final validation F1 and final test F1 of the CNNs of one width, one
    per seed, trained together (the seeds' splits must have equally many images)."""
    seeds = list(members)
    x, y = _stacked(bank, list(members.values()), "train")
    val_x, val_y = _stacked(bank, list(members.values()), "val")
    params = initial_stack(channels, seeds, x.device)
    best = np.full(len(seeds), -np.inf)
    for epoch in range(spec.epochs):
        orders = [epoch_order(len(x), seed, epoch, spec.batch_size) for seed in seeds]
        for batches in zip(*orders, strict=True):
            index = torch.as_tensor(np.stack(batches, 1), device=x.device)  # [B, models]
            models = torch.arange(len(seeds), device=x.device)
            params = sgd_step(params, x[index, models], y[index, models], spec.lr)
        val = _f1(logits(params, val_x), val_y)
        best = np.maximum(best, val)
    test_x, test_y = _stacked(bank, list(members.values()), "test")
    test = _f1(logits(params, test_x), test_y)
    return {seed: {"best_val_f1": float(best[m]), "final_val_f1": val[m], "test_f1": test[m]}
            for m, seed in enumerate(seeds)}


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Every (pair, width) of the section under `protocol`, resuming per unit."""
    spec: CnnBaselineConfig = cfg.cnn_baseline
    tag = setting(spec, protocol.name)
    bar = progress(len(spec.pairs) * len(spec.channels), f"CNN baseline {protocol.name}",
                   ctx.quiet, unit="widths")
    did_work = False
    bank = ctx.datasets.bank(protocol.dataset)
    for pair in spec.pairs:
        by_size: dict[tuple, dict[int, TaskSplit]] = defaultdict(dict)
        for seed, split in splits(ctx, cfg, protocol, pair, spec.train_size).items():
            by_size[(len(split.train_idx), len(split.val_idx))][seed] = split
        for channels in spec.channels:
            identity = {"setting": tag, "pair": list(pair), "channels": channels,
                        "seeds": sorted(s for group in by_size.values() for s in group)}

            def measure(pair=pair, channels=channels, by_size=by_size) -> Rows:
                rows: Rows = []
                for members in by_size.values():
                    for seed, values in train_group(bank, members, channels, spec).items():
                        rows += [(model_id(protocol.name, pair, seed),
                                  {"setting": tag, "channels": channels}, metric, value)
                                 for metric, value in values.items()]
                return rows

            did_work |= run_analysis_unit(ctx, ANALYSIS, identity, measure)
            bar.update(1)
    bar.close()
    return did_work
