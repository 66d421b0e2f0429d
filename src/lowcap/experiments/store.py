"""The results store: one SQLite database per run directory (`store/results.sqlite`).

Why SQLite: it ships with Python (no extra dependency), every write is an ACID transaction (a
killed process leaves the last committed state, never a torn file), and it is queryable with
plain SQL from any tool. Each unit of work commits its rows and its progress marker together.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lowcap.atomic import write_error
from lowcap.errors import StoreError, UserInputError
from lowcap.training.trainer import METRIC_NAMES

SCHEMA_VERSION = 1
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    model_id TEXT PRIMARY KEY, protocol TEXT NOT NULL, pair TEXT NOT NULL,
    hidden INTEGER NOT NULL, lr REAL NOT NULL, seed INTEGER NOT NULL, spec TEXT NOT NULL,
    diverged_epoch INTEGER, checkpoint TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS epochs (
    model_id TEXT NOT NULL, epoch INTEGER NOT NULL,
    {", ".join(f"{name} REAL" for name in METRIC_NAMES)},
    PRIMARY KEY (model_id, epoch));
CREATE TABLE IF NOT EXISTS units (
    unit_id TEXT PRIMARY KEY, epoch_done INTEGER NOT NULL, snapshot TEXT, done INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS timings (phase TEXT PRIMARY KEY, seconds REAL NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    analysis TEXT NOT NULL, model_id TEXT NOT NULL, params TEXT NOT NULL,
    metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (analysis, model_id, params, metric));
"""


class Store:
    """A thin, explicit layer over the run's SQLite database."""

    def __init__(self, path: Path, create: bool = True):
        self.path = path
        self._results: dict[str, list[dict[str, Any]]] = {}  # read cache, cleared by writes
        if not create and not path.exists():
            raise UserInputError(f"{path}: no results store here (run `lowcap reproduce` "
                                 "first)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            version = self.get_meta("schema_version")
            if version is None:
                self.set_meta("schema_version", SCHEMA_VERSION)
            elif version != SCHEMA_VERSION:
                raise StoreError(f"{path}: store schema {version}, this lowcap reads "
                                 f"{SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: results store is unreadable or corrupted ({exc})") from exc

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything inside commits together or not at all; a failed write (disk full) is a
        `WriteError` naming the store, with nothing of the transaction kept."""
        self._results.clear()
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise write_error(self.path, f"the store refused the write ({exc})") from exc

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run a read query; rows support access by column name."""
        try:
            cursor = self.db.execute(sql, tuple(params))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: query failed ({exc})") from exc
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # --- metadata ------------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def set_timing(self, phase: str, seconds: float) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO timings VALUES (?, ?)", (phase, seconds))

    def timings(self) -> dict[str, float]:
        return {r["phase"]: r["seconds"] for r in self.query("SELECT * FROM timings")}

    # --- trained models ------------------------------------------------------------------------

    def _rows_in(self, sql: str, ids: list[str]) -> list[dict[str, Any]]:
        """Run `sql` (with one `{marks}` placeholder list) over `ids` in chunks."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += self.query(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    def done_models(self, model_ids: Iterable[str]) -> set[str]:
        """Which of these models are fully trained and checkpointed."""
        rows = self._rows_in("SELECT model_id FROM models WHERE model_id IN ({marks})",
                             list(model_ids))
        return {r["model_id"] for r in rows}

    def unit(self, unit_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM units WHERE unit_id = ?", (unit_id,))
        return rows[0] if rows else None

    def models(self, model_ids: list[str]) -> dict[str, dict[str, Any]]:
        """model_id → its row (stored plan decoded into 'spec'), for the ids that are stored."""
        rows = self._rows_in("SELECT * FROM models WHERE model_id IN ({marks})", model_ids)
        for row in rows:
            row["spec"] = json.loads(row["spec"])
        return {r["model_id"]: r for r in rows}

    def epoch_metrics(self, model_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """model_id → its per-epoch metric rows, ordered by epoch."""
        out: dict[str, list[dict[str, Any]]] = {m: [] for m in model_ids}
        for row in self._rows_in("SELECT * FROM epochs WHERE model_id IN ({marks}) "
                                 "ORDER BY model_id, epoch", model_ids):
            out[row["model_id"]].append(row)
        return out

    # --- analysis results ----------------------------------------------------------------------

    def results(self, analysis: str) -> list[dict[str, Any]]:
        """Rows (model_id, params dict, metric, value) of one analysis, in key order (whatever
        order they were written in, e.g. by Ray tasks finishing). Shared: do not modify."""
        if analysis not in self._results:  # the report reads each analysis per protocol
            rows = self.query("SELECT model_id, params, metric, value FROM results "
                              "WHERE analysis = ? ORDER BY model_id, params, metric", (analysis,))
            for row in rows:
                row["params"] = json.loads(row["params"])
            self._results[analysis] = rows
        return self._results[analysis]
