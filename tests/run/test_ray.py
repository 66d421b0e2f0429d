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


def test_smoke_on_ray_matches_local(smoke_run, tmp_path):
    if ray is None:
        if os.environ.get("CI"):
            pytest.fail("Ray is missing: scripts/setup.sh installs lowcap[ray]")
        pytest.skip("Ray not installed (pip install 'lowcap[ray]')")
    out = tmp_path / "ray_run"
    config = smoke_subset(tmp_path, "capacity", "lr_grid", "pruning", "dead_neurons",
                          "robustness", "saliency", "sensitivity", "narrow")
    done = subprocess.run([sys.executable, "-m", "lowcap.cli", "reproduce", "--config",
                           str(config), "--out", str(out), "--quiet", "--device", "cpu",
                           "--executor", "ray", "--no-report"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    local_summary = json.loads((smoke_run / "summary.json").read_text())
    remote_summary = summarize(out)
    # The narrow-network study ran as one Ray task per (dataset, width, method): same numbers.
    assert remote_summary["narrow"] == local_summary["narrow"]
    local, remote = local_summary["protocols"], remote_summary["protocols"]
    # The sensitivity study measured its models as one Ray task per split (its variant models
    # were trained remotely, so again to rounding).
    a, b = flat_numbers(local_summary["sensitivity"]), flat_numbers(remote_summary["sensitivity"])
    assert a.keys() == b.keys() and len(a) > 10
    assert max(abs(a[k] - b[k]) for k in a if a[k] is not None) <= 1e-3
    # Every model was trained remotely, one Ray task per lane, under the local run's ids.
    assert _checkpoints(out) and _checkpoints(out) <= _checkpoints(smoke_run)
    # Training-derived numbers agree to float rounding (a lane trained alone may sum in another
    # order than inside a bigger cohort); saliency rank statistics get a looser bound.
    for protocol in local:
        for key in ("capacity", "lr_grid", "pruning", "dead_neurons", "robustness", "saliency"):
            a, b = flat_numbers(local[protocol][key]), flat_numbers(remote[protocol][key])
            assert a.keys() == b.keys()
            tolerance = 2e-3 if key == "saliency" else 1e-4
            worst = max((abs(a[k] - b[k]) for k in a if a[k] is not None), default=0.0)
            assert worst <= tolerance, (protocol, key, worst)


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
