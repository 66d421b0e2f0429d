"""End to end: `lowcap reproduce --profile smoke`, report rebuilding, and kill -9 resumption."""

import html
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch
import yaml
from conftest import TESTS
from safetensors.torch import load_file

from lowcap.report.build import summarize
from lowcap.report.compare import mismatches

pytestmark = pytest.mark.slow

# PyTorch, oneDNN and MKL limited to AVX2: how a CPU without AVX-512 or AMX computes.
AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def test_smoke_layout(smoke_run):
    assert {p.name for p in smoke_run.iterdir()} >= {
        "config.yaml", "store", "checkpoints", "figures", "report.html", "summary.json"}
    figures = {p.name for p in (smoke_run / "figures").iterdir()}
    for protocol in ("corrected", "reference"):
        for name in ("fig1_lr_f1", "fig2_lr_heatmap", "fig3_capacity"):
            assert f"{name}_{protocol}.png" in figures and f"{name}_{protocol}.svg" in figures
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert summary["profile"] == "smoke"
    assert set(summary["capacity"]) == {"0-1", "4-9"}
    assert set(summary["lr_grid"]["f1"]) == {"0.003", "0.03"}
    assert summary["protocols"]["reference"]["capacity"]["0-1"]["f1_mean"]["8"] > 0.5
    assert summary["seconds"]["total"] > 0
    checkpoints = list((smoke_run / "checkpoints").glob("unit-*"))
    assert checkpoints == [], "snapshots are removed once a unit is done"
    resolved = yaml.safe_load((smoke_run / "config.yaml").read_text())
    assert resolved["protocols"][0]["batch_size"] == 128


def test_outputs_are_readable_like_any_tools(smoke_run):
    mask = os.umask(0o022)
    os.umask(mask)
    for path in ("summary.json", "report.html", "config.yaml", "store/results.sqlite"):
        assert (smoke_run / path).stat().st_mode & 0o777 == 0o666 & ~mask, path
    for path in [*(smoke_run / "figures").iterdir(), *(smoke_run / "checkpoints").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_smoke_summary_carries_distributions_and_unit_counts(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    for protocol in summary["protocols"].values():
        for entry in protocol["capacity"].values():
            assert sum(entry["min_hidden_p"].values()) == pytest.approx(1.0)
            assert len(entry["min_hidden_ci"]) == 2 and len(entry["seeds"]) == 2
        for row in protocol["dead_neurons"]:
            assert row["after_95"] + row["disconnected_after"] + row["live_after"] == row["hidden"]
            assert row["disconnected_before"] == 0 and row["live_before"] >= 1
        m = protocol["saliency"]["magnitude"]
        assert 0 <= m["undefined_maps"] <= m["images"]
        defined = (m["images"] - m["undefined_maps"]) / m["images"]
        assert m["spearman_mean_undefined_as_zero"] == pytest.approx(m["spearman_mean"] * defined)
        assert 0 < protocol["tsne"]["0.95_live"]["units"] <= 24
        assert "layerwise_nearest" in protocol["pruning_methods"]
    for claim in summary["claims"]:
        assert "statistic" in claim["rule"], claim["id"]
    assert summary["sensitivity"]["jacobian_norm"].startswith("Novak")
    assert {"jacobian_lower_near_data", "jacobian_lower_near_data_vs_noise"} <= {
        c["id"] for c in summary["claims"]}


def test_reference_models_train_in_float64_on_the_paper_codes_draws(smoke_run):
    db = sqlite3.connect(smoke_run / "store" / "results.sqlite")
    plans = [json.loads(p) for (p,) in db.execute(
        "SELECT spec FROM models WHERE protocol = 'reference'")]
    assert plans and all(p["draws"] == "paper_code" and p["dtype"] == "float64" for p in plans)
    (path,) = db.execute(
        "SELECT checkpoint FROM models WHERE protocol = 'reference' LIMIT 1").fetchone()
    assert load_file(smoke_run / path)["w1"].dtype == torch.float64


def test_report_rebuilds_identical_summary(run_copy):
    before = (run_copy / "summary.json").read_text()
    drawn = {p.name: p.stat().st_mtime_ns for p in (run_copy / "figures").iterdir()}
    (run_copy / "summary.json").unlink()
    (run_copy / "report.html").unlink()
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "report", str(run_copy)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run_copy / "summary.json").read_text() == before
    assert "<img" in (run_copy / "report.html").read_text()
    # The same store gives the same figures: none is drawn again (report.plotting.fingerprint).
    assert {p.name: p.stat().st_mtime_ns for p in (run_copy / "figures").iterdir()} == drawn



def test_library_report_renders_in_process_to_the_same_files(run_copy):
    from lowcap.report.build import build_report

    """Every fourth figure (the others are unchanged, so not drawn again) rendered without
    worker processes is, byte for byte, what the workers drew."""
    summary = (run_copy / "summary.json").read_text()
    figures = {p.name: p.read_bytes() for p in (run_copy / "figures").glob("*.png")}
    deleted = sorted(figures)[::4]
    for name in deleted:
        (run_copy / "figures" / name).unlink()
    build_report(run_copy)  # no worker processes: safe from any script
    assert (run_copy / "summary.json").read_text() == summary
    assert {p.name: p.read_bytes() for p in (run_copy / "figures").glob("*.png")} == figures

def test_rerun_skips_finished_work(run_copy, run_cli):
    mtimes = {p: p.stat().st_mtime_ns for p in (run_copy / "checkpoints").iterdir()}
    code, _, err = run_cli("reproduce", "--profile", "smoke", "--out", str(run_copy),
                           "--quiet", "--device", "cpu")
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in (run_copy / "checkpoints").iterdir()} == mtimes


