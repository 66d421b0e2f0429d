"""Faults: corrupted store, checkpoint or snapshot → a clear error naming the file, exit 1/2."""

import sqlite3

import pytest

pytestmark = pytest.mark.slow


def test_corrupted_store_is_named(run_copy, run_cli):
    store = run_copy / "store" / "results.sqlite"
    for extra in run_copy.glob("store/results.sqlite-*"):
        extra.unlink()
    store.write_bytes(b"this is not a database" * 100)
    code, _, err = run_cli("report", str(run_copy))
    assert code == 1
    assert str(store) in err and "corrupted" in err


def test_corrupted_checkpoint_is_named(run_copy, run_cli):
    checkpoint = sorted((run_copy / "checkpoints").glob("*.safetensors"))[0]
    checkpoint.write_bytes(checkpoint.read_bytes()[:40])
    code, _, err = run_cli("prune", str(run_copy), "--levels", "0.42", "--quiet")
    assert code == 1
    assert "checkpoint" in err and checkpoint.name in err


def test_missing_checkpoint_is_named(run_copy, run_cli):
    db = sqlite3.connect(run_copy / "store" / "results.sqlite")
    (path,) = db.execute("SELECT checkpoint FROM models WHERE protocol = 'corrected' AND "
                         "pair = '0-1' AND hidden = 8 AND lr = 0.03 AND seed = 0").fetchone()
    db.close()
    checkpoint = run_copy / path  # a model the dead-neuron analysis (Table 1) reads
    checkpoint.unlink()
    code, _, err = run_cli("neurons", str(run_copy), "--level", "0.8", "--quiet")
    assert code == 1
    assert checkpoint.name in err and "missing" in err


def test_report_of_empty_dir_is_a_user_error(tmp_path, run_cli):
    code, _, err = run_cli("report", str(tmp_path))
    assert code == 2
    assert "no results store" in err
