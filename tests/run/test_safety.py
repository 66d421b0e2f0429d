"""lowcap never deletes or overwrites what it did not write, and one writer at a time.

Files are planted next to and inside folders that are not lowcap runs, and every path that can
delete (--fresh, the clean-up of a killed run's temporaries, a snapshot named by the store) is
tried against them.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lowcap.errors import UserInputError
from lowcap.run.run_folder import (
    MARKER,
    clear_run,
    is_run_folder,
    owned_path,
    remove_stale_temporaries,
)

TINY = {"profile": "tiny", "epochs": 1, "widths": [2], "protocols": {"corrected": {"seeds": [0]}},
        "capacity": {"pairs": [[0, 1]]}}


def _plant(folder: Path) -> dict[Path, bytes]:
    """User files that look like lowcap's, at the top and in folders named like lowcap's."""
    files = {
        folder / "notes.txt": b"mine",
        folder / "config.yaml": b"my: config",
        folder / "summary.json": b"{}",
        folder / "store" / "results.sqlite": b"my database",
        folder / "store" / "weights.safetensors": b"mine",
        folder / "checkpoints" / "model.safetensors": b"mine",
        folder / "figures" / "plot.png": b"mine",
        folder / "figures" / ".plot.png.abc12345.tmp": b"mine",
        folder / "deep" / "data.csv": b"1,2",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def _intact(files: dict[Path, bytes]) -> bool:
    return all(path.is_file() and path.read_bytes() == data for path, data in files.items())


def _tiny_config(tmp_path: Path, **changes) -> Path:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, **changes}))
    return config


def test_no_command_deletes_or_writes_in_a_folder_lowcap_did_not_make(tmp_path, run_cli):
    folder = tmp_path / "mine"
    files = _plant(folder)
    neighbour = _plant(tmp_path / "beside")
    config = _tiny_config(tmp_path)
    attempts = [
        ["reproduce", "--profile", "smoke", "--out", str(folder), "--fresh", "--quiet"],
        ["reproduce", "--profile", "smoke", "--out", str(folder), "--quiet"],
        ["sweep", str(config), "--out", str(folder), "--fresh", "--quiet"],
        ["sweep", str(config), "--out", str(folder / "deep"), "--fresh", "--quiet"],
        ["report", str(folder)],
        ["prune", str(folder), "--quiet"],
        ["neurons", str(folder), "--quiet"],
        ["sensitivity", str(folder), "--quiet"],
    ]
    for args in attempts:
        code, _, err = run_cli(*args)
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert _intact(files) and _intact(neighbour), args
        assert not (folder / MARKER).exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        {p.relative_to(folder).parts[0] for p in files})


def test_fresh_refuses_root_home_and_the_current_folder(tmp_path, run_cli, monkeypatch):
    home = tmp_path / "home"
    files = _plant(home)
    (home / MARKER).write_text("")  # even a folder that looks like a run
    monkeypatch.setenv("HOME", str(home))
    config = _tiny_config(tmp_path)
    for out in ("/", str(home), "~"):
        code, _, err = run_cli("sweep", str(config), "--out", out, "--fresh", "--quiet")
        assert code == 2, (out, err)
    monkeypatch.chdir(home / "deep")
    for out in (".", "..", str(home / "deep")):
        code, _, err = run_cli("sweep", str(config), "--out", out, "--fresh", "--quiet")
        assert code == 2 and "refusing" in err, (out, err)
    assert _intact(files)


@pytest.mark.slow
def test_fresh_removes_only_what_lowcap_wrote(tmp_path, run_cli):
    out = tmp_path / "run"
    config = _tiny_config(tmp_path)
    assert run_cli("sweep", str(config), "--out", str(out), "--quiet")[0] == 0
    assert is_run_folder(out)
    mine = {out / "notes.txt": b"mine", out / "figures" / "annotated.pdf": b"mine",
            out / "store" / "analysis.csv": b"mine", out / "extra" / "x.png": b"mine"}
    for path, data in mine.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    old_checkpoints = {p.name for p in (out / "checkpoints").iterdir()}
    (out / "checkpoints" / "stale.safetensors").write_bytes(b"lowcap's")
    code, _, err = run_cli("sweep", str(config), "--out", str(out), "--fresh", "--quiet")
    assert code == 0, err
    assert _intact(mine)
    assert {p.name for p in (out / "checkpoints").iterdir()} == old_checkpoints  # rewritten


def test_clear_run_and_temporaries_touch_only_lowcap_files(tmp_path):
    out = tmp_path / "run"
    files = _plant(out)
    (out / MARKER).write_text("")
    ours = [out / "report.html", out / "figures" / "fig3_capacity_corrected.svg",
            out / "store" / "results.sqlite-wal", out / "checkpoints" / "unit-1-e0001.safetensors"]
    # Inside a run folder, names that lowcap gives its files are taken as lowcap's (the
    # planted figures/.plot.png.abc12345.tmp among them); everything else is the user's.
    temporaries = [out / "figures" / ".fig3_capacity_corrected.png.k2j4h5g6.tmp",
                   out / ".summary.json.aaaaaaaa.tmp", out / "figures" / ".plot.png.abc12345.tmp"]
    for path in ours + temporaries:
        path.write_bytes(b"lowcap's")
    assert remove_stale_temporaries(out) == 3
    assert not any(p.exists() for p in temporaries) and all(p.exists() for p in ours)
    user = {p: d for p, d in files.items() if p.parent.name not in ("store", "checkpoints")
            and p.name not in ("config.yaml", "summary.json", "plot.png")
            and not p.name.endswith(".tmp")}
    assert set(user) == {out / "notes.txt", out / "deep" / "data.csv"}
    clear_run(out)
    assert _intact(user) and not any(p.exists() for p in ours) and (out / MARKER).exists()


@pytest.mark.parametrize("relative", ["../x.safetensors", "/etc/passwd", "notes.txt",
                                      "checkpoints/../../x.safetensors", "deep/a/b.png"])
def test_the_store_cannot_aim_a_deletion_outside_lowcap_files(tmp_path, relative):
    with pytest.raises(UserInputError):
        owned_path(tmp_path, relative)


HOLDER = """
import sys, time
from pathlib import Path
from lowcap.run.run_folder import RunLock
lock = RunLock(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_a_second_writer_exits_2_naming_the_holder_and_readers_go_on(run_copy, run_cli):
    import lowcap

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_copy)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = (run_copy / "store" / "results.sqlite").read_bytes()
        started = time.perf_counter()
        code, _, err = run_cli("prune", str(run_copy), "--levels", "0.3", "--quiet")
        assert code == 2 and f"pid {holder.pid}" in err, err
        assert time.perf_counter() - started < 30  # at once, not after waiting for the lock
        code, _, err = run_cli("reproduce", "--profile", "smoke", "--out", str(run_copy),
                               "--quiet", "--fresh")
        assert code == 2 and f"pid {holder.pid}" in err, err
        assert (run_copy / "store" / "results.sqlite").read_bytes() == before
        # `report` rewrites the report: a writer too, refused rather than racing the holder.
        code, _, err = run_cli("report", str(run_copy))
        assert code == 2 and f"pid {holder.pid}" in err, err
        assert len(lowcap.open_run(run_copy).models()) > 0  # a reader never waits
    finally:
        holder.kill()
        holder.wait()
    assert run_cli("neurons", str(run_copy), "--quiet", "--device", "cpu")[0] == 0


