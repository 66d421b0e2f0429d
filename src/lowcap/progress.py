"""Progress of long work on stderr: a tqdm bar on a terminal, plain lines elsewhere.

When stderr is not a terminal (a log file, CI, a pipe), a bar's carriage returns make a mess,
so each piece of work prints `lowcap: <what>: <done>/<total> <unit>` at most eleven times (at
the start and after each tenth), one full line each: readable in a log, and a deterministic
sequence of events that the crash tests kill the process at.
"""

from __future__ import annotations

import sys
from typing import Protocol

from tqdm import tqdm


class Progress(Protocol):
    """What the rest of lowcap uses of a progress bar."""

    def update(self, n: int = 1) -> object: ...
    def close(self) -> None: ...


class _Lines:
    def __init__(self, total: int, desc: str, unit: str, initial: int):
        self.total, self.desc, self.unit, self.done = max(total, 1), desc, unit, initial
        self._tenth = -1
        self._print()

    def _print(self) -> None:
        tenth = 10 * self.done // self.total
        if tenth > self._tenth:
            self._tenth = tenth
            print(f"lowcap: {self.desc}: {self.done}/{self.total} {self.unit}", file=sys.stderr,
                  flush=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        self._print()

    def close(self) -> None:
        """Nothing to tidy: every line is already complete."""


class _Silent:
    def update(self, n: int = 1) -> None:
        """Quiet: nothing shown."""

    def close(self) -> None:
        """Quiet: nothing shown."""


def progress(total: int, desc: str, quiet: bool, unit: str = "step", initial: int = 0
             ) -> Progress:
    """A progress display for `total` units of work, `initial` of them already done."""
    if quiet:
        return _Silent()
    if sys.stderr.isatty():
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False)
    return _Lines(total, desc, unit, initial)
