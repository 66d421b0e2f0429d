"""§4.6 as a resumable analysis: every selected model on the same corrupted test images (the
test split is shared by all seeds of a pair, so identical inputs really are identical)."""

from __future__ import annotations

from lowcap.run.analysis_cache import Rows, run_analysis_unit
from lowcap.run.checkpoints import save_tensors
from lowcap.run.config import ProtocolConfig
from lowcap.run.context import RunContext
from lowcap.studies.robustness.config import RobustnessConfig
from lowcap.studies.robustness.corruptions import PARITY, SEVERITIES, corrupt
from lowcap.studies.robustness.mnist_c import DEFAULT_SEVERITY
from lowcap.studies.selection import at_pair_and_widths
from lowcap.training.evaluation import EvalSet, metrics_to_host
from lowcap.training.metrics import cohort_metrics
from lowcap.training.parameter_sets import params_cohort

# Fig D.1's clean image (the robustness pair's first test image), so the report needs no MNIST.
CORRUPTION_EXAMPLE = "corruption-example"


def robustness_settings(spec: RobustnessConfig) -> list[tuple[str, float, int]]:
    """(corruption, parameter, severity) of every evaluation the config asks for (severity
    0: none; MNIST-C's published corruptions at their default severity, parameter 0)."""
    parity = ["identity", *spec.mnist_c_parity] if spec.mnist_c_parity else []
    return ([("gaussian", float(sigma), 0) for sigma in spec.sigmas]
            + [("occlusion", float(spec.occlusion_size), 0)]
            + [(name, float(SEVERITIES[name][k - 1]), k) for name in spec.mnist_c
               for k in spec.severities]
            + [(PARITY + name, 0.0, DEFAULT_SEVERITY.get(name) or 0) for name in parity])


def compute(ctx: RunContext, cfg, protocol: ProtocolConfig) -> bool:
    """Every selected model under every configured corruption, on the test split."""
    spec = cfg.robustness
    assert spec is not None
    models = at_pair_and_widths(spec).healthy(ctx, cfg, protocol)
    if not models:
        return False
    settings = robustness_settings(spec)

    def measure() -> Rows:
        split = ctx.split(models[0].plan)
        x, y = ctx.analysis_bank(models[0].plan).inputs(split, "test")
        save_tensors(ctx.store.artefact(CORRUPTION_EXAMPLE), {"image": x[0].reshape(28, 28)})
        cohort = params_cohort([(split, [ctx.load_params(m.model_id) for m in models])],
                               models[0].plan.hp.activation, x.device, x.dtype)
        rows: Rows = []
        for name, parameter, severity in settings:
            images = EvalSet.single(corrupt(x, name, parameter, spec.seed), y)
            logits = cohort.logits(images.x)
            metrics = metrics_to_host(cohort, cohort_metrics(logits, images.labels))
            # The share of images a model calls positive: 0 or 1 is a collapsed model (one
            # answer for every image), whose F1 is a constant predictor's.
            positive = (logits[0] > 0).double().mean(0).cpu()
            params = {"corruption": name, "parameter": parameter, "severity": severity}
            for i, model in enumerate(models):
                rows.append((model.model_id, params, "test_f1", float(metrics["f1"][0, i])))
                rows.append((model.model_id, params, "test_auc", float(metrics["auc"][0, i])))
                rows.append((model.model_id, params, "test_predicted_positive",
                             float(positive[i])))
        for model in models:  # what an always-positive model's F1 is measured against
            rows.append((model.model_id, {}, "test_positive_fraction", float(y.double().mean())))
        return rows

    # "version" 2: predicted-positive shares (collapsed models) and the test split's positives.
    identity = {"version": 2, "models": [m.model_id for m in models],
                **spec.model_dump(mode="json", exclude={"select", "min_effect"})}
    return run_analysis_unit(ctx, "robustness", identity, measure)
