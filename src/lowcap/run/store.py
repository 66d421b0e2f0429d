"""The results store: one SQLite database per run directory (`store/results.sqlite`).

Why SQLite: it ships with Python (no extra dependency), every write is an ACID transaction (a
killed process leaves the last committed state, never a torn file), and it is queryable with
plain SQL from any tool. Each unit of work commits its rows and its progress marker together.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lowcap.atomic import write_error
from lowcap.errors import StoreError, UserInputError
from lowcap.run.checkpoints import FileRecord
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
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL);
"""


# SQLite result codes (sqlite3 exceptions carry them as `sqlite_errorcode`).
_PERMISSION_CODES = {3, 8, 14, 23}  # PERM, READONLY, CANTOPEN, AUTH
_DAMAGE_CODES = {11, 26}  # CORRUPT, NOTADB


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that creates no file. A writer in WAL mode keeps the `-wal` and
    `-shm` files beside the database while it is connected; where neither exists no writer
    is, and the database is read as immutable (an ordinary read-only connection would make
    its WAL index there). Where they exist, the reader shares them. In a folder nobody may
    write to, the database is read as immutable too, which is safe since no writer can
    exist."""
    if not any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm")):
        return sqlite3.connect(f"file:{path}?immutable=1", uri=True, isolation_level=None)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        if os.access(path.parent, os.W_OK):
            raise
    return sqlite3.connect(f"file:{path}?immutable=1", uri=True, isolation_level=None)


class Store:
    """A thin, explicit layer over the run's SQLite database.

    A writer (`read_only=False`) creates the database if needed; a reader opens it read-only,
    never changes it and never waits for a writer (WAL mode)."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = path
        # Read caches, cleared by every write.
        self._results: dict[str, list[dict[str, Any]]] = {}
        self._files: dict[str, FileRecord] | None = None
        if read_only and not path.exists():
            raise UserInputError(f"{path}: no results store here (run `lowcap reproduce` "
                                 "first)")
        if read_only and path.stat().st_size == 0:
            raise StoreError(f"{path}: the results store is empty (a run killed before its "
                             "first commit); run `lowcap reproduce --out DIR` to start it again")
        try:
            if read_only:
                self.db = _connect_read_only(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(path, isolation_level=None)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
                self.db.executescript(_SCHEMA)
            version = self.get_meta("schema_version")
            if version is None and not read_only:
                self.set_meta("schema_version", SCHEMA_VERSION)
            elif version != SCHEMA_VERSION:
                raise StoreError(f"{path}: store schema {version}, this lowcap reads "
                                 f"{SCHEMA_VERSION}")
        except OSError as exc:
            raise UserInputError(f"{path.parent}: cannot create the store ({exc.strerror})"
                                 ) from exc
        except sqlite3.Error as exc:
            raise self._error(exc, "cannot be opened") from exc

    @staticmethod
    def is_lowcap_store(path: Path) -> bool:
        """Whether `path` is a SQLite database with lowcap's schema marker (read-only look)."""
        try:
            db = _connect_read_only(path)
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                 ).fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return False
        return row is not None

    def _error(self, exc: sqlite3.Error, doing: str) -> Exception:
        """The lowcap error for a failed SQLite call: permissions are the user's to fix (exit
        2), damage and anything else name the store (exit 1)."""
        code = getattr(exc, "sqlite_errorcode", None)
        if code in _PERMISSION_CODES:
            return UserInputError(f"{self.path}: the results store {doing}: {exc}; check the "
                                  "folder's permissions")
        if code in _DAMAGE_CODES or "malformed" in str(exc) or "not a database" in str(exc):
            return StoreError(f"{self.path}: the results store is corrupted ({exc}); move the "
                              "run folder aside and start a new run, or rerun with --fresh")
        return StoreError(f"{self.path}: the results store {doing} ({exc})")

    def close(self) -> None:
        self.db.close()

    def _decode(self, text: str, what: str) -> Any:
        """A stored JSON value; StoreError naming the store where damage garbled it."""
        try:
            return json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise StoreError(f"{self.path}: the results store is corrupted ({what} is not "
                             f"valid JSON: {exc}); move the run folder aside and start a new "
                             "run, or rerun with --fresh") from exc

    def check_integrity(self) -> None:
        """StoreError naming the store if SQLite finds any damage (a quick, full scan)."""
        problem = self.query("PRAGMA quick_check")[0]
        if next(iter(problem.values())) != "ok":
            raise StoreError(f"{self.path}: the results store is corrupted "
                             f"({next(iter(problem.values()))}); move the run folder aside and "
                             "start a new run, or rerun with --fresh")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Everything inside commits together or not at all; a failed write (disk full) is a
        `WriteError` naming the store, with nothing of the transaction kept."""
        self._results.clear()
        self._files = None
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if getattr(exc, "sqlite_errorcode", None) in _PERMISSION_CODES | _DAMAGE_CODES:
                raise self._error(exc, "refused the write") from exc
            raise write_error(self.path, f"the store refused the write ({exc})") from exc

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run a read query; rows are dicts by column name."""
        try:
            cursor = self.db.execute(sql, tuple(params))
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.Error as exc:
            raise self._error(exc, "could not be read") from exc

    # --- metadata ------------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return self._decode(rows[0]["value"], f"meta {key}") if rows else None

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

    def checkpoints(self) -> dict[str, str]:
        """model_id → its checkpoint's path (relative to the run folder), for every model."""
        return {r["model_id"]: r["checkpoint"]
                for r in self.query("SELECT model_id, checkpoint FROM models")}

    def unit(self, unit_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM units WHERE unit_id = ?", (unit_id,))
        return rows[0] if rows else None

    def models(self, model_ids: list[str]) -> dict[str, dict[str, Any]]:
        """model_id → its row (stored plan decoded into 'spec'), for the ids that are stored."""
        rows = self._rows_in("SELECT * FROM models WHERE model_id IN ({marks})", model_ids)
        for row in rows:
            row["spec"] = self._decode(row["spec"], "a model's plan")
        return {r["model_id"]: r for r in rows}

    def all_models(self) -> list[dict[str, Any]]:
        """Every stored model's row (stored plan decoded into 'spec'), by model id."""
        rows = self.query("SELECT * FROM models ORDER BY model_id")
        for row in rows:
            row["spec"] = self._decode(row["spec"], "a model's plan")
        return rows

    def all_epochs(self) -> list[dict[str, Any]]:
        """Every stored epoch row, by model id and epoch."""
        return self.query("SELECT * FROM epochs ORDER BY model_id, epoch")

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
                row["params"] = self._decode(row["params"], "a result's parameters")
            self._results[analysis] = rows
        return self._results[analysis]

    # --- files the store vouches for ----------------------------------------------------------

    def file_records(self) -> dict[str, FileRecord]:
        """Run-relative path → the size and sha256 recorded when lowcap wrote the file (stores
        of older lowcaps have none). Shared: do not modify."""
        if self._files is None:
            exists = self.query("SELECT name FROM sqlite_master WHERE name = 'files'")
            self._files = {r["path"]: FileRecord(r["bytes"], r["sha256"])
                           for r in (self.query("SELECT * FROM files") if exists else [])}
        return self._files

    def record_file(self, path: str, record: FileRecord) -> None:
        """Keep the size and sha256 of a file lowcap wrote (`path` relative to the run), so
        that whatever resumes from it can check it is still that file."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                       (path, record.bytes, record.sha256))

    def forget_models(self, model_ids: list[str]) -> None:
        """Drop models (and their checkpoints' records) so that the next run trains them
        again; their per-epoch rows are replaced when it does."""
        with self.transaction() as db:
            for model_id in model_ids:
                row = db.execute("SELECT checkpoint FROM models WHERE model_id = ?",
                                 (model_id,)).fetchone()
                db.execute("DELETE FROM models WHERE model_id = ?", (model_id,))
                if row is not None:
                    db.execute("DELETE FROM files WHERE path = ?", (row[0],))

    def artefact(self, name: str) -> Path:
        """Where a study keeps an array file of its own (embeddings, maps) beside the
        database: `store/<name>.safetensors`."""
        return self.path.parent / f"{name}.safetensors"

    def commit_epochs(self, rows: list[tuple], unit_id: str, epoch_done: int,
                      snapshot: str, record: FileRecord) -> None:
        """Epoch metric rows and a training unit's progress (its snapshot file and that file's
        record, against which a resume checks it), together; the previous snapshot's record
        goes."""
        marks = ",".join("?" * (2 + len(METRIC_NAMES)))
        with self.transaction() as db:
            previous = db.execute("SELECT snapshot FROM units WHERE unit_id = ?",
                                  (unit_id,)).fetchone()
            if previous is not None and previous[0] and previous[0] != snapshot:
                db.execute("DELETE FROM files WHERE path = ?", (previous[0],))
            db.executemany(f"INSERT OR REPLACE INTO epochs VALUES ({marks})", rows)
            db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                       (snapshot, record.bytes, record.sha256))
            db.execute("INSERT OR REPLACE INTO units VALUES (?, ?, ?, 0)",
                       (unit_id, epoch_done, snapshot))

    def commit_models(self, unit_id: str, models: list[tuple], files: list[tuple],
                      epoch_rows: list[tuple] = ()) -> None:
        """Trained models (with their checkpoints' file records and any epoch rows) and the
        unit's done-marker, together."""
        marks = ",".join("?" * (2 + len(METRIC_NAMES)))
        with self.transaction() as db:
            db.executemany(f"INSERT OR REPLACE INTO epochs VALUES ({marks})", epoch_rows)
            db.executemany("INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           models)
            db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", files)
            db.execute("DELETE FROM files WHERE path = (SELECT snapshot FROM units WHERE "
                       "unit_id = ?)", (unit_id,))
            db.execute("INSERT OR REPLACE INTO units VALUES (?, -1, NULL, 1)", (unit_id,))

    def commit_results(self, analysis: str, unit_id: str, rows: list[tuple]) -> None:
        """An analysis unit's rows (model id, params JSON, metric, value) and its
        done-marker, together."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                           [(analysis, *row) for row in rows])
            db.execute("INSERT OR REPLACE INTO units VALUES (?, 0, NULL, 1)", (unit_id,))


def sql_float(value: float) -> float | None:
    """A metric as the store keeps it: NULL for NaN and ±inf."""
    return None if not math.isfinite(value) else float(value)
