"""End to end: `lowcap reproduce --profile smoke`, report rebuilding, and kill -9 resumption."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from conftest import flat_numbers, flat_others
from safetensors.torch import load_file

pytestmark = pytest.mark.slow


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


def test_report_rebuilds_identical_summary(smoke_run, run_cli):
    before = (smoke_run / "summary.json").read_text()
    (smoke_run / "summary.json").unlink()
    (smoke_run / "report.html").unlink()
    code, _, err = run_cli("report", str(smoke_run))
    assert code == 0, err
    assert (smoke_run / "summary.json").read_text() == before
    assert "<img" in (smoke_run / "report.html").read_text()



def test_library_report_renders_in_process_to_the_same_files(run_copy):
    from lowcap.report.build import build_report

    summary = (run_copy / "summary.json").read_text()
    figures = {p.name: p.read_bytes() for p in (run_copy / "figures").glob("*.png")}
    for path in (run_copy / "figures").iterdir():
        path.unlink()
    build_report(run_copy)  # no worker processes: safe from any script
    assert (run_copy / "summary.json").read_text() == summary
    assert {p.name: p.read_bytes() for p in (run_copy / "figures").glob("*.png")} == figures

def test_rerun_skips_finished_work(smoke_run, run_cli):
    mtimes = {p: p.stat().st_mtime_ns for p in (smoke_run / "checkpoints").iterdir()}
    code, _, err = run_cli("reproduce", "--profile", "smoke", "--out", str(smoke_run),
                           "--quiet", "--device", "cpu")
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in (smoke_run / "checkpoints").iterdir()} == mtimes


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
        assert described in (out / "report.html").read_text()

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
        "profile": "killtest", "epochs": 12, "snapshot_every": 1,
        "protocols": {"corrected": {"seeds": [0, 1]}},
        "sweep": {"pairs": [[4, 9], [1, 7]], "widths": [4, 16, 32], "learning_rates": [0.03]},
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
        if progress >= 3:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    assert not (killed / "summary.json").exists()
    subprocess.run([*cmd, str(killed)], check=True, timeout=600)
    clean = tmp_path / "clean"
    subprocess.run([*cmd, str(clean)], check=True, timeout=600)
    resumed_epochs, resumed_models, resumed_weights = _dump_store(killed)
    clean_epochs, clean_models, clean_weights = _dump_store(clean)
    assert len(clean_epochs) == 12 * 12
    assert resumed_epochs == clean_epochs
    assert resumed_models == clean_models
    assert resumed_weights == clean_weights
    assert json.loads((killed / "summary.json").read_text())["protocols"] == \
        json.loads((clean / "summary.json").read_text())["protocols"]


GOLDEN = Path(__file__).parent / "golden" / "smoke_summary.json"


def _without_digits(value):
    """Texts compared without their digits: a claim's evidence prints numbers that the
    number comparison already covers, to a tolerance."""
    return re.sub(r"\d", "#", value) if isinstance(value, str) else value


def test_smoke_summary_equals_the_golden_summary(smoke_run):
    """The summary of a smoke run equals the one stored in tests/golden (made by the smoke
    profile before the studies moved into the registry): every key, every verdict, every
    number to float tolerance. A change that moves a number must update the golden file on
    purpose (`lowcap reproduce --profile smoke`, then copy summary.json without `seconds`)."""
    golden = json.loads(GOLDEN.read_text())
    summary = json.loads((smoke_run / "summary.json").read_text())
    summary.pop("seconds")
    golden_numbers, numbers = flat_numbers(golden), flat_numbers(summary)
    assert set(numbers) == set(golden_numbers)
    for key, value in golden_numbers.items():
        assert numbers[key] == pytest.approx(value, rel=1e-5, abs=1e-7, nan_ok=True), key
    others = {k: _without_digits(v) for k, v in flat_others(summary).items()}
    assert others == {k: _without_digits(v) for k, v in flat_others(golden).items()}
    assert [c["verdict"] for c in summary["claims"]] == [c["verdict"] for c in golden["claims"]]