def _locked(marker: Path) -> bool:
    if not marker.exists():
        return False
    with open(marker, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


@pytest.mark.slow
def test_two_reproduce_processes_on_one_folder(tmp_path, run_cli):
    out = tmp_path / "run"
    args = ["reproduce", "--profile", "smoke", "--out", str(out), "--quiet", "--device", "cpu"]
    first = subprocess.Popen([sys.executable, "-m", "lowcap.cli", *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not _locked(out / MARKER) and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert _locked(out / MARKER), "the first run never took the lock"
        code, _, err = run_cli(*args)  # the second: this process
        assert code == 2
        assert f"pid {first.pid}" in err and "Traceback" not in err
    finally:
        first.kill()
        first.wait()


def test_output_paths_that_cannot_hold_a_run(tmp_path, run_cli):
    config = _tiny_config(tmp_path)
    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    cases = {str(a_file): "a file", str(a_file / "run"): "cannot be created",
             str(tmp_path / "nul\0byte"): "NUL"}
    for out, reason in cases.items():
        code, _, err = run_cli("sweep", str(config), "--out", out, "--quiet")
        assert code == 2 and reason in err, (out, err)
    assert a_file.read_text() == "mine"


def test_an_unwritable_run_folder_is_named_as_such(run_copy, run_cli, monkeypatch):
    # Tests run as root, for whom permission bits do not apply: deny writing the usual way.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        not (mode & os.W_OK and Path(path) == run_copy)) and real_access(path, mode, **kw))
    code, _, err = run_cli("report", str(run_copy))
    assert code == 2 and "not writable" in err and "corrupted" not in err
    code, _, err = run_cli("neurons", str(run_copy), "--quiet")
    assert code == 2 and "not writable" in err
