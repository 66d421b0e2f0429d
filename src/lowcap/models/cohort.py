"""A cohort: many d → h → 1 MLPs (d = 784 for MNIST) held as one set of batched tensors.

Layout. Models that see the same data stream (same task split and batch order) form a *lane*;
within a lane every model's hidden units are concatenated into one wide hidden layer, and the
output layer is block-structured: unit j feeds only its own model's output (`unit_model[g, j]`).
Lanes are stacked along a leading dimension G and padded to the widest lane, so a forward pass
over all models is one batched matrix product per layer plus the block-structured readout.
Padding units map to a dummy output column and have zero weights and zero learning rate, so
they never change and never leak.

Because a unit feeds only its own model's column, a model whose weights become NaN/inf cannot
contaminate any other model's outputs or gradients.

Deeper models (d → h → … → h → 1, `depth` hidden layers) add hidden-to-hidden layers as
block-diagonal matrices [G, H, H]: entry (i, j) is a weight only where units i and j belong to
the same model (`block`), every other entry is 0 and stays exactly 0 (its gradient is masked).
The products see non-finite activations replaced by 0, and a model with one is marked NaN in
the next layer, so isolation holds at every depth. `benchmarks/bench_depth.py` measures this
layout against stacking models of one shape (`torch.func.vmap`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
from torch import nn

from lowcap.data.tasks import TaskSplit
from lowcap.models import pgd, step
from lowcap.models.forward import ACTIVATE_IN_PLACE
from lowcap.models.mlp import INPUT_DIM, Activation, InitSpec, build_mlp, init_params
from lowcap.models.optimisers import CohortOptimiser, OptimiserSpec
from lowcap.models.pgd import PGDSpec
from lowcap.ops import finite_or_zero


@dataclass(frozen=True)
class ModelSpec:
    """One model of a cohort: width, learning rate, and the seed of its initialisation."""

    hidden: int
    lr: float
    seed: int
    init: InitSpec = field(default_factory=InitSpec)
    optimiser: OptimiserSpec = field(default_factory=OptimiserSpec)


@dataclass(frozen=True)
class Lane:
    """Models trained on the same split with the same batch order (`order_seed`)."""

    split: TaskSplit
    order_seed: int
    models: tuple[ModelSpec, ...]
    augment: bool = False  # random shifts and rotations of its training batches


class Cohort:
    """Batched parameters of every model of every lane, with per-unit learning rates."""

    def __init__(self, lanes: list[Lane], activation: Activation = "relu",
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 params: list[list[dict[str, torch.Tensor]]] | None = None,
                 input_dim: int = INPUT_DIM, depth: int = 1, pgd: PGDSpec | None = None):
        """Lay out and initialise every model (from its seed), or take `params[lane][index]`
        ({w1, b1, …, w(depth+1), b(depth+1)} as `model_params` returns) for already trained
        models. Inputs have `input_dim` values (the dataset's; MNIST's 784 by default); every
        model has `depth` hidden layers of its width. With `pgd` every update trains on its
        batch's worst-case inputs (`step`), which are each model's own: one model per lane."""
        if depth < 1:
            raise ValueError(f"depth {depth}: a model needs at least one hidden layer")
        if not lanes or any(not lane.models for lane in lanes):
            raise ValueError("a cohort needs at least one lane and one model per lane")
        if pgd is not None and any(len(lane.models) > 1 for lane in lanes):
            raise ValueError("training on PGD inputs needs one model per lane: a lane's "
                             "inputs are shared by its models, and each model's are its own")
        self.pgd = pgd
        self.lanes = lanes
        self.activation: Activation = activation
        self.n_lanes = len(lanes)
        self.max_models = max(len(lane.models) for lane in lanes)
        self.total_hidden = max(sum(m.hidden for m in lane.models) for lane in lanes)
        g, h, m = self.n_lanes, self.total_hidden, self.max_models
        opts = {"device": device, "dtype": dtype}
        # Layers are numbered from the input, 1 … depth + 1, the readout last, as everywhere
        # in lowcap (checkpoints, analyses, `model_params`).
        self.w1 = torch.zeros(g, h, input_dim, **opts)
        self.b1 = torch.zeros(g, h, **opts)
        self.w_out = torch.zeros(g, h, **opts)  # the readout: one weight per unit
        self.b_out = torch.zeros(g, m, **opts)  # and one bias per model
        self.unit_lr = torch.zeros(g, h, **opts)
        self.model_lr = torch.zeros(g, m, **opts)
        self.model_mask = torch.zeros(g, m, dtype=torch.bool, device=device)
        # Padding units point at the dummy column m, dropped after the scatter.
        unit_model = torch.full((g, h), m, dtype=torch.long)
        self.unit_slices: list[list[slice]] = []
        for gi, lane in enumerate(lanes):
            start, slices = 0, []
            for mi, spec in enumerate(lane.models):
                if spec.hidden < 1 or not spec.lr > 0:
                    raise ValueError(f"invalid model {spec}: width ≥ 1 and lr > 0 required")
                units = slice(start, start + spec.hidden)
                self.unit_lr[gi, units] = spec.lr
                self.model_lr[gi, mi] = spec.lr
                self.model_mask[gi, mi] = True
                unit_model[gi, units] = mi
                slices.append(units)
                start += spec.hidden
            self.unit_slices.append(slices)
        self.unit_model = unit_model.to(device)
        self.depth = depth
        self.readout_names = (f"w{depth + 1}", f"b{depth + 1}")
        # Hidden-to-hidden layers 2 … depth: weights [G, H, H] (row: the unit fed) and biases.
        self.deep_w = [torch.zeros(g, h, h, **opts) for _ in range(depth - 1)]
        self.deep_b = [torch.zeros(g, h, **opts) for _ in range(depth - 1)]
        real = self.unit_model < m
        self.block = ((self.unit_model.unsqueeze(2) == self.unit_model.unsqueeze(1))
                      & real.unsqueeze(2) & real.unsqueeze(1)) if depth > 1 else None
        # Binary weight masks by parameter name (sparse subnetworks; `set_masks`), None while
        # every model is dense.
        self.masks: dict[str, torch.Tensor] | None = None
        # Optimiser state, None while every model is plain SGD without weight decay.
        self.optimiser: CohortOptimiser | None = None
        if any(not spec.optimiser.plain for lane in lanes for spec in lane.models):
            self.optimiser = CohortOptimiser(
                [[spec.optimiser for spec in lane.models] for lane in lanes], self.unit_model,
                {name: t.shape for name, t in self.parameters().items()}, dtype,
                per_model=self.readout_names[1])
        for gi, lane in enumerate(lanes):
            self._set_lane(gi, params[gi] if params is not None else [
                init_params(spec.hidden, spec.seed, spec.init, input_dim, pair=lane.split.pair,
                            depth=depth) for spec in lane.models])

    def parameters(self) -> dict[str, torch.Tensor]:
        """Every trainable tensor by layer number, as `model_params` names a model's: w1, b1,
        then w2, b2 … of the hidden-to-hidden layers, then the readout's
        (`readout_names`: w2, b2 with one hidden layer)."""
        deep = {f"{kind}{k + 2}": t for k, (w, b) in enumerate(zip(self.deep_w, self.deep_b,
                                                                    strict=True))
                for kind, t in (("w", w), ("b", b))}
        w_out, b_out = self.readout_names
        return {"w1": self.w1, "b1": self.b1, **deep, w_out: self.w_out, b_out: self.b_out}

    @torch.no_grad()
    def _set_lane(self, lane: int, plist: list[dict[str, torch.Tensor]]) -> None:
        """Write one lane's models' parameters (numbered layers each, as `model_params` returns,
        in model order, any device or float dtype) into its units."""
        opts = {"device": self.w1.device, "dtype": self.w1.dtype}
        units = sum(spec.hidden for spec in self.lanes[lane].models)
        w_out, b_out = self.readout_names
        self.w1[lane, :units] = torch.cat([p["w1"].to(**opts) for p in plist])
        self.b1[lane, :units] = torch.cat([p["b1"].to(**opts) for p in plist])
        self.w_out[lane, :units] = torch.cat([p[w_out].reshape(-1).to(**opts) for p in plist])
        self.b_out[lane, : len(plist)] = torch.cat([p[b_out].reshape(-1).to(**opts)
                                                    for p in plist])
        for k, (w, b) in enumerate(zip(self.deep_w, self.deep_b, strict=True)):
            b[lane, :units] = torch.cat([p[f"b{k + 2}"].to(**opts) for p in plist])
            for units_of, p in zip(self.unit_slices[lane], plist, strict=True):
                w[lane, units_of, units_of] = p[f"w{k + 2}"].to(**opts)

    # --- computation ---------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.w1.device

    def hidden_pre(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activations [G, B, H] for inputs x [G, B, d]."""
        return torch.baddbmm(self.b1.unsqueeze(1), x, self.w1.transpose(1, 2))

    def act_(self, z: torch.Tensor) -> torch.Tensor:
        """The activation applied in place (z becomes h)."""
        return ACTIVATE_IN_PLACE[self.activation](z)

    def hidden_layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every hidden layer's activations [G, B, H] for inputs x [G, B, d], first to last."""
        layers = [self.act_(self.hidden_pre(x))]
        for w, b in zip(self.deep_w, self.deep_b, strict=True):
            layers.append(self.act_(self.deep_pre(layers[-1], w, b)))
        return layers

    def deep_pre(self, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Pre-activations of a hidden-to-hidden layer: h Wᵀ + b with non-finite inputs read as
        0, and NaN for every unit of a model that had one (its outputs are NaN)."""
        z = torch.baddbmm(b.unsqueeze(1), finite_or_zero(h), w.transpose(1, 2))
        bad = self._non_finite_models(h).gather(1, self.unit_model) > 0
        return z.masked_fill_(bad.unsqueeze(1), float("nan"))

    def _non_finite_models(self, h: torch.Tensor) -> torch.Tensor:
        """[G, M + 1], > 0 where a model has a non-finite activation in h [G, B, H]. A unit's
        sum over the batch is non-finite iff one of its activations is (or the sum overflows
        float: a diverged model too). One read of h, no boolean tensor."""
        unit_bad = (~torch.isfinite(h.sum(1))).to(h.dtype)
        model_bad = torch.zeros(h.shape[0], self.max_models + 1, dtype=h.dtype, device=h.device)
        return model_bad.scatter_add_(1, self.unit_model, unit_bad)

    def backprop_act(self, d_h: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """d_h · act'(z), in place, from h = act(z) alone: relu' is sign(h) ∈ {0, 1} (h ≥ 0;
        faster than a mask), tanh' is 1 − h² (one fused kernel)."""
        if self.activation == "relu":
            return d_h.mul_(h.sign())
        return torch.ops.aten.tanh_backward(d_h, h)

    # Readout and its transpose as GEMMs with block matrices [H, M + 1] take one pass over the
    # activations, but mix models through products with structural zeros, which would turn a
    # non-finite value of one model into NaN for every model of its lane. So the GEMMs see
    # non-finite entries replaced by 0, and a model with a non-finite hidden activation gets NaN
    # logits: exact for finite models, isolating for diverged ones, and decided on the device
    # (no host synchronisation, no data-dependent branch: the step can be captured in a CUDA
    # graph). Beyond GEMM_MAX_COLUMNS models per lane
    # (M + 1 columns cost more than 8% of the first layer's 784) gathers/scatters, which never
    # mix models, replace the GEMMs.
    GEMM_MAX_COLUMNS = 64

    def _unit_matrix(self, per_unit: torch.Tensor) -> torch.Tensor:
        """[G, H, M + 1] with per_unit[g, j] at column unit_model[g, j], zeros elsewhere."""
        g, h = per_unit.shape
        out = torch.zeros(g, h, self.max_models + 1, device=per_unit.device,
                          dtype=per_unit.dtype)
        return out.scatter_(2, self.unit_model.unsqueeze(-1), per_unit.unsqueeze(-1))

    def _uses_gemm(self) -> bool:
        return self.max_models + 1 <= self.GEMM_MAX_COLUMNS

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """Per-model logits [G, B, M] from hidden activations h [G, B, H]; NaN throughout the
        batch for a model with a non-finite activation in it."""
        m = self.max_models
        if self._uses_gemm():
            out = torch.bmm(finite_or_zero(h), self._unit_matrix(self.w_out))[:, :, :m] \
                + self.b_out.unsqueeze(1)
            model_bad = self._non_finite_models(h)
            return out.masked_fill_(model_bad[:, None, :m] > 0, float("nan"))
        g, b, _ = h.shape
        exact = torch.zeros(g, b, m + 1, device=h.device, dtype=h.dtype)
        exact.scatter_add_(2, self.unit_model.unsqueeze(1).expand(g, b, -1),
                           h * self.w_out.unsqueeze(1))
        return exact[:, :, :m] + self.b_out.unsqueeze(1)

    def spread(self, d_models: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """[G, B, H]: each unit j gets its own model's d_models[g, b, unit_model[g, j]] (d_models
        [G, B, M + 1], last column the padding units'), times scale[g, j]. A unit whose model's
        entry is non-finite gets 0 on the GEMM path (that model is diverged: its own logits
        are NaN, and it is frozen after the epoch)."""
        if self._uses_gemm():
            safe = finite_or_zero(d_models)
            return torch.bmm(safe, self._unit_matrix(scale).transpose(1, 2))
        g, b, _ = d_models.shape
        index = self.unit_model.unsqueeze(1).expand(g, b, -1)
        return d_models.gather(2, index).mul_(scale.unsqueeze(1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [G, B, M] for inputs x [G, B, d], in chunks of samples whose hidden
        activations take about 16 MB (small temporaries are worth more than fewer calls)."""
        chunk = max(64, min(1024, 4 * 2**20 // (self.n_lanes * self.total_hidden)))
        return torch.cat([self.readout(self.hidden_layers(x[:, i:i + chunk])[-1])
                          for i in range(0, x.shape[1], chunk)], dim=1)

    # --- training -----------------------------------------------------------------------------

    def step(self, x: torch.Tensor | list[torch.Tensor], y: torch.Tensor,
             weight: torch.Tensor) -> torch.Tensor:
        """One update of every model on its lane's batch (x [G, B, d] or its pieces along B,
        labels y and sample weights [G, B]: each model minimises the weighted mean BCE);
        returns the pre-update logits [G, B, M]. Learning rates, optimiser state, masks and
        frozen models all apply inside (`lowcap.models.step`). A cohort with `pgd` first
        moves each lane's inputs to its model's worst case (`lowcap.models.pgd`); the logits
        returned are those of the inputs it learns from."""
        if self.pgd is not None:
            x = pgd.lanes_worst_inputs(self, x, y)
        return step.update(self, x, y, weight)

    def freeze(self, models: torch.Tensor) -> None:
        """Stop updating the models marked in `models` [G, M] (their learning rate becomes 0)."""
        step.freeze(self, models)

    def diverged(self, train_loss: torch.Tensor) -> torch.Tensor:
        """[G, M] bool: the real models with a non-finite weight or `train_loss` [G, M]."""
        return step.diverged_models(self, train_loss)

    # --- sparse subnetworks --------------------------------------------------------------------

    @torch.no_grad()
    def set_masks(self, masks: list[list[dict[str, torch.Tensor] | None]]) -> None:
        """Fix a binary mask per model (`masks[lane][index]`, one per weight matrix, named as
        `model_params` names them: {w1 [h, d], w2 [1, h]} for one hidden layer; None keeps a
        model dense). Masked weights become 0 now and stay exactly 0 while training
        (`apply_masks_` after every update), so masked and dense models share a cohort."""
        w_out = self.readout_names[0]
        self.masks = {name: torch.ones_like(w) for name, w in self.parameters().items()
                      if name.startswith("w")}
        for g, lane_masks in enumerate(masks):
            for i, mask in enumerate(lane_masks):
                if mask is not None:
                    units = self.unit_slices[g][i]
                    self.masks["w1"][g, units] = mask["w1"].to(self.w1)
                    self.masks[w_out][g, units] = mask[w_out].reshape(-1).to(self.w_out)
                    for k in range(2, self.depth + 1):
                        self.masks[f"w{k}"][g, units, units] = mask[f"w{k}"].to(self.w1)
        self.apply_masks_()

    @torch.no_grad()
    def apply_masks_(self) -> None:
        """Zero every masked weight (nothing without masks)."""
        if self.masks is not None:
            params = self.parameters()
            for name, mask in self.masks.items():
                params[name].mul_(mask)

    # --- single models -------------------------------------------------------------------------

    def model_params(self, lane: int, index: int) -> dict[str, torch.Tensor]:
        """Detached copies of one model's layers, numbered from the input: {w1 [h, d], b1}, then
        {w<k> [h, h], b<k>} per further hidden layer, then the readout {w<depth+1> [1, h],
        b<depth+1> [1]} (one hidden layer: {w1, b1, w2, b2})."""
        units = self.unit_slices[lane][index]
        w_out, b_out = self.readout_names
        params = {"w1": self.w1[lane, units].clone(), "b1": self.b1[lane, units].clone()}
        for k, (w, b) in enumerate(zip(self.deep_w, self.deep_b, strict=True)):
            params[f"w{k + 2}"] = w[lane, units, units].clone()
            params[f"b{k + 2}"] = b[lane, units].clone()
        params[w_out] = self.w_out[lane, units].clone().reshape(1, -1)
        params[b_out] = self.b_out[lane, index].clone().reshape(1)
        return params

    def module(self, lane: int, index: int) -> nn.Sequential:
        """One model as a plain nn.Module (for analyses, Captum, export)."""
        return build_mlp(self.model_params(lane, index), self.activation)

    def models(self) -> list[tuple[int, int, ModelSpec]]:
        """(lane, index, spec) of every real model, in layout order."""
        return [(g, i, spec) for g, lane in enumerate(self.lanes)
                for i, spec in enumerate(lane.models)]

    # --- snapshots -----------------------------------------------------------------------------

    def state(self) -> dict[str, torch.Tensor]:
        """The trainable state as plain tensors (for atomic snapshots)."""
        masks = {} if self.masks is None else {f"mask_{k}": v for k, v in self.masks.items()}
        optimiser = {} if self.optimiser is None else self.optimiser.state()
        return {**self.parameters(), "model_lr": self.model_lr, "unit_lr": self.unit_lr,
                **masks, **optimiser}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what `state()` returned (or a snapshot of an older lowcap:
        `older_layer_names`); shapes must match this cohort's layout."""
        state = older_layer_names(state, self.depth)
        for name, tensor in self.state().items():
            if state[name].shape != tensor.shape:
                raise ValueError(f"snapshot tensor {name} has shape {tuple(state[name].shape)}, "
                                 f"cohort expects {tuple(tensor.shape)}")
            tensor.copy_(state[name])


_OLDER_NAME = re.compile(r"(.*?)(hw|hb|w|b)(\d+)")


def older_layer_names(state: dict[str, torch.Tensor], depth: int) -> dict[str, torch.Tensor]:
    """`state` with a snapshot's names from lowcap before one layer numbering: with two or more
    hidden layers it named the readout w2, b2 and the hidden-to-hidden layers hw<k>, hb<k>
    (k from 0), in the parameters, their masks (mask_…) and optimiser buffers (opt_…_…)."""
    if depth == 1 or not any(re.fullmatch(r".*h[wb]\d+", key) for key in state):
        return state

    def renamed(key: str) -> str:
        match = _OLDER_NAME.fullmatch(key)
        if match is None:
            return key
        prefix, kind, number = match.groups()
        if kind in ("hw", "hb"):
            return f"{prefix}{kind[1]}{int(number) + 2}"
        return f"{prefix}{kind}{depth + 1}" if number == "2" else key

    return {renamed(key): value for key, value in state.items()}