def test_changed_config_reuses_finished_models(tmp_path, run_cli):
    base = {"profile": "grow", "epochs": 2, "widths": [2, 4],
            "protocols": {"corrected": {"seeds": [0]}}, "capacity": {"pairs": [[0, 1]]}}
    config = tmp_path / "c.yaml"
    out = tmp_path / "run"
    config.write_text(yaml.safe_dump(base))
    assert run_cli("sweep", str(config), "--out", str(out), "--quiet")[0] == 0
    first = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    config.write_text(yaml.safe_dump({**base, "widths": [2, 4, 8]}))
    assert run_cli("sweep", str(config), "--out", str(out), "--quiet")[0] == 0
    second = {p.name: p.stat().st_mtime_ns for p in (out / "checkpoints").iterdir()}
    assert len(second) == 3 and all(second[name] == first[name] for name in first)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["capacity"]["0-1"]["f1_mean"]) == {"2", "4", "8"}



def test_matmul_precision_names_new_models_and_is_reported(tmp_path, run_cli):
    from lowcap.training import matmul_description

    config, out = tmp_path / "c.yaml", tmp_path / "run"
    base = {"profile": "precision", "epochs": 1, "widths": [2, 4],
            "protocols": {"corrected": {"seeds": [0]}}, "capacity": {"pairs": [[0, 1]]}}
    for precision, models in (("highest", 2), ("medium", 4)):
        config.write_text(yaml.safe_dump({**base, "matmul_precision": precision}))
        assert run_cli("sweep", str(config), "--out", str(out), "--quiet")[0] == 0
        assert len(list((out / "checkpoints").iterdir())) == models  # never reused across
        summary = json.loads((out / "summary.json").read_text())
        described = matmul_description(precision, torch.device("cpu"))
        assert summary["train_matmul"] == described
        assert html.escape(described) in (out / "report.html").read_text()

def _dump_store(out):
    db = sqlite3.connect(out / "store" / "results.sqlite")
    epochs = db.execute("SELECT * FROM epochs ORDER BY model_id, epoch").fetchall()
    models = db.execute("SELECT model_id, diverged_epoch FROM models ORDER BY model_id").fetchall()
    db.close()
    weights = {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()}
    return epochs, models, weights


def test_killed_sweep_resumes_to_identical_results(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({
        "profile": "killtest", "epochs": 6, "snapshot_every": 1,
        "protocols": {"corrected": {"seeds": [0, 1]}},
        "sweep": {"pairs": [[4, 9], [1, 7]], "widths": [4, 16], "learning_rates": [0.03]},
    }))
    cmd = [sys.executable, "-m", "lowcap.cli", "sweep", str(config), "--quiet", "--device", "cpu",
           "--out"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, str(killed)], start_new_session=True)
    store = killed / "store" / "results.sqlite"
    deadline = time.time() + 300
    progress = 0
    while time.time() < deadline and proc.poll() is None:
        if store.exists():
            try:
                db = sqlite3.connect(store, timeout=0.1)
                row = db.execute("SELECT max(epoch_done) FROM units").fetchone()
                db.close()
                progress = row[0] or 0
            except sqlite3.Error:
                pass
        if progress >= 2:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    assert not (killed / "summary.json").exists()
    subprocess.run([*cmd, str(killed), "--no-report"], check=True, timeout=600)
    clean = tmp_path / "clean"
    subprocess.run([*cmd, str(clean), "--no-report"], check=True, timeout=600)
    resumed_epochs, resumed_models, resumed_weights = _dump_store(killed)
    clean_epochs, clean_models, clean_weights = _dump_store(clean)
    assert len(clean_epochs) == 8 * 6  # 2 pairs x 2 widths x 2 seeds, 6 epochs each
    assert resumed_epochs == clean_epochs
    assert resumed_models == clean_models
    assert resumed_weights == clean_weights
    assert summarize(killed)["protocols"] == summarize(clean)["protocols"]


