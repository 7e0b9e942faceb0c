"""FTS5's bm25 for a handful of rows, computed here instead of by FTS5.

Sorting by classifier score breaks ties by text relevance. FTS5's ``bm25()`` is computed for
every row a MATCH returns (and its statistics take a full pass over each term's postings
per statement), so asking it about the 30 rows tied at the top of a 400,000-match search
costs half a second. The formula is small; this module evaluates it for just the tied rows,
from their stored tokens, with FTS5's own statistics and constants, and gives the same
values as ``bm25(items_fts, *weights)``.
"""

from __future__ import annotations

import math
import sqlite3

K1, B = 1.2, 0.75  # FTS5's constants


def _varints(blob: bytes) -> list[int]:
    """SQLite's big-endian varints (7 bits a byte, the 9th byte whole)."""
    out, i = [], 0
    while i < len(blob):
        value = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def table_stats(conn: sqlite3.Connection, table: str) -> tuple[int, float]:
    """(rows, average tokens per row) of an FTS5 table, from its "averages" record."""
    row = conn.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
    values = _varints(row[0]) if row and row[0] else []
    if not values or not values[0]:
        return 0, 1.0
    return values[0], max(sum(values[1:]) / values[0], 1e-9)


def bm25(conn: sqlite3.Connection, table: str, terms: list[str], rowids: list[int],
         weights: tuple[float, ...]) -> dict[int, float]:
    """rowid → bm25 (lower is more relevant, as in FTS5) of rows matching every term."""
    n_rows, avg_len = table_stats(conn, table)
    idf = {}
    for term in terms:
        hits = conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?",
                            ('"' + term.replace('"', '""') + '"',)).fetchone()[0]
        value = math.log((n_rows - hits + 0.5) / (hits + 0.5))
        idf[term] = value if value > 0 else 1e-6  # FTS5 floors a very common term's idf
    ncols = len(weights)
    cols = ", ".join(f"c{i}" for i in range(ncols))
    marks = ",".join("?" * len(rowids))
    out = {}
    for row in conn.execute(f"SELECT id, {cols} FROM {table}_content WHERE id IN ({marks})", rowids):
        columns = [(row[i + 1] or "").split() for i in range(ncols)]
        length = sum(len(c) for c in columns)
        norm = K1 * (1 - B + B * length / avg_len)
        score = 0.0
        for term in terms:
            # As FTS5 does: a term's frequency is its occurrences weighted by column.
            freq = sum(weight * tokens.count(term) for weight, tokens in zip(weights, columns))
            score += idf[term] * freq * (K1 + 1) / (freq + norm)
        out[row[0]] = -score
    return out
