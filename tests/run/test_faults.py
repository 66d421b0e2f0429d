"""Faults: corrupted store, checkpoint or snapshot → a clear error naming the file, exit 1/2."""

import sqlite3
from pathlib import Path

import pytest

from lowcap.run.run_folder import STORE_FILE
from lowcap.run.rundir import damaged_checkpoints
from lowcap.run.store import Store

pytestmark = pytest.mark.slow


def test_corrupted_store_is_named(run_copy, run_cli):
    store = run_copy / "store" / "results.sqlite"
    for extra in run_copy.glob("store/results.sqlite-*"):
        extra.unlink()
    store.write_bytes(b"this is not a database" * 100)
    code, _, err = run_cli("report", str(run_copy))
    assert code == 1
    assert str(store) in err and "corrupted" in err


def capacity_checkpoint(run) -> Path:
    """A capacity-sweep model's checkpoint: every analysis reads it."""
    db = sqlite3.connect(run / "store" / "results.sqlite")
    (path,) = db.execute("SELECT checkpoint FROM models WHERE protocol = 'corrected' AND "
                         "pair = '0-1' AND hidden = 8 AND lr = 0.03 AND seed = 0").fetchone()
    db.close()
    return run / path


def test_corrupted_checkpoint_is_named(run_copy, run_cli):
    checkpoint = capacity_checkpoint(run_copy)
    checkpoint.write_bytes(checkpoint.read_bytes()[:40])
    code, _, err = run_cli("prune", str(run_copy), "--levels", "0.42", "--quiet")
    assert code == 1
    assert "checkpoint" in err and checkpoint.name in err


def test_missing_checkpoint_is_named(run_copy, run_cli):
    checkpoint = capacity_checkpoint(run_copy)  # a model Table 1 (dead neurons) reads
    checkpoint.unlink()
    code, _, err = run_cli("neurons", str(run_copy), "--level", "0.8", "--quiet")
    assert code == 1
    assert checkpoint.name in err and "missing" in err


def test_report_of_empty_dir_is_a_user_error(tmp_path, run_cli):
    code, _, err = run_cli("report", str(tmp_path))
    assert code == 2
    assert "not a run directory" in err


def _one_line_without_traceback(err: str) -> bool:
    lines = [line for line in err.strip().splitlines() if not line.startswith("WARNING")]
    return len(lines) == 1 and "Traceback" not in err


def test_empty_store_file_is_named_and_a_rerun_starts_again(run_copy, run_cli):
    store = run_copy / "store" / "results.sqlite"
    for extra in run_copy.glob("store/results.sqlite-*"):
        extra.unlink()
    store.write_bytes(b"")  # killed between creating the file and its first commit
    code, _, err = run_cli("report", str(run_copy))
    assert code == 1 and str(store) in err and "empty" in err
    assert _one_line_without_traceback(err)


def test_damaged_store_pages_are_named_not_a_traceback(run_copy, run_cli):
    store = run_copy / "store" / "results.sqlite"
    run_cli("report", str(run_copy))  # (a checkpointed WAL: every page in the main file)
    for extra in run_copy.glob("store/results.sqlite-*"):
        extra.unlink()
    data = bytearray(store.read_bytes())
    page = 4096
    data[3 * page: len(data) - page] = bytes(len(data) - 4 * page)  # zero every page but edges
    store.write_bytes(bytes(data))
    for args in (["report", str(run_copy)], ["prune", str(run_copy), "--quiet"],
                 ["reproduce", "--profile", "smoke", "--out", str(run_copy), "--quiet"]):
        code, _, err = run_cli(*args)
        assert code == 1, (args, err)
        assert str(store) in err and "corrupted" in err and _one_line_without_traceback(err)


def test_truncated_checkpoint_is_named_by_report_and_retrained_by_reproduce(run_copy, run_cli,
                                                                          caplog):
    import json

    checkpoint = sorted((run_copy / "checkpoints").glob("*.safetensors"))[0]
    original = checkpoint.read_bytes()
    checkpoint.write_bytes(original[:-100])
    code, _, _ = run_cli("report", str(run_copy))  # warnings are logged (stderr in the CLI)
    assert code == 0 and checkpoint.name in caplog.text and "lowcap reproduce" in caplog.text
    summary = json.loads((run_copy / "summary.json").read_text())
    caplog.clear()
    code, _, err = run_cli("reproduce", "--profile", "smoke", "--out", str(run_copy), "--quiet",
                           "--device", "cpu")
    assert code == 0, err
    assert checkpoint.name in caplog.text  # named as it is dropped for retraining
    assert len(checkpoint.read_bytes()) == len(original)  # trained again, same shape
    store = Store(run_copy / STORE_FILE, read_only=True)  # what the report checks first
    assert damaged_checkpoints(store, run_copy) == {}
    store.close()
    assert json.loads((run_copy / "summary.json").read_text())["claims"] == summary["claims"]


def test_analysis_of_a_folder_holding_only_a_config(tmp_path, run_cli):
    (tmp_path / "config.yaml").write_text("profile: x\n")
    for command in ("neurons", "prune", "tsne", "report"):
        code, _, err = run_cli(command, str(tmp_path))
        assert code == 2 and "not a run directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_report_rebuilds_offline_without_any_mnist(run_copy):
    import os
    import subprocess
    import sys

    # Every figure is built again (its fingerprint is its content); the ones made of MNIST
    # images are drawn again too.
    (run_copy / "report.html").unlink()
    for figure in (run_copy / "figures").glob("figD1_corruption_examples.*"):
        figure.unlink()
    empty_cache = run_copy.parent / "empty-cache"
    env = {**os.environ, "LOWCAP_CACHE_DIR": str(empty_cache), "PIP_NO_INDEX": "1",
           "PIP_INDEX_URL": "http://127.0.0.1:9/"}
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "report", str(run_copy)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert (run_copy / "figures" / "figD1_corruption_examples.png").exists()
    assert not empty_cache.exists()  # no MNIST source was even tried


# NaN cells are reported as missing, without NumPy's "mean of empty slice" on the way.
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_learning_rate_that_diverges_every_model_is_reported(tmp_path, run_cli):
    import json

    import yaml

    config = tmp_path / "diverge.yaml"
    config.write_text(yaml.safe_dump({
        # float64 (the reference protocol) needs a few epochs to overflow, float32 one
        "profile": "diverge", "epochs": 5, "widths": [2, 4], "lr": 1e38,
        "protocols": {"corrected": {"seeds": [0]}, "reference": {"seeds": [0]}},
        "capacity": {"pairs": [[4, 9]]}, "lr_grid": {"pair": [4, 9], "learning_rates": [1e38]},
        "pruning": {"levels": [0.5]}, "dead_neurons": {"models": [[4, 9, 4]]},
        "tsne": {"pair": [4, 9], "hidden": 4, "max_points": 100, "embeddings": 1},
        "robustness": {"pair": [4, 9], "widths": [2, 4], "sigmas": [0.0, 0.3],
                       "mnist_c": ["stripe"], "mnist_c_parity": ["stripe"], "severities": [1]},
        "saliency": {"pair": [4, 9], "hidden": 4, "max_images": 10}}))
    out = tmp_path / "run"
    code, _, err = run_cli("sweep", str(config), "--out", str(out), "--quiet", "--device", "cpu")
    assert code == 0, err
    text = (out / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert summary["capacity"]["4-9"]["f1_mean"] == {"2": None, "4": None}
    assert all(c["verdict"] != "holds" for c in summary["claims"])
    assert run_cli("report", str(out))[0] == 0
    assert (out / "summary.json").read_text() == text