GOLDEN = TESTS / "golden"
# How many times the measured spread a number may move (tests/golden/README.md).
TOLERANCE_FACTOR = 4


def golden_mismatches(summary: dict) -> list[str]:
    """Where a smoke run's summary departs from tests/golden/smoke_summary.json by more than
    numbers move between machines: each section's numbers within TOLERANCE_FACTOR times the
    spread measured for it (tests/golden/spread.json, from `benchmarks/spread.py`) or float
    rounding, every verdict equal unless one of the two marks it near threshold, every text
    equal but for its numbers."""
    golden = json.loads((GOLDEN / "smoke_summary.json").read_text())
    spread = json.loads((GOLDEN / "spread.json").read_text())["sections"]
    summary = {key: value for key, value in summary.items() if key != "seconds"}
    tolerance = {section: TOLERANCE_FACTOR * s["abs"] for section, s in spread.items()}
    return mismatches(summary, golden, tolerance)


def test_smoke_summary_equals_the_golden_summary(smoke_run):
    """The summary of a smoke run equals the stored one to the spread between machines. A
    change that moves a number must update the golden file on purpose (`lowcap reproduce
    --profile smoke`, then copy summary.json without `seconds`; see tests/golden/README.md)."""
    assert golden_mismatches(json.loads((smoke_run / "summary.json").read_text())) == []


def test_smoke_on_an_avx2_cpu_with_one_thread_equals_the_golden_summary(tmp_path):
    """Another CPU inside the test command: the smoke profile with PyTorch, oneDNN and MKL held
    to their AVX2 code paths (as on a CPU without AVX-512 or AMX) and on one thread (the
    session's smoke run has every thread of this CPU), meets the same golden summary,
    tolerances and verdict rule. (One run for both changes: where it fails, rerun the
    command under each alone to tell which moved a number.)"""
    out = tmp_path / "avx2-1-thread"
    env = {**os.environ, **AVX2_ONLY, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "reproduce", "--profile", "smoke",
                           "--out", str(out), "--quiet", "--device", "cpu", "--no-report"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert not (out / "report.html").exists()
    assert golden_mismatches(summarize(out)) == []


def test_the_summary_from_the_store_is_the_reports_and_writes_nothing(smoke_run):
    """`summarize` (what `--no-report` runs are compared by) returns summary.json's content
    exactly, without drawing or writing a file."""
    before = {p: p.stat().st_mtime_ns for p in smoke_run.rglob("*")}
    assert summarize(smoke_run) == json.loads((smoke_run / "summary.json").read_text())
    assert {p: p.stat().st_mtime_ns for p in smoke_run.rglob("*")} == before


def test_golden_comparison_catches_a_moved_number_and_a_flipped_verdict(smoke_run):
    """The comparison is not vacuous: a number moved beyond its section's tolerance, a
    verdict flipped where it is not near threshold, and a changed text are each reported."""
    golden = json.loads((GOLDEN / "smoke_summary.json").read_text())
    assert mismatches(golden, golden, {}) == []
    moved = json.loads(json.dumps(golden))
    moved["protocols"]["corrected"]["capacity"]["0-1"]["f1_mean"]["8"] += 0.01
    firm = next(i for i, c in enumerate(moved["claims"]) if not c["near_threshold"])
    moved["claims"][firm]["verdict"] = "inconclusive" if moved["claims"][firm][
        "verdict"] != "inconclusive" else "holds"
    moved["profile"] = "other"
    found = mismatches(moved, golden, {"capacity": 0.001})
    assert any("/capacity/0-1/f1_mean/8" in m for m in found)
    assert any(moved["claims"][firm]["id"] in m for m in found)
    assert any(m.startswith("/profile") for m in found)
    near = json.loads(json.dumps(golden))
    near["claims"][firm]["near_threshold"] = True  # a verdict near threshold may differ
    near["claims"][firm]["verdict"] = moved["claims"][firm]["verdict"]
    assert not any(moved["claims"][firm]["id"] in m for m in mismatches(near, golden, {}))
