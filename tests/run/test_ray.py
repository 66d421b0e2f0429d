"""`--executor ray`: the smoke protocol on a real local Ray instance, same numbers as local."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import smoke_subset

from lowcap.report.build import summarize
from lowcap.report.compare import flat_numbers

pytestmark = pytest.mark.slow

try:
    import ray
except ImportError:
    ray = None


def test_a_local_ray_trains_with_the_local_numbers(smoke_run, tmp_path):
    """`--executor ray` without an address starts a Ray instance on this machine (on the
    loopback address) and trains under the local run's ids (each phase one task here: the
    machine runs one task of the driver's threads at a time). The studies' own Ray tasks and
    the numbers of every compared section are held on a cluster (test_ray_cluster.py); here
    the learning-rate grid alone, to keep it short."""
    if ray is None:
        if os.environ.get("CI"):
            pytest.fail("Ray is missing: scripts/setup.sh installs lowcap[ray]")
        pytest.skip("Ray not installed (pip install 'lowcap[ray]')")
    out = tmp_path / "ray_run"
    config = smoke_subset(tmp_path, "lr_grid")
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "reproduce", "--config",
                           str(config), "--out", str(out), "--quiet", "--device", "cpu",
                           "--executor", "ray", "--no-report"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _checkpoints(out) and _checkpoints(out) <= _checkpoints(smoke_run)  # same ids
    local = json.loads((smoke_run / "summary.json").read_text())["protocols"]
    remote = summarize(out)["protocols"]
    for protocol in local:
        a, b = flat_numbers(local[protocol]["lr_grid"]), flat_numbers(remote[protocol]["lr_grid"])
        assert a.keys() == b.keys() and a
        # A lane trained alone may sum in another order than inside a bigger cohort.
        assert max(abs(a[k] - b[k]) for k in a if a[k] is not None) <= 1e-4


def test_ray_address_without_ray_executor(tmp_path, run_cli):
    code, _, err = run_cli("reproduce", "--profile", "smoke", "--out", str(tmp_path / "r"),
                           "--ray-address", "127.0.0.1:1")
    assert code == 2 and "--executor ray" in err


def test_a_ray_address_that_never_answers_times_out_with_exit_2(tmp_path, run_cli):
    import socket
    import time

    if ray is None:
        pytest.skip("Ray not installed")
    silent = socket.socket()  # accepts connections (the kernel does) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    try:
        started = time.perf_counter()
        code, _, err = run_cli("reproduce", "--profile", "smoke", "--out", str(tmp_path / "r"),
                               "--executor", "ray", "--ray-address", address,
                               "--ray-timeout", "3", "--quiet")
        assert code == 2 and "no Ray cluster answered within 3 s" in err, err
        assert time.perf_counter() - started < 60
    finally:
        silent.close()
    code, _, err = run_cli("reproduce", "--profile", "smoke", "--out", str(tmp_path / "r"),
                           "--executor", "ray", "--ray-address", "127.0.0.1:1", "--quiet")
    assert code == 2 and "nothing answers" in err
    assert not (tmp_path / "r").exists()


def _checkpoints(run: Path) -> set[str]:
    return {path.name for path in (run / "checkpoints").glob("*.safetensors")}
