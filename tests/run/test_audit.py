"""The second audit's cases (issue "every promise kept under faults and odd input"): each case
and the class it stands for, as its own test. Every command either does its work, or exits 2
with one line and nothing written, or exits 1 with one line naming the file and a log; Ctrl-C
exits 130 and SIGTERM 143 with one line each; nothing outside what lowcap made is written or
deleted, and a resumed run never starts from an artefact that is not its own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file, save_file

import lowcap
from lowcap.run.run_folder import MARKER

pytestmark = pytest.mark.slow

TINY = {"profile": "tiny", "epochs": 1, "widths": [2], "protocols": {"corrected": {"seeds": [0]}},
        "capacity": {"pairs": [[0, 1]]}}
LOWCAP = [sys.executable, "-m", "lowcap.cli"]


def _config(folder: Path, name: str = "tiny.yaml", **changes) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return path


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished one-model run (two epochs, so that a snapshot and checkpoint exist)."""
    folder = tmp_path_factory.mktemp("tiny")
    done = subprocess.run([*LOWCAP, "sweep", str(_config(folder, epochs=2)), "--out",
                           str(folder / "run"), "--quiet", "--device", "cpu"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return folder / "run"


@pytest.fixture
def tiny_copy(tiny_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    return copy


# --- 1 and 10: symbolic links inside a run folder

def test_a_marker_that_is_a_link_to_a_user_file_is_not_a_run_and_is_never_written(tmp_path,
                                                                                   run_cli):
    user = tmp_path / "v.txt"
    user.write_text("data")
    out = tmp_path / "R"
    out.mkdir()
    (out / MARKER).symlink_to(user)
    code, _, err = run_cli("sweep", str(_config(tmp_path)), "--out", str(out), "--quiet")
    assert code == 2, err
    assert user.read_text() == "data" and sorted(p.name for p in out.iterdir()) == [MARKER]


@pytest.mark.parametrize("place", ["figures", "store", "checkpoints", "summary.json",
                                   "report.html", MARKER])
def test_no_writer_writes_through_a_link_where_lowcap_keeps_its_files(tiny_copy, tmp_path,
                                                                      run_cli, place):
    """The class of cases 1 and 10: a link planted where lowcap writes (folders, files, the
    marker) makes every writer (report, an analysis, a rerun) exit 2 and leaves the link's
    target as it was."""
    target = tmp_path / "user"
    original = tiny_copy / place
    if original.is_dir():
        shutil.copytree(original, target)
        shutil.rmtree(original)
        before = {p.name: p.read_bytes() for p in target.iterdir()}
    else:
        shutil.copy(original, target)
        original.unlink()
        before = target.read_bytes()
    original.symlink_to(target)
    for args in (["report", str(tiny_copy)],
                 ["neurons", str(tiny_copy), "--quiet", "--device", "cpu"],
                 ["sweep", str(tiny_copy / "config.yaml"), "--out", str(tiny_copy), "--quiet"]):
        code, _, err = run_cli(*args)
        assert code == 2 and "symbolic link" in _one_line(err), (args, err)
    after = ({p.name: p.read_bytes() for p in target.iterdir()} if target.is_dir()
             else target.read_bytes())
    assert after == before and original.is_symlink()


def test_an_atomic_write_never_replaces_a_link(tmp_path):
    from lowcap.atomic import atomic_write_text
    from lowcap.errors import UserInputError

    target = tmp_path / "mine.txt"
    target.write_text("mine")
    link = tmp_path / "summary.json"
    link.symlink_to(target)
    with pytest.raises(UserInputError, match="symbolic link"):
        atomic_write_text(link, "{}")
    assert link.is_symlink() and target.read_text() == "mine"


# --- 2 and 11: signals

def _start_long_sweep(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    config = _config(tmp_path, "long.yaml", epochs=300, snapshot_every=1)
    out = tmp_path / "R"
    proc = subprocess.Popen([*LOWCAP, "sweep", str(config), "--out", str(out), "--device",
                             "cpu"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    for line in proc.stderr:  # training has begun: its first progress line
        if line.startswith("lowcap: capacity"):
            break
    return proc, out


@pytest.mark.parametrize(("signum", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                      (signal.SIGTERM, 143, "terminated")])
def test_a_signal_ends_in_one_line_its_code_and_a_run_that_resumes(tmp_path, signum, code,
                                                                   word):
    proc, out = _start_long_sweep(tmp_path)
    time.sleep(1.0)
    proc.send_signal(signum)
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if not line.startswith("lowcap: ")]
    assert lines == [f"{word}: run the same command again to resume"], err
    assert not list(out.rglob("*.tmp"))
    # The lock was released: the next writer is not refused.
    assert lowcap.open_run(out) is not None
    db = sqlite3.connect(out / "store" / "results.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# --- 3 and 4: snapshots are verified before a resume

SIX = {"epochs": 6, "snapshot_every": 1, "widths": [4],
       "protocols": {"corrected": {"seeds": [0], "train_size": 512}}}


@pytest.fixture(scope="module")
def six_epochs(tmp_path_factory) -> tuple[Path, dict[str, bytes], Path]:
    """A six-epoch config, the checkpoints of its uninterrupted run, and a final checkpoint of
    another config (other width and learning rate)."""
    folder = tmp_path_factory.mktemp("six")
    config = _config(folder, "six.yaml", **SIX)
    clean, other = folder / "clean", folder / "other"
    runs = [subprocess.Popen([*LOWCAP, "sweep", str(cfg), "--out", str(out), "--quiet",
                              "--device", "cpu", "--no-report"], stderr=subprocess.PIPE)
            for cfg, out in ((config, clean), (_config(folder, "other.yaml", lr=0.5), other))]
    for run in runs:  # side by side: each is mostly its start-up
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    weights = {p.name: p.read_bytes() for p in (clean / "checkpoints").iterdir()}
    return config, weights, next((other / "checkpoints").glob("*.safetensors"))


@pytest.fixture(scope="module")
def killed_six(six_epochs, tmp_path_factory) -> tuple[Path, str]:
    """The six-epoch run killed after its third snapshot, and the snapshot the store names
    (each test takes a copy)."""
    out = tmp_path_factory.mktemp("killed") / "R"
    proc = subprocess.Popen([*LOWCAP, "sweep", str(six_epochs[0]), "--out", str(out),
                             "--device", "cpu"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in proc.stderr:
        if line.strip().endswith("3/6 epochs"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    db = sqlite3.connect(out / "store" / "results.sqlite")
    snapshot, = db.execute("SELECT snapshot FROM units WHERE done = 0").fetchone()
    db.close()
    return out, snapshot


@pytest.mark.parametrize("replacement", ["another model's weights", "a final checkpoint",
                                         "a checkpoint, in a store without file records"])
def test_a_snapshot_that_is_not_the_units_own_is_dropped_and_the_unit_retrained(
        tmp_path, six_epochs, killed_six, replacement):
    """Cases 3 and 4: a snapshot replaced by another model's state (same shapes), or by a
    final checkpoint (other shapes), is refused by its recorded sha256, or by its header
    where the store has no record (older lowcaps): the run warns, trains the unit from the
    start, and ends with the weights of an uninterrupted run."""
    config, clean, other = six_epochs
    out = tmp_path / "R"
    shutil.copytree(killed_six[0], out)
    snapshot = killed_six[1]
    path = out / snapshot
    if replacement == "another model's weights":
        state = load_file(path)
        save_file({k: v * 1.5 if v.is_floating_point() else v for k, v in state.items()},
                  path, metadata={"unit": "other", "epoch": "3"})
    else:
        shutil.copy(other, path)
        if "without file records" in replacement:
            db = sqlite3.connect(out / "store" / "results.sqlite")
            db.execute("DELETE FROM files WHERE path = ?", (snapshot,))
            db.commit()
            db.close()
    done = subprocess.run([*LOWCAP, "sweep", str(config), "--out", str(out), "--quiet",
                           "--device", "cpu", "--no-report"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "training 1 models of capacity from the start" in done.stderr
    assert {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()} == clean


# --- 5: splits that cannot be made

@pytest.mark.parametrize("change", [{"train_size": 1}, {"val_fraction": 0.00001},
                                    {"val_fraction": 0.99999},
                                    {"train_size": 1, "dataset": "digits", "depth": 3}])
def test_a_split_that_cannot_hold_both_classes_exits_2_before_anything_is_written(
        tmp_path, run_cli, change):
    protocol = {"seeds": [0], **change}
    config = _config(tmp_path, protocols={"corrected": protocol})
    out = tmp_path / "R"
    code, _, err = run_cli("sweep", str(config), "--out", str(out), "--quiet", "--device", "cpu")
    assert code == 2, err
    assert "both classes" in _one_line(err) or "one class" in err
    assert not out.exists()


# --- 6 and 12: one strict parser for every numeric option

@pytest.mark.parametrize("command", [["robustness", "--widths"], ["cnn-baseline", "--channels"],
                                     ["sensitivity", "--widths"], ["tickets", "--widths"],
                                     ["sensitivity-scale", "--depths"], ["ablate", "--widths"],
                                     ["tsne", "--hidden"], ["narrow", "--steps"]])
def test_whole_number_options_refuse_anything_but_whole_numbers(tiny_copy, run_cli, command):
    before = (tiny_copy / "store" / "results.sqlite").read_bytes()
    for value in ("nan", "inf", "1e400", "8.9", "-inf", "1e3"):
        code, _, err = run_cli(command[0], str(tiny_copy), command[1], value, "--quiet")
        assert code == 2 and value in _one_line(err), (value, err)
    assert (tiny_copy / "store" / "results.sqlite").read_bytes() == before


@pytest.mark.parametrize(("args", "value"), [(["robustness", "{run}", "--sigmas"], "nan"),
                                             (["prune", "{run}", "--levels"], "0.5,inf"),
                                             (["saliency", "{run}", "--epsilon"], "nan"),
                                             (["neurons", "{run}", "--level"], "inf"),
                                             (["reproduce", "--ray-timeout"], "nan"),
                                             (["reproduce", "--ray-timeout"], "inf"),
                                             (["reproduce", "--ray-timeout"], "1e400")])
def test_number_options_refuse_nan_and_infinity(tiny_copy, run_cli, args, value):
    args = [str(tiny_copy) if a == "{run}" else a for a in args]
    code, _, err = run_cli(*args, value, "--quiet")
    assert code == 2, err
    assert "finite" in _one_line(err) or "number" in err


def test_the_strict_parser():
    from lowcap.errors import UserInputError
    from lowcap.parsing import parse_number

    assert parse_number("8", int) == 8 and parse_number(" -3 ", int) == -3
    assert parse_number("1e-3") == 0.001
    for text, kind in (("8.9", int), ("8.0", int), ("1e3", int), ("nan", float),
                       ("inf", float), ("1e400", float), ("", int), ("0x10", int)):
        with pytest.raises(UserInputError):
            parse_number(text, kind)


# --- 7: child processes die with their parent

def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
def test_the_reports_figure_workers_die_with_it_even_on_kill_9(run_copy):
    (run_copy / "figures" / "rendered.json").unlink()  # every figure is drawn: workers start
    proc = subprocess.Popen([*LOWCAP, "report", str(run_copy)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    workers: set[int] = set()
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert len(workers) >= 2, "the report ended before its workers could be seen"
    time.sleep(0.5)  # past the workers' start-up
    workers = _children(proc.pid) | workers
    proc.kill()
    proc.wait()
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)


# --- 8 and 16: the run's config is the store's

def test_an_edited_config_yaml_is_refused_by_analyses_naming_the_field(tiny_copy, run_cli):
    path = tiny_copy / "config.yaml"
    path.write_text(path.read_text().replace("epochs: 2", "epochs: 3"))
    summary = (tiny_copy / "summary.json").read_text()
    code, _, err = run_cli("prune", str(tiny_copy), "--quiet", "--device", "cpu")
    assert code == 2 and "epochs: 3 (run: 2)" in _one_line(err), err
    assert (tiny_copy / "summary.json").read_text() == summary
    # The report follows the store, whatever config.yaml says.
    assert run_cli("report", str(tiny_copy))[0] == 0
    assert json.loads((tiny_copy / "summary.json").read_text())["capacity"]


def test_a_damaged_config_in_the_store_is_a_store_error_with_a_log(tiny_copy, run_cli):
    db = sqlite3.connect(tiny_copy / "store" / "results.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps({"epochs": -1}),))
    db.commit()
    db.close()
    code, _, err = run_cli("report", str(tiny_copy))
    line = _one_line(err)
    assert code == 1 and "store holds is damaged" in line and "details in" in line, err


# --- 9: the report is a writer

HOLDER = """
import sys, time
from pathlib import Path
from lowcap.run.run_folder import RunLock
lock = RunLock(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(300)
"""


def test_report_waits_for_no_one_and_is_refused_while_a_writer_works(tiny_copy, run_cli):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tiny_copy)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        report = (tiny_copy / "report.html").read_bytes()
        code, _, err = run_cli("report", str(tiny_copy))
        assert code == 2 and f"pid {holder.pid}" in _one_line(err)
        assert (tiny_copy / "report.html").read_bytes() == report
    finally:
        holder.kill()
        holder.wait()


# --- 13, 14, 19, 20: config files of every shape

def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    return path


def test_a_value_nested_5000_levels_deep_exits_2(tmp_path, run_cli):
    config = _yaml(tmp_path, "epochs: " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = run_cli("sweep", str(config), "--out", str(tmp_path / "R"))
    assert code == 2 and "nested" in _one_line(err)


def test_a_yaml_alias_bomb_exits_2_at_once(tmp_path, run_cli):
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    started = time.perf_counter()
    code, _, err = run_cli("sweep", str(_yaml(tmp_path, "\n".join(lines))), "--out",
                           str(tmp_path / "R"))
    assert code == 2 and "aliases" in _one_line(err)
    assert time.perf_counter() - started < 30


def test_a_35_mb_config_exits_2_without_reading_it(tmp_path, run_cli):
    config = _yaml(tmp_path, "epochs: 1\n" + "# padding\n" * 3_500_000)
    code, _, err = run_cli("sweep", str(config), "--out", str(tmp_path / "R"))
    assert code == 2 and "bytes" in _one_line(err)


def test_a_config_that_is_a_fifo_exits_2_without_blocking(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    done = subprocess.run([*LOWCAP, "sweep", str(fifo), "--out", str(tmp_path / "R")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "not a regular file" in _one_line(done.stderr)


def test_yaml_merge_keys_are_valid_config(tmp_path, run_cli):
    config = _yaml(tmp_path, "profile: merged\nepochs: 1\nwidths: [2]\nprotocols:\n"
                             "  corrected: &base {seeds: [0], batch_size: 256}\n"
                             "  reference: {<<: *base, seeds: [1]}\n"
                             "capacity: {pairs: [[0, 1]]}\n")
    code, out, err = run_cli("config", str(config))
    assert code == 0, err
    protocols = {p["name"]: p for p in yaml.safe_load(out)["protocols"]}
    assert protocols["reference"]["seeds"] == [1]
    assert protocols["reference"]["batch_size"] == 256  # merged from the anchor
    duplicate = _yaml(tmp_path, "epochs: 1\nepochs: 2\n")  # a key twice is still an error
    assert run_cli("config", str(duplicate))[0] == 2


# --- 15: a reader creates nothing

def test_open_run_creates_no_file(tiny_copy):
    before = sorted(p.relative_to(tiny_copy) for p in tiny_copy.rglob("*"))
    run = lowcap.open_run(tiny_copy)
    assert len(run.models()) == 1
    assert sorted(p.relative_to(tiny_copy) for p in tiny_copy.rglob("*")) == before


# --- 17 and 18: the data command and a bare `lowcap`

def test_data_with_a_file_as_cache_folder_exits_2_before_any_source(tmp_path, run_cli):
    file = tmp_path / "file"
    file.write_text("x")
    code, _, err = run_cli("data", "--cache-dir", str(file), "--no-download")
    assert code == 2 and "is a file" in _one_line(err)


def test_bare_lowcap_prints_its_help_and_no_matplotlib_warning(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("x")  # a home folder that cannot exist: nothing may be written there
    done = subprocess.run([*LOWCAP], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(blocked / "home"),
                               "MPLCONFIGDIR": "", "XDG_CONFIG_HOME": "",
                               "XDG_CACHE_HOME": ""})
    assert done.returncode == 2
    assert done.stderr.startswith("Usage: lowcap") and "\\n" not in done.stderr
    assert "Commands:" in done.stderr and "reproduce" in done.stderr
    assert "atplotlib" not in done.stderr
