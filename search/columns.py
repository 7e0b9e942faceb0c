"""The fields that filters, facets and sorting read, for every SQLite item, as numpy arrays.

Facet counts over all matches are what make SQLite slow on a large store: a word found in
150,000 of a million items costs 150,000 row look-ups per facet, hundreds of milliseconds,
whatever the indexes. Here each field is an array indexed by rowid (site, source, status and
day as small integer codes, one boolean array per category), so filtering, counting and
picking the top of a sort over any number of matches take a few milliseconds of numpy.

The arrays follow the database through ``items.seq``: every write gives the rows it touches
a new, higher seq, and :meth:`ItemColumns.refresh` reads just the rows above the last seq
it saw — cheap when another process (the crawler) writes while this one (the web UI) reads.
The first load reads every row once (about a second per million items).
"""

from __future__ import annotations

import sqlite3
import threading

import numpy as np

CODED = ("site", "source", "status", "day")


def csv_ints(csv: str | None, dtype=np.int64) -> np.ndarray:
    """Numbers from a comma-separated ``group_concat``: one parse instead of a row per number."""
    if not csv:
        return np.zeros(0, dtype=dtype)
    return np.fromstring(csv, dtype=dtype, sep=",")


class _Codes:
    """Small integer codes for the values of one text field (code 0 is "")."""

    def __init__(self):
        self.values: list[str] = [""]
        self.index: dict[str, int] = {"": 0}

    def code(self, value: str | None) -> int:
        value = value or ""
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code


