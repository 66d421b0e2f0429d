"""Fuzzing the promise of the command line: random configs, config files of random shapes
(nesting, aliases, merge keys, size) and random arguments end in exit 0 or exit 2 (one line
naming the value, nothing written), never in a traceback.

Hypothesis draws changes to a tiny valid config (every section present, so a valid draw runs
every phase and the report) and argument lists for every command. The number of draws is
LOWCAP_FUZZ_EXAMPLES (default 30 configs and 40 argument lists); the examples
are derandomised, so a failure reproduces.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

BASE = {
    "profile": "fuzz", "epochs": 1, "widths": [2, 3],
    "protocols": {"corrected": {"seeds": [0], "batch_size": 512}, "reference": {"seeds": [0]}},
    "capacity": {"pairs": [[0, 1]]},
    "lr_grid": {"pair": [0, 1], "learning_rates": [0.03, 0.1]},
    "sweep": {"pairs": [[2, 7]], "widths": [2], "learning_rates": [0.03]},
    "pruning": {"levels": [0.5, 0.9], "methods": ["layerwise", "global", "random"]},
    "dead_neurons": {"models": [[0, 1, 3]]},
    "tsne": {"pair": [0, 1], "hidden": 3, "max_points": 60, "embeddings": 1},
    "robustness": {"pair": [0, 1], "widths": [2, 3], "sigmas": [0.0, 0.5],
                   "mnist_c": ["stripe", "rotation"], "mnist_c_parity": ["stripe"],
                   "severities": [1]},
    "saliency": {"pair": [0, 1], "hidden": 3, "max_images": 8, "top_k": 5},
    "sensitivity": {"protocol": "corrected", "pairs": [[0, 1]], "widths": [2], "points": 20,
                    "ellipses": 1, "trajectory_points": 16, "bootstrap": 10,
                    "variants": ["random_labels", "tanh"]},
    "narrow": {"datasets": ["synthetic"], "samples": 20, "synthetic_dim": 5,
               "multipliers": [1.0], "arms": [["projected_gd", "mirrored"], ["sgd", "lecun"]],
               "radii": [1.0],
               "seeds": [0], "steps": 5, "batch_size": 10, "lrs": [1.0], "adam_lrs": [0.01]},
}
# Where a change may land: every field of the base, and whole sections.
PATHS = sorted({f"{section}.{key}" for section, body in BASE.items() if isinstance(body, dict)
                for key in body} | {k for k in BASE} | {
    "protocols.corrected.val_fraction", "protocols.corrected.init",
    "protocols.corrected.init_std", "protocols.corrected.balance", "protocols.reference.draws",
    "activation",
    "matmul_precision", "snapshot_every", "lr", "capacity.min_f1", "capacity.max_std",
    "tsne.perplexity", "tsne.level", "saliency.epsilon", "saliency.level",
    "robustness.occlusion_size", "narrow.activation", "narrow.datasets"})
# Sizes stay small (a valid draw must finish in seconds) but reach every edge the validators
# draw: zero, negatives, floats where integers belong, NaN, infinities, text and booleans.
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70),
    st.sampled_from([2**32, 10**12, 0.5, 1.0, 1e-9, -0.0]),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from(["", "4-9", "9-4", "0-0", "x", "full", "../x", "relu", "tanh", "mnist",
                     "synthetic", "layerwise", "stripe", "rotation", "auto", "é"]))
# Odd but valid values, so that many draws get past validation and run every phase.
PLAUSIBLE = st.one_of(
    st.integers(1, 6), st.floats(0.001, 0.999), st.sampled_from([0.999, 51, 16, 1e6]),
    st.lists(st.integers(1, 5), min_size=1, max_size=3, unique=True),
    st.lists(st.floats(0.001, 0.999), min_size=1, max_size=3, unique=True),
    st.sampled_from([[[0, 1]], [[1, 0]], [[9, 8]], "1-7", [0], [2**32 - 1], ["global"],
                     ["random"], ["tanh"], ["full_batch"], ["mnist"], ["shot_noise"], [5],
                     "full", 1, "highest", "medium", "tanh", "gelu", "softplus", True, False]))
VALUES = st.one_of(PLAUSIBLE, PLAUSIBLE, SCALARS, st.lists(SCALARS, max_size=3),
                   st.lists(st.lists(st.integers(-1, 10), max_size=3), max_size=2),
                   st.dictionaries(st.sampled_from(["seeds", "pairs", "x"]), SCALARS,
                                   max_size=2))
EXAMPLES = int(os.environ.get("LOWCAP_FUZZ_EXAMPLES", "0"))

def fuzz(default_examples: int) -> settings:
    """Derandomised settings without time limits (a valid draw runs every phase)."""
    return settings(max_examples=EXAMPLES or default_examples, deadline=None,
                    derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _changed(changes: list[tuple[str, object]]) -> dict:
    config = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes:
        *parents, last = path.split(".")
        node = config
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[last] = value
    return config


def _check(code: int, err: str, out: Path) -> None:
    event(f"exit {code}")  # --hypothesis-show-statistics tells how many draws ran
    assert code in (0, 2), err
    assert "Traceback" not in err, err
    if code == 2:
        assert len(err.strip().split("\n")) == 1, err
        assert not out.exists(), "an exit 2 wrote the output folder"


@fuzz(30)
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=2))
def test_random_configs_exit_0_or_2_without_a_traceback(run_cli, changes):
    folder = Path(tempfile.mkdtemp(prefix="lowcap-fuzz-"))
    try:
        config = folder / "config.yaml"
        config.write_text(yaml.safe_dump(_changed(changes), allow_unicode=True))
        out = folder / "run"
        code, _, err = run_cli("sweep", str(config), "--out", str(out), "--quiet",
                               "--device", "cpu")
        _check(code, err, out)
    finally:
        shutil.rmtree(folder)


def _shaped_yaml(depth: int, alias_levels: int, padding: int, merge: bool) -> str:
    """A config text of a drawn shape: the tiny valid config, plus a value nested `depth`
    levels deep, `alias_levels` of aliases each repeating the previous ten times, `padding`
    bytes of comments, and a merge key."""
    text = yaml.safe_dump(BASE)
    if depth:
        text += "deep: " + "[" * depth + "]" * depth + "\n"
    if alias_levels:
        text += "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
            f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
            for i in range(1, alias_levels + 1))
    if merge:
        text = text.replace("corrected:\n", "corrected: &c\n", 1) + (
            "extra: {<<: *c}\n")
    return text + "# pad\n" * (padding // 6)


@fuzz(12)
@given(depth=st.sampled_from([0, 0, 1, 31, 40, 900, 5000, 20000]),
       alias_levels=st.sampled_from([0, 0, 1, 4, 5, 9, 12]),
       padding=st.sampled_from([0, 0, 10_000, 999_000, 2_000_000, 36_000_000]),
       merge=st.booleans())
def test_config_files_of_any_shape_exit_0_or_2_quickly(run_cli, depth, alias_levels, padding,
                                                       merge):
    """Nesting, YAML aliases (a bomb at 9 levels and more), merge keys and large files: exit 0
    or 2 with one line, within seconds, whatever their shape."""
    import time

    folder = Path(tempfile.mkdtemp(prefix="lowcap-fuzz-"))
    try:
        config = folder / "config.yaml"
        config.write_text(_shaped_yaml(depth, alias_levels, padding, merge))
        started = time.perf_counter()
        code, _, err = run_cli("config", str(config))
        _check(code, err, folder / "never")
        assert time.perf_counter() - started < 30
    finally:
        shutil.rmtree(folder)


# (`lowcap data` has tests of its own: a fresh cache folder would fetch MNIST every draw.)
COMMANDS = ["reproduce", "sweep", "report", "prune", "neurons", "tsne", "robustness",
            "saliency", "sensitivity", "narrow"]
OPTIONS = ["--profile", "--config", "--out", "--device", "--executor", "--ray-address",
           "--ray-timeout", "--fresh", "--levels", "--methods", "--level", "--pair", "--hidden",
           "--max-points", "--widths", "--sigmas", "--epsilon", "--pairs", "--datasets",
           "--steps", "--bogus"]
WORDS = st.one_of(st.sampled_from(OPTIONS), st.sampled_from(
    ["smoke", "paper", "huge", "cpu", "cuda", "tpu", "ray", "local", "4-9", "4-10", "0.5,1.5",
     "layerwise,magic", "24", "-1", "0", "1e999", "nan", "x", "", "{run}", "{missing}",
     "{file}", "127.0.0.1:1", "/", "."]), st.text(max_size=6))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny finished run the analysis commands may be pointed at (the BASE config)."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("fuzz-run")
    config = folder / "config-in.yaml"
    config.write_text(yaml.safe_dump(BASE))
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "sweep", str(config), "--out",
                           str(folder / "run"), "--quiet", "--device", "cpu"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return folder


@fuzz(40)
@given(command=st.sampled_from(COMMANDS), words=st.lists(WORDS, max_size=5))
def test_random_arguments_exit_0_or_2_without_a_traceback(run_cli, finished_run, command,
                                                           words):
    scratch = Path(tempfile.mkdtemp(prefix="lowcap-fuzz-"))
    here = Path.cwd()
    try:
        os.chdir(scratch)  # relative paths (and runs/<profile>) land in the scratch folder
        run = scratch / "run"
        shutil.copytree(finished_run / "run", run)
        names = {"{run}": str(run), "{missing}": str(scratch / "missing"),
                 "{file}": str(finished_run / "config-in.yaml")}
        args = [names.get(w, w) for w in words]
        if command == "reproduce":  # never a profile's minutes of training: the tiny config
            args = [*args, "--config", str(finished_run / "config-in.yaml")]
        code, _, err = run_cli(command, *args, "--quiet")
        event(f"exit {code}")
        assert code in (0, 2), (args, err)
        assert "Traceback" not in err, err
        if code == 2:
            assert len(err.strip().split("\n")) == 1, err
    finally:
        os.chdir(here)
        shutil.rmtree(scratch)
