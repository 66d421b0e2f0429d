"""Shared fixtures: the real MNIST (fetched by scripts/setup.sh) and small helpers."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

# Ray in the tests (a local Ray, a simulated cluster, and the lowcap processes they start)
# resolves "this node" to the loopback address, not the machine's network address: its
# traffic never leaves the machine. Read when Ray is first imported.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from lowcap.cli.main import main
from lowcap.data import ImageBank, TaskSplit, load_mnist, make_split

TESTS = Path(__file__).resolve().parent  # tests/: golden/, paper_code/, references.py
ROOT = TESTS.parent  # the repository


@pytest.fixture(scope="session")
def mnist():
    return load_mnist(progress=False).mnist


@pytest.fixture(scope="session")
def bank(mnist):
    return ImageBank.from_mnist(mnist)


def small_split(mnist, pair, seed, n_train) -> TaskSplit:
    """A real split with its training part cut to `n_train` images (fast tests)."""
    split = make_split(mnist.train_labels, mnist.test_labels, pair, seed)
    return dataclasses.replace(split, train_idx=split.train_idx[:n_train],
                               train_y=split.train_y[:n_train])


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run `lowcap ARGS...` in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["lowcap", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """A finished `lowcap reproduce --profile smoke` run directory, made once and shared by
    every test of the session and by every pytest-xdist worker (read it only: a test that
    changes a run takes `run_copy`)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the workers' folders share a parent
        shared = shared.parent
    out = shared / "smoke" / "run"
    with FileLock(shared / "smoke.lock"):
        if not (out / "summary.json").exists():
            done = subprocess.run([sys.executable, "-m", "lowcap.cli", "reproduce", "--profile",
                                   "smoke", "--out", str(out), "--quiet", "--device", "cpu"],
                                  capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, done.stderr
    return out


def smoke_subset(folder: Path, *studies: str) -> Path:
    """A config file in `folder`: the smoke profile (same models, same ids) with only the
    named studies' sections, for a test that needs just their numbers."""
    from lowcap.studies.registry import studies as registry

    smoke = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    dropped = {study.name for study in registry()} - set(studies)
    path = folder / "smoke-subset.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in smoke.items() if k not in dropped},
                                   sort_keys=False))
    return path


@pytest.fixture
def run_copy(smoke_run, tmp_path):
    """A private copy of the smoke run, for tests that modify or break it."""
    copy = tmp_path / "run"
    shutil.copytree(smoke_run, copy)
    return copy