class ItemColumns:
    """In-memory columns of one SQLite store; share one per store, it locks itself."""

    def __init__(self):
        self.lock = threading.RLock()
        self.seq = 0
        self.size = 0
        self.codes = {name: _Codes() for name in CODED}
        self.present = np.zeros(0, dtype=bool)
        self.flagged = np.zeros(0, dtype=bool)
        self.score = np.zeros(0, dtype=np.float64)
        self.fetched = np.zeros(0, dtype=np.int64)
        self.last_seen = np.zeros(0, dtype=np.int64)
        self.coded = {name: np.zeros(0, dtype=np.int32) for name in CODED}
        self.labels: dict[str, np.ndarray] = {}

    def _grow(self, top_rowid: int) -> None:
        if top_rowid < self.size:
            return
        size = max(top_rowid + 1, int(self.size * 1.5), 1024)

        def grown(arr: np.ndarray) -> np.ndarray:
            out = np.zeros(size, dtype=arr.dtype)
            out[: len(arr)] = arr
            return out

        self.present, self.flagged = grown(self.present), grown(self.flagged)
        self.score, self.fetched, self.last_seen = grown(self.score), grown(self.fetched), grown(self.last_seen)
        self.coded = {name: grown(arr) for name, arr in self.coded.items()}
        self.labels = {name: grown(arr) for name, arr in self.labels.items()}
        self.size = size

    def label(self, category: str) -> np.ndarray:
        """The boolean column of one category (all False for a category never seen)."""
        arr = self.labels.get(category)
        if arr is None:
            arr = self.labels[category] = np.zeros(self.size, dtype=bool)
        return arr

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Catch up with rows written since the last refresh; call inside a read transaction
        so the rows and the seq they are read up to come from one snapshot."""
        with self.lock:
            top = conn.execute("SELECT max(seq) FROM items").fetchone()[0] or 0
            if top <= self.seq:
                return
            if self.seq == 0:
                self._load_all(conn)
            else:
                cols = "rowid, flagged, score, site, source, status, day, fetched_ms, last_seen_ms"
                rows = conn.execute(f"SELECT {cols} FROM items WHERE seq > ? AND seq <= ?",
                                    (self.seq, top)).fetchall()
                labels = conn.execute(
                    "SELECT l.item, l.category FROM items i JOIN item_labels l ON l.item = i.rowid"
                    " WHERE i.seq > ? AND i.seq <= ?", (self.seq, top)).fetchall()
                if rows:
                    self._apply(rows, labels)
            self.seq = top

    def _load_all(self, conn: sqlite3.Connection) -> None:
        """Read every row, one column at a time: SQLite concatenates a column in C and numpy
        parses it, ~10x faster than a million Python row tuples."""
        # (SQL column, attribute, dtype); attributes by name, since _grow replaces the arrays.
        numeric = (("flagged", "flagged", np.int64), ("score", "score", np.float64),
                   ("fetched_ms", "fetched", np.int64), ("last_seen_ms", "last_seen", np.int64))
        # One statement, so every list follows the same row order; coalesce keeps NULLs in line.
        lists = conn.execute("SELECT group_concat(rowid), " + ", ".join(
            f"group_concat(coalesce({name}, 0))" for name, _, _ in numeric) + " FROM items").fetchone()
        rowids = csv_ints(lists[0])
        if not len(rowids):
            return
        self._grow(int(rowids.max()))
        self.present[rowids] = True
        for (_, attr, dtype), csv in zip(numeric, lists[1:]):
            getattr(self, attr)[rowids] = csv_ints(csv, dtype)
        for name in CODED:
            codes = self.coded[name]
            for value, csv in conn.execute(f"SELECT {name}, group_concat(rowid) FROM items GROUP BY {name}"):
                codes[csv_ints(csv)] = self.codes[name].code(value)
        for category, csv in conn.execute("SELECT category, group_concat(item) FROM item_labels GROUP BY category"):
            self.label(category)[csv_ints(csv)] = True

    def _apply(self, rows: list[tuple], labels: list[tuple]) -> None:
        rowid, flagged, score, site, source, status, day, fetched, last_seen = zip(*rows)
        ids = np.fromiter(rowid, dtype=np.int64, count=len(rows))
        self._grow(int(ids.max()))
        self.present[ids] = True
        self.flagged[ids] = np.fromiter(flagged, dtype=bool, count=len(rows))
        self.score[ids] = np.fromiter(score, dtype=np.float64, count=len(rows))
        self.fetched[ids] = np.fromiter(fetched, dtype=np.int64, count=len(rows))
        self.last_seen[ids] = np.fromiter(last_seen, dtype=np.int64, count=len(rows))
        for name, values in zip(CODED, (site, source, status, day)):
            code = self.codes[name].code
            self.coded[name][ids] = np.fromiter((code(v) for v in values), dtype=np.int32, count=len(rows))
        for arr in self.labels.values():
            arr[ids] = False  # labels of re-written rows are replaced, not added to
        by_label: dict[str, list[int]] = {}
        for item, category in labels:
            by_label.setdefault(category, []).append(item)
        for category, items in by_label.items():
            self.label(category)[np.asarray(items, dtype=np.int64)] = True

    def all_rows(self) -> np.ndarray:
        """Rowids of every item."""
        return np.flatnonzero(self.present)

    def known(self, rowids: np.ndarray) -> np.ndarray:
        """The given rowids that these columns hold (a concurrent write may be newer)."""
        rowids = rowids[rowids < self.size]
        return rowids[self.present[rowids]]

    def value_code(self, name: str, value: str) -> int:
        """The code of a value of a coded field, or -1 if no item has it."""
        return self.codes[name].index.get(value, -1)

    def counts(self, name: str, rowids: np.ndarray) -> dict[str, int]:
        """Value → count of a coded field over ``rowids`` (values with count 0 left out)."""
        values = self.codes[name].values
        counted = np.bincount(self.coded[name][rowids], minlength=len(values))
        return {values[c]: int(counted[c]) for c in np.flatnonzero(counted) if c}  # code 0: no value

    def label_counts(self, rowids: np.ndarray) -> dict[str, int]:
        """Category → number of ``rowids`` carrying it."""
        out = {}
        for category, arr in self.labels.items():
            n = int(np.count_nonzero(arr[rowids]))
            if n:
                out[category] = n
        return out
