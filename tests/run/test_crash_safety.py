"""Crash safety of `reproduce`: kill -9 at random points, and a disk that fills up mid-run.

Both must leave a store that SQLite finds intact, and rerunning the same command must finish
with the numbers of an uninterrupted run (the session's smoke run, wherever both made the same
thing): every text, verdict and key equal, every number equal to float32 rounding.
(Bit-equality holds within one process history, as the sweep kill test shows; across
processes, a few models once differed in their last bits.)
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import smoke_subset

from lowcap.report.build import summarize
from lowcap.report.compare import flat_numbers, flat_others

# The crash tests run the smoke profile's training (every kill point lies in it) and the
# analyses of its models that take a second, not the whole profile: the same models under the
# same ids, so their numbers are the session's smoke run's.
CRASHED = ("capacity", "lr_grid", "pruning", "dead_neurons", "robustness", "saliency")


def _command(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "lowcap.cli", "reproduce", "--config", str(config), "--out",
            str(out), "--device", "cpu"]


def _resume(run_cli, config: Path, out: Path) -> None:
    """The same command again, to the end (its report left out: the summary is compared)."""
    code, _, err = run_cli("reproduce", "--config", str(config), "--out", str(out), "--quiet",
                           "--device", "cpu", "--no-report")
    assert code == 0, err


def _same_summary(resumed: Path, reference: Path) -> None:
    """The resumed run's summary (from its store) is the uninterrupted smoke run's wherever
    the two runs made the same thing: every section of every protocol and every claim of the
    resumed run, each text and verdict equal, each number to float rounding."""
    one = summarize(resumed)
    two = json.loads((reference / "summary.json").read_text())
    claims = {(c["protocol"], c["id"]): c for c in two["claims"]}
    assert one["claims"] and set(one["protocols"]) == set(two["protocols"])

    def matching(made: list[dict]) -> list[dict]:
        return [claims[c["protocol"], c["id"]] for c in made]

    one_cut = {"claims": one["claims"], "protocols": one["protocols"]}
    two_cut = {"claims": matching(one["claims"]),
               "protocols": {name: {key: matching(value) if key == "claims"
                                    else two["protocols"][name][key]
                                    for key, value in section.items()}
                             for name, section in one["protocols"].items()}}
    assert flat_others(one_cut) == flat_others(two_cut)
    x, y = flat_numbers(one_cut), flat_numbers(two_cut)
    assert x.keys() == y.keys() and len(x) > 100
    for key in x:
        assert x[key] == pytest.approx(y[key], rel=1e-6, abs=1e-9, nan_ok=True), key


def _store_intact(out: Path) -> bool:
    db = sqlite3.connect(out / "store" / "results.sqlite")
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


@contextlib.contextmanager
def cpu_hog(processes: int = 1):
    """Busy loops beside the test: the crash tests must hold on a loaded machine."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(processes)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _kill_after_events(command: list[str], events: int) -> bool:
    """Run `command`, SIGKILL it right after its `events`-th progress line (lines it prints
    when stderr is not a terminal); whether it was killed (False: it finished first)."""
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seen = 0
    for line in proc.stderr:
        seen += line.startswith("lowcap: ")
        if seen == events:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.stderr.close()
    proc.wait()
    return proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_reproduce_killed_at_random_points_resumes_to_identical_summary(smoke_run, tmp_path,
                                                                        run_cli):
    """Kill points are drawn among the run's own progress events, not by the clock, so the
    test means the same on an idle and on a loaded machine (the last kill happens beside a CPU
    hog; under it the run's two threads wait for each other, which makes it about four times
    slower)."""
    out = tmp_path / "run"
    config = smoke_subset(tmp_path, *CRASHED)
    rng = random.Random(9)
    kills = 0
    for attempt in range(3):  # the run's training prints 18 progress lines; kills fall in it
        with cpu_hog() if attempt == 2 else contextlib.nullcontext():
            kills += _kill_after_events(_command(config, out), rng.randint(1, 12))
        if (out / "store" / "results.sqlite").exists():
            assert _store_intact(out)
    _resume(run_cli, config, out)
    assert kills >= 2
    _same_summary(out, smoke_run)
    assert not list(out.rglob("*.tmp")), "a temporary file of an interrupted write survived"


def _limit_file_size(limit: int):
    def apply() -> None:  # runs in the child: files may not grow beyond `limit` bytes (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.slow
def test_disk_full_mid_run_is_reported_and_resumes(smoke_run, tmp_path, run_cli):
    out = tmp_path / "run"
    config = smoke_subset(tmp_path, *CRASHED)
    full = subprocess.run([*_command(config, out), "--quiet"],
                          preexec_fn=_limit_file_size(300_000), capture_output=True, text=True,
                          timeout=900)
    assert full.returncode == 1, full.stderr
    assert "cannot write" in full.stderr and "run the same command again" in full.stderr
    assert "Traceback" not in full.stderr
    assert _store_intact(out)
    assert not list(out.rglob("*.tmp"))
    _resume(run_cli, config, out)
    _same_summary(out, smoke_run)


STORE_FILLER = """
import sys
from pathlib import Path
from lowcap.errors import WriteError
from lowcap.run.store import Store

store = Store(Path(sys.argv[1]))
batch = 0
try:
    while True:
        with store.transaction() as db:
            db.executemany("INSERT INTO results VALUES ('fill', ?, '{}', 'x', 1.0)",
                           [(f"m{batch}-{i}",) for i in range(200)])
        batch += 1
except WriteError as exc:
    print(batch, exc)
"""


@pytest.mark.parametrize("limit", [200_000, 1_000_000])
def test_store_write_on_a_full_disk_keeps_every_committed_transaction(tmp_path, limit):
    path = tmp_path / "store" / "results.sqlite"
    done = subprocess.run([sys.executable, "-c", STORE_FILLER, str(path)],
                          preexec_fn=_limit_file_size(limit), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    committed, message = done.stdout.split(" ", 1)
    assert int(committed) > 0 and str(path) in message
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = db.execute("SELECT count(*) FROM results WHERE analysis = 'fill'").fetchone()[0]
    assert rows == 200 * int(committed)  # every commit whole, the failed one absent


@pytest.mark.slow
def test_stale_temporaries_of_a_killed_write_are_removed_on_the_next_run(run_copy, run_cli):
    stale = [run_copy / "figures" / ".fig1_lr_f1_corrected.png.abc123.tmp",
             run_copy / "checkpoints" / ".0123.safetensors.xyz.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    keep = [run_copy / "figures" / "notes.tmp",  # not an atomic-write temporary: left alone
            run_copy / "figures" / ".notes.txt.abc123.tmp",  # not a temporary of lowcap's
            run_copy / ".draft.md.abc123.tmp"]
    for path in keep:
        path.write_text("mine")
    # A reader (report) may run beside a writer: it never removes a temporary.
    assert run_cli("report", str(run_copy))[0] == 0
    assert all(p.exists() for p in stale)
    assert run_cli("neurons", str(run_copy), "--quiet", "--device", "cpu", "--no-report")[0] == 0
    assert not any(p.exists() for p in stale) and all(p.exists() for p in keep)
