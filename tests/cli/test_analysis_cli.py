"""Analysis commands on a finished run: they write into its store and rebuild the report."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_prune_with_new_levels_adds_them(run_copy, run_cli):
    before = (run_copy / "summary.json").read_bytes()
    code, out, err = run_cli("prune", str(run_copy), "--levels", "0.3,0.99", "--methods",
                             "layerwise,random", "--quiet", "--device", "cpu", "--no-report")
    assert code == 0, err
    assert "report was not rebuilt" in out and "lowcap report" in out
    assert (run_copy / "summary.json").read_bytes() == before  # stored, not yet reported
    assert run_cli("report", str(run_copy))[0] == 0
    summary = json.loads((run_copy / "summary.json").read_text())
    levels = summary["pruning"]["4-9"]["24"]
    assert set(levels) == {"0.3", "0.99"}
    # layerwise runs with both roundings (the config's default `pruning.rounding`)
    assert set(summary["protocols"]["corrected"]["pruning_methods"]) == {
        "layerwise", "layerwise_nearest", "random"}
    floor_k = int(0.99 * 784 * 24) + int(0.99 * 24)  # the paper's int() per layer
    assert levels["0.99"]["achieved_sparsity"] == pytest.approx(floor_k / (785 * 24), abs=1e-4)


@pytest.mark.parametrize(("args", "reason"), [
    (["prune", "--levels", "0.5,1.0"], "sparsity 1.0"),
    (["prune", "--levels", "half"], "comma-separated numbers"),
    (["tsne", "--pair", "4-10"], "digit 10"),
    (["robustness", "--sigmas", "-0.1"], "σ -0.1"),
    (["saliency", "--epsilon", "0"], "epsilon"),
])
def test_bad_analysis_options_exit_2_and_change_nothing(run_copy, run_cli, args, reason):
    before = {p: p.read_bytes() for p in (run_copy / "store").iterdir() if p.is_file()}
    summary = (run_copy / "summary.json").read_text()
    code, _, err = run_cli(args[0], str(run_copy), *args[1:], "--quiet")
    assert code == 2 and reason in err
    assert (run_copy / "summary.json").read_text() == summary
    after = {p: p.read_bytes() for p in (run_copy / "store").iterdir() if p.is_file()}
    assert after == before


def test_analysis_on_a_non_run_exits_2(tmp_path, run_cli):
    code, _, err = run_cli("neurons", str(tmp_path), "--quiet")
    assert code == 2 and "not a run directory" in err


def test_sensitivity_and_narrow_commands_recompute_with_new_options(run_copy, run_cli):
    code, _, err = run_cli("sensitivity", str(run_copy), "--widths", "8", "--quiet",
                           "--device", "cpu")
    assert code == 0, err
    summary = json.loads((run_copy / "summary.json").read_text())
    assert summary["sensitivity"]["models"] > 0
    code, _, err = run_cli("narrow", str(run_copy), "--datasets", "synthetic", "--steps", "20",
                           "--quiet", "--no-report")
    assert code == 0, err
    config = (run_copy / "config.yaml").read_text()
    assert "steps: 20" in config and "widths:\n  - 8" in config


@pytest.mark.parametrize(("args", "reason"), [
    (["sensitivity", "--pairs", "4-4"], "4-4"),
    (["narrow", "--datasets", "cifar"], "cifar"),
    (["narrow", "--steps", "0"], "steps"),
])
def test_bad_companion_options_exit_2(run_copy, run_cli, args, reason):
    code, _, err = run_cli(args[0], str(run_copy), *args[1:], "--quiet")
    assert code == 2 and reason in err, err
