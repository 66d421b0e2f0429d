"""The `lowcap` console script: a figure worker started by `spawn` imports the parent's main
script again, so the script's own import must load nothing heavy."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

HEAVY = ("torch", "sklearn", "scipy", "matplotlib", "lowcap.cli.main")


def test_the_console_script_imports_nothing_heavy():
    (entry,) = entry_points(group="console_scripts", name="lowcap")  # as installed
    module, _, function = entry.value.partition(":")
    assert (module, function) == ("lowcap.cli", "main")
    script = Path(sys.executable).parent / "lowcap"  # as pip wrote it for the entry point
    assert f"from {module} import {function}" in script.read_text()
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; "
         f"print([m for m in {HEAVY!r} if m in sys.modules])"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
