"""The embedded store, the real default: one SQLite file with an FTS5 index (``data/reprowatch.db``).

Tables (schema version in ``PRAGMA user_version``):

- ``items``: one row per item; indexed columns for what is filtered and sorted (site, source,
  status, flagged, score, fetched_at, first_seen, last_seen, day), JSON columns for the rest
  (labels, hits, contacts, evidence, history, previous_hashes, and ``extra`` for any field the
  contract does not name), ``fetched_ms``/``last_seen_ms`` as epoch milliseconds, and ``seq``,
  raised on every write so in-memory columns can catch up (see ``columns.py``).
- ``item_labels (item, category)`` and ``item_contacts (value, item)``: the category facet and
  the contact filter (``item`` is ``items.rowid``).
- ``items_fts``: FTS5 over the jieba tokens of title and text (``tokenize.py``), split again by
  ``unicode61`` on the spaces; its rowid is the item's rowid.
- ``runs``: crawl-run records.
- ``custody``: the append-only, hash-chained custody log (``evidence/custody.py``), created on
  first use; triggers refuse UPDATE and DELETE, and the hash chain exposes whoever drops them.

The file is in WAL mode, so the web UI reads while a crawler writes. Each thread gets its own
connection; writes are transactions (``BEGIN IMMEDIATE``) that other processes wait for.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import facets as facet_order
from . import relevance
from .columns import ItemColumns, csv_ints
from .highlight import snippet
from .items import (contact_kind, contact_values, day_of, merge, now_iso, prepare, since_prefix,
                     time_bounds, to_ms)
from .store import (FACETS, NotFoundError, Query, SearchResult, Store, StoreError, UpsertResult,
                    review_change)
from .tokenize import TokenPool, document_tokens, query_tokens

SCHEMA_VERSION = 1
DEFAULT_PATH = "data/reprowatch.db"
BM25_WEIGHTS = (2.0, 1.0)  # a word in the title counts double
# Stays well under SQLite's bound-parameter limit when ids go into an IN (...) list.
_IN_CHUNK = 500
# Items per write transaction in bulk_upsert: big enough to amortise the commit, small
# enough that tokenising the next chunk overlaps writing this one.
WRITE_CHUNK = 2000

SCHEMA = """
CREATE TABLE items (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    url TEXT, source TEXT, site TEXT, title TEXT, text TEXT, published TEXT,
    labels TEXT, score REAL, flagged INTEGER, hits TEXT, contacts TEXT, status TEXT,
    fetched_at TEXT, first_seen TEXT, last_seen TEXT, day TEXT,
    content_hash TEXT, previous_hashes TEXT, cluster TEXT, evidence TEXT, history TEXT, extra TEXT,
    fetched_ms INTEGER, last_seen_ms INTEGER, seq INTEGER NOT NULL
);
-- Covers what columns.py loads, so a cold load scans this narrow index, not the wide rows.
CREATE INDEX items_seq ON items (seq, flagged, score, fetched_ms, last_seen_ms);
CREATE INDEX items_flagged_last_seen ON items (flagged, last_seen);
CREATE INDEX items_flagged_score ON items (flagged, score);
CREATE INDEX items_site ON items (site, flagged);
CREATE INDEX items_source ON items (source, flagged);
CREATE INDEX items_status ON items (status, flagged);
CREATE INDEX items_day ON items (day, flagged);
CREATE INDEX items_fetched_at ON items (fetched_at);
CREATE INDEX items_first_seen ON items (first_seen);
CREATE TABLE item_labels (
    item INTEGER NOT NULL, category TEXT NOT NULL, PRIMARY KEY (item, category)
) WITHOUT ROWID;
CREATE INDEX item_labels_category ON item_labels (category);
CREATE TABLE item_contacts (
    value TEXT NOT NULL, item INTEGER NOT NULL, PRIMARY KEY (value, item)
) WITHOUT ROWID;
CREATE INDEX item_contacts_item ON item_contacts (item);
CREATE VIRTUAL TABLE items_fts USING fts5 (title, body, tokenize = 'unicode61');
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, source TEXT, started TEXT, finished TEXT, doc TEXT NOT NULL
);
CREATE INDEX runs_started ON runs (started);
CREATE INDEX runs_source_started ON runs (source, started);
"""

CUSTODY_SCHEMA = """
CREATE TABLE IF NOT EXISTS custody (seq INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS custody_no_update BEFORE UPDATE ON custody
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS custody_no_delete BEFORE DELETE ON custody
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
"""

_JSON = ("labels", "hits", "contacts", "previous_hashes", "evidence", "history")
_EMPTY = {"labels": list, "hits": list, "contacts": dict, "previous_hashes": list, "evidence": dict, "history": list}
_PLAIN = ("id", "url", "source", "site", "title", "text", "published", "score", "status",
          "fetched_at", "first_seen", "last_seen", "content_hash", "cluster")
_STORED = ("id", "url", "source", "site", "title", "text", "published", "labels", "score",
           "flagged", "hits", "contacts", "status", "fetched_at", "first_seen", "last_seen",
           "day", "content_hash", "previous_hashes", "cluster", "evidence", "history", "extra",
           "fetched_ms", "last_seen_ms", "seq")
_KNOWN = set(_PLAIN) | set(_JSON) | {"flagged"}


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _row_values(item: dict, seq: int) -> tuple:
    """An item as the values of ``_STORED``, in order."""
    extra = {k: v for k, v in item.items() if k not in _KNOWN}
    return (item["id"], item["url"], item["source"], item["site"], item["title"], item["text"],
            item["published"], _dumps(item["labels"]), item["score"], int(item["flagged"]),
            _dumps(item["hits"]), _dumps(item["contacts"]), item["status"], item["fetched_at"],
            item["first_seen"], item["last_seen"], day_of(item["fetched_at"]),
            item["content_hash"], _dumps(item["previous_hashes"]), item["cluster"],
            _dumps(item["evidence"]), _dumps(item["history"]), _dumps(extra) if extra else None,
            to_ms(item["fetched_at"]), to_ms(item["last_seen"]), seq)


def _item(row: sqlite3.Row) -> dict:
    """A stored row back as a contract item."""
    item = {name: row[name] for name in _PLAIN}
    for name in _JSON:
        item[name] = json.loads(row[name]) if row[name] else _EMPTY[name]()
    item["flagged"] = bool(row["flagged"])
    if row["extra"]:
        item.update(json.loads(row["extra"]))
    return item


def fts_query(tokens: list[str]) -> str:
    """An FTS5 MATCH expression requiring every token (each quoted: no operators from users)."""
    return " ".join('"' + t.replace('"', '""') + '"' for t in tokens)


class SQLiteStore(Store):
    """The store in one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path = DEFAULT_PATH):
        self.path = Path(path)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self.columns = ItemColumns()
        self._matches = _MatchCache()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the folder of SQLite store {self.path}: {e.strerror}") from None
        self._conn()  # open now, so a bad path or file is reported at open, not at first use

    # -- connections -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = None
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across app crashes
            conn.execute("PRAGMA cache_size = -65536")
            conn.execute("PRAGMA mmap_size = 1073741824")
            conn.execute("PRAGMA temp_store = MEMORY")
            self._ensure_schema(conn)
            self._ensure_web_indexes(conn)
            return conn
        except sqlite3.Error as e:
            if conn is not None:
                conn.close()
            raise StoreError(self._open_message(e)) from None

    def _open_message(self, e: sqlite3.Error) -> str:
        text = str(e)
        if "not a database" in text or "malformed" in text:
            return f"{self.path} is not a reprowatch SQLite store (corrupt, or another kind of file): {text}"
        if "unable to open" in text or "readonly" in text or "read-only" in text:
            return f"cannot open SQLite store {self.path} for writing (check the path and its permissions): {text}"
        return f"cannot open SQLite store {self.path}: {text}"

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}, newer than this reprowatch "
                             f"understands ({SCHEMA_VERSION}); upgrade reprowatch")
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have created it while we waited for the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
                if tables:
                    raise StoreError(f"{self.path} is a SQLite database but not a reprowatch store")
                # One statement at a time: executescript() would commit our transaction first.
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _ensure_web_indexes(self, conn: sqlite3.Connection) -> None:
        # Added after schema version 1 for the web UI's item page (near-duplicates) and review
        # queue (oldest first); created once by whoever opens the store first, like custody.
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        if "items_cluster" not in names:
            conn.execute("CREATE INDEX IF NOT EXISTS items_cluster ON items (cluster, last_seen)")
        if "items_queue" not in names:
            conn.execute("CREATE INDEX IF NOT EXISTS items_queue ON items (status, flagged, first_seen, id)")
        if "items_contact_facts" not in names:
            # Covers the contacts page's aggregation, which otherwise reads every flagged row whole.
            conn.execute("CREATE INDEX IF NOT EXISTS items_contact_facts ON items (flagged, site, first_seen, last_seen)")

    @contextmanager
    def _errors(self, action: str):
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(f"SQLite store {self.path}: {action} failed: {e}") from None

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection, mode: str = "IMMEDIATE"):
        conn.execute(f"BEGIN {mode}")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection."""
        with self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()

    # -- writing -----------------------------------------------------------------------

    def upsert(self, item: dict) -> UpsertResult:
        """See :meth:`Store.upsert`."""
        return self.bulk_upsert([item])[0]

    def bulk_upsert(self, items: list[dict], pool: TokenPool | None = None) -> list[UpsertResult]:
        """Upsert many items, in transactions of ``WRITE_CHUNK`` items.

        Tokenising is the slow part, so it happens outside the write lock and, with ``pool``,
        in its processes while this one writes the previous chunk. A failure leaves earlier
        chunks stored; upserting them again is harmless (``seen``).
        """
        now = now_iso()
        prepared = [prepare(item, now) for item in items]
        chunks = [prepared[i:i + WRITE_CHUNK] for i in range(0, len(prepared), WRITE_CHUNK)]
        conn = self._conn()
        results: list[UpsertResult] = []
        with self._errors("upsert"):
            pending = self._tokenise(conn, chunks[0], pool) if chunks else None
            for k, chunk in enumerate(chunks):
                upcoming = self._tokenise(conn, chunks[k + 1], pool) if k + 1 < len(chunks) else None
                tokens = pending()
                with self._transaction(conn):
                    results += self._write(conn, chunk, tokens)
                pending = upcoming
        return results

    def _tokenise(self, conn, chunk: list[dict], pool: TokenPool | None):
        """Start tokenising the items of ``chunk`` whose text is not stored yet; returns a
        function giving {(title, text): tokens}."""
        stored = self._hashes(conn, list({p["id"]: None for p in chunk}))
        todo, pairs = [], set()
        for p in chunk:
            pair = (p["title"], p["text"])
            if stored.get(p["id"]) != p["content_hash"] and pair not in pairs:
                pairs.add(pair)
                todo.append(p)
        if pool is None:
            return lambda: {(p["title"], p["text"]): document_tokens(p) for p in todo}
        started = pool.map_async(todo)
        return lambda: {(p["title"], p["text"]): t for p, t in zip(todo, started.get())}

    def _hashes(self, conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
        out = {}
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i:i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            out.update(conn.execute(f"SELECT id, content_hash FROM items WHERE id IN ({marks})", chunk).fetchall())
        return out

    def _existing(self, conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[int, dict]]:
        out = {}
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i:i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(f"SELECT * FROM items WHERE id IN ({marks})", chunk):
                out[row["id"]] = (row["rowid"], _item(row))
        return out

    def _write(self, conn, prepared: list[dict], tokens: dict) -> list[UpsertResult]:
        ids = list({p["id"]: None for p in prepared})
        existing = self._existing(conn, ids)
        seq = (conn.execute("SELECT max(seq) FROM items").fetchone()[0] or 0) + 1
        next_rowid = (conn.execute("SELECT max(rowid) FROM items").fetchone()[0] or 0) + 1
        current = {item_id: record for item_id, (_, record) in existing.items()}
        results = []
        for p in prepared:  # in order, so a batch holding one id twice merges like two upserts
            record, outcome = merge(current.get(p["id"]), p)
            current[p["id"]] = record
            results.append(UpsertResult(p["id"], outcome))

        inserts, updates, fts_new, fts_changed, labels, contacts, cleared = [], [], [], [], [], [], []
        for item_id in ids:
            record = current[item_id]
            old = existing.get(item_id)
            if old is None:
                rowid, next_rowid = next_rowid, next_rowid + 1
                inserts.append((rowid,) + _row_values(record, seq))
            else:
                rowid, before = old
                updates.append(_row_values(record, seq) + (rowid,))
            relabel = old is None or (before["labels"], before["contacts"]) != (record["labels"], record["contacts"])
            if old is not None and relabel:
                cleared.append((rowid,))
            if old is None or before["content_hash"] != record["content_hash"]:
                # Missing only if another writer changed the text since we tokenised.
                title_tokens, body_tokens = tokens.get((record["title"], record["text"])) or document_tokens(record)
                (fts_new if old is None else fts_changed).append((rowid, title_tokens, body_tokens))
            if relabel:
                labels += [(rowid, label) for label in record["labels"]]
                contacts += [(value, rowid) for value in contact_values(record)]

        cols = ", ".join(_STORED)
        marks = ", ".join("?" * (len(_STORED) + 1))
        conn.executemany(f"INSERT INTO items (rowid, {cols}) VALUES ({marks})", inserts)
        assignments = ", ".join(f"{c} = ?" for c in _STORED)
        conn.executemany(f"UPDATE items SET {assignments} WHERE rowid = ?", updates)
        conn.executemany("DELETE FROM item_labels WHERE item = ?", cleared)
        conn.executemany("DELETE FROM item_contacts WHERE item = ?", cleared)
        conn.executemany("INSERT OR IGNORE INTO item_labels (item, category) VALUES (?, ?)", labels)
        conn.executemany("INSERT OR IGNORE INTO item_contacts (value, item) VALUES (?, ?)", contacts)
        conn.executemany("DELETE FROM items_fts WHERE rowid = ?", [(r,) for r, _, _ in fts_changed])
        conn.executemany("INSERT INTO items_fts (rowid, title, body) VALUES (?, ?, ?)", fts_new + fts_changed)
        return results

    def _modify(self, item_id: str, action: str, change) -> dict:
        """Read the item, ``change(item)`` it in place and write back its status, history and
        extra fields (notes, deadline) in one write transaction; returns the item."""
        conn = self._conn()
        with self._errors(action), self._transaction(conn):
            row = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no item with id {item_id!r}")
            item = _item(row)
            change(item)
            extra = {k: v for k, v in item.items() if k not in _KNOWN}  # notes and deadline live in extra
            seq = conn.execute("SELECT max(seq) FROM items").fetchone()[0] + 1
            conn.execute("UPDATE items SET status = ?, history = ?, extra = ?, seq = ? WHERE rowid = ?",
                         (item["status"], _dumps(item["history"]), _dumps(extra) if extra else None, seq,
                          row["rowid"]))
        return item

    def review(self, item_id: str, status: str, note: str = "", user: str = "",
               deadline: str | None = None) -> dict:
        """See :meth:`Store.review`."""
        return self._modify(item_id, "review", review_change(status, note, user, deadline))

    def add_note(self, item_id: str, text: str, user: str = "") -> dict:
        """See :meth:`Store.add_note`."""
        def change(item: dict) -> None:
            item["notes"] = list(item.get("notes") or []) + [{"at": now_iso(), "user": user, "text": text}]

        return self._modify(item_id, "adding a note", change)

    def cluster_items(self, cluster: str, limit: int = 50) -> list[dict]:
        """See :meth:`Store.cluster_items`."""
        if not cluster:
            return []
        with self._errors("listing a cluster"):
            rows = self._conn().execute("SELECT * FROM items WHERE cluster = ? ORDER BY last_seen DESC, id LIMIT ?",
                                        (cluster, limit)).fetchall()
        return [_item(r) for r in rows]

    def review_queue(self, limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
        """See :meth:`Store.review_queue`."""
        conn = self._conn()
        with self._errors("reading the review queue"), self._transaction(conn, "DEFERRED"):
            total = conn.execute("SELECT count(*) FROM items WHERE status = 'new' AND flagged = 1").fetchone()[0]
            rows = conn.execute("SELECT * FROM items WHERE status = 'new' AND flagged = 1 "
                                "ORDER BY first_seen, id LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return total, [_item(r) for r in rows]

    def contacts(self, limit: int = 1000) -> list[dict]:
        """See :meth:`Store.contacts`."""
        sql = ("SELECT c.value, count(*) AS n, group_concat(DISTINCT i.site) AS sites, min(i.first_seen) AS first, "
               "max(i.last_seen) AS last, min(c.item) AS sample "
               "FROM items i INDEXED BY items_contact_facts JOIN item_contacts c ON c.item = i.rowid "
               "WHERE i.flagged = 1 GROUP BY c.value ORDER BY n DESC, c.value LIMIT ?")
        conn = self._conn()
        with self._errors("listing contacts"), self._transaction(conn, "DEFERRED"):
            rows = conn.execute(sql, (limit,)).fetchall()
            # The kind (phone, WeChat, QQ) is in the items' contacts JSON: read one item per value.
            samples = {r["value"]: conn.execute("SELECT contacts FROM items WHERE rowid = ?",
                                                (r["sample"],)).fetchone()[0] for r in rows}
        return [{"value": r["value"], "kind": contact_kind(r["value"], json.loads(samples[r["value"]] or "{}")),
                 "items": r["n"], "sites": sorted((r["sites"] or "").split(",")), "first_seen": r["first"],
                 "last_seen": r["last"]} for r in rows]

    def stats(self, since: str) -> dict:
        """See :meth:`Store.stats`. The index hints keep each count inside one narrow index
        (the planner otherwise picks items_flagged_score and reads every flagged row)."""
        start = since_prefix(since)
        conn = self._conn()
        with self._errors("counting"), self._transaction(conn, "DEFERRED"):
            total, flagged = conn.execute("SELECT count(*), coalesce(sum(flagged), 0) FROM items").fetchone()
            status = dict(conn.execute("SELECT status, count(*) FROM items INDEXED BY items_status "
                                       "WHERE flagged = 1 GROUP BY status"))
            new = conn.execute("SELECT count(*) FROM items INDEXED BY items_first_seen "
                               "WHERE first_seen >= ? AND flagged = 1", (start,)).fetchone()[0]
            by_category = dict(conn.execute(
                "SELECT l.category, count(*) FROM items i INDEXED BY items_first_seen "
                "JOIN item_labels l ON l.item = i.rowid WHERE i.first_seen >= ? AND i.flagged = 1 "
                "GROUP BY l.category", (start,)))
        return {"items": total, "flagged": flagged, "status": facet_order.ordered("status", status),
                "new_flagged": new, "new_by_category": facet_order.ordered("category", by_category)}

    def custody_search(self, text: str):
        """See :meth:`Store.custody_search` (a scan inside SQLite, no row reaches Python unless it matches)."""
        conn = self._custody_conn()
        with self._errors("searching the custody log"):
            rows = conn.execute("SELECT seq, doc FROM custody WHERE instr(doc, ?) > 0 ORDER BY seq", (text,)).fetchall()
        return [{"seq": seq, "doc": doc} for seq, doc in rows]

    def record_run(self, run: dict) -> None:
        """See :meth:`Store.record_run`."""
        run = dict(run)
        run.setdefault("started", now_iso())
        conn = self._conn()
        with self._errors("recording a run"), self._transaction(conn):
            conn.execute("INSERT INTO runs (source, started, finished, doc) VALUES (?, ?, ?, ?)",
                         (run.get("source"), run["started"], run.get("finished"), _dumps(run)))

    # -- custody log -------------------------------------------------------------------

    def _custody_conn(self) -> sqlite3.Connection:
        conn = self._conn()
        if not getattr(self._local, "custody_ready", False):
            # A table added after schema version 1, so created here rather than by a migration;
            # IF NOT EXISTS makes it a read once it exists.
            with self._errors("creating the custody log"):
                exists = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'custody_no_delete'").fetchone()[0]
                if not exists:
                    with self._transaction(conn):
                        for statement in CUSTODY_SCHEMA.split(";\n"):
                            if statement.strip():
                                conn.execute(statement)
            self._local.custody_ready = True
        return conn

    def custody_tail(self) -> dict | None:
        """See :meth:`Store.custody_tail`."""
        conn = self._custody_conn()
        with self._errors("reading the custody log"):
            row = conn.execute("SELECT seq, doc FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
        return {"seq": row[0], "doc": row[1]} if row else None

    def custody_add(self, seq: int, doc: str) -> bool:
        """See :meth:`Store.custody_add`."""
        conn = self._custody_conn()
        with self._errors("appending to the custody log"):
            try:
                with self._transaction(conn):
                    conn.execute("INSERT INTO custody (seq, doc) VALUES (?, ?)", (seq, doc))
            except sqlite3.IntegrityError:
                return False
        return True

    def custody_entries(self, after: int = 0):
        """See :meth:`Store.custody_entries`."""
        conn = self._custody_conn()
        last = after
        while True:
            with self._errors("reading the custody log"):
                rows = conn.execute("SELECT seq, doc FROM custody WHERE seq > ? ORDER BY seq LIMIT 1000",
                                    (last,)).fetchall()
            if not rows:
                return
            for seq, doc in rows:
                yield {"seq": seq, "doc": doc}
            last = rows[-1][0]

    # -- reading -----------------------------------------------------------------------

    def get(self, item_id: str) -> dict | None:
        """See :meth:`Store.get`."""
        with self._errors("get"):
            row = self._conn().execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return _item(row) if row else None

    def runs(self, since: str | None = None, source: str | None = None) -> list[dict]:
        """See :meth:`Store.runs`."""
        sql, args = "SELECT doc FROM runs WHERE 1", []
        if since:
            sql += " AND started >= ?"
            args.append(since)
        if source:
            sql += " AND source = ?"
            args.append(source)
        with self._errors("listing runs"):
            rows = self._conn().execute(sql + " ORDER BY started DESC, id DESC", args).fetchall()
        return [json.loads(r[0]) for r in rows]

    def search(self, query: Query) -> SearchResult:
        """See :meth:`Store.search`. Filters, facets and sorting run on in-memory columns
        (``columns.py``); SQLite answers the full-text match and the page's rows."""
        query.check()
        gte, lt = time_bounds(query.since, query.until)
        tokens = query_tokens(query.text)
        conn = self._conn()
        cols = self.columns
        with self._errors("search"), self._transaction(conn, "DEFERRED"):
            cols.refresh(conn)
            matched = None
            if tokens:
                match = fts_query(tokens)
                matched = self._matches.get(match, cols.seq)
                if matched is None:
                    matched = csv_ints(conn.execute("SELECT group_concat(rowid) FROM items_fts WHERE items_fts MATCH ?",
                                                 (match,)).fetchone()[0])
                    self._matches.put(match, cols.seq, matched)
            if query.contact:
                hits = csv_ints(conn.execute("SELECT group_concat(item) FROM item_contacts WHERE value = ?",
                                          (query.contact.strip().lower(),)).fetchone()[0])
                hits.sort()
                matched = hits if matched is None else np.intersect1d(matched, hits, assume_unique=True)
            with cols.lock:
                rows = cols.all_rows() if matched is None else cols.known(matched)
                rows = rows[_mask(cols, rows, query, gte, lt)]
                facets = {
                    "category": cols.label_counts(rows),
                    "site": cols.counts("site", rows),
                    "source": cols.counts("source", rows),
                    "status": cols.counts("status", rows),
                    "day": cols.counts("day", rows),
                }
                page = self._page(conn, cols, rows, query, tokens)
            items = self._rows(conn, page)
        for item in items:
            item["highlight"] = snippet(item["text"], query.text, item["hits"])
        return SearchResult(total=int(len(rows)), items=items,
                            facets={name: facet_order.ordered(name, facets[name]) for name in FACETS})

    def _page(self, conn, cols: ItemColumns, rows: np.ndarray, query: Query, tokens: list[str]) -> np.ndarray:
        """Rowids of the requested page, in order."""
        n, k = len(rows), query.offset + query.limit
        if query.limit <= 0 or query.offset >= n:
            return rows[:0]
        primary = cols.last_seen[rows] if query.sort == "time" else cols.score[rows]
        if k < n:
            # Only rows at or above the k-th best key can reach the page: sort just those.
            threshold = np.partition(primary, n - k)[n - k]
            rows = rows[primary >= threshold]
        last_seen = cols.last_seen[rows]
        if query.sort == "time":
            order = np.lexsort((-rows, -last_seen))
        else:
            score = cols.score[rows]
            keys = [-rows, -last_seen]
            values, counts = np.unique(score, return_counts=True)
            if tokens and (counts > 1).any():
                keys.append(self._bm25(conn, tokens, rows, np.isin(score, values[counts > 1])))
            keys.append(-score)
            order = np.lexsort(keys)
        return rows[order][query.offset:k]

    def _bm25(self, conn, tokens: list[str], rows: np.ndarray, tied: np.ndarray) -> np.ndarray:
        """bm25 of the ``tied`` rows (0 for the rest: their score alone orders them)."""
        out = np.zeros(len(rows))
        wanted = [int(r) for r in rows[tied]]
        ranks = relevance.bm25(conn, "items_fts", tokens, wanted, BM25_WEIGHTS)
        out[tied] = [ranks.get(r, 0.0) for r in wanted]
        return out

    def _rows(self, conn, rowids: np.ndarray) -> list[dict]:
        if not len(rowids):
            return []
        wanted = [int(r) for r in rowids]
        marks = ",".join("?" * len(wanted))
        by_rowid = {row["rowid"]: _item(row)
                    for row in conn.execute(f"SELECT * FROM items WHERE rowid IN ({marks})", wanted)}
        return [by_rowid[r] for r in wanted if r in by_rowid]


class _MatchCache:
    """The rowids a full-text match gave, for the store's current write (``seq``): an officer
    narrows one query with facet after facet, and a common word (微信, 出租) costs SQLite tens
    of milliseconds to list each time. Any write moves ``seq`` and empties the cache. Bounded
    by entries and by the rowids held."""

    def __init__(self, entries: int = 32, rowids: int = 4_000_000):
        self.entries, self.rowids = entries, rowids
        self.seq = None
        self.data: OrderedDict[str, np.ndarray] = OrderedDict()
        self.held = 0  # rowids in self.data
        self.lock = threading.Lock()

    def get(self, match: str, seq: int) -> np.ndarray | None:
        with self.lock:
            if seq != self.seq:
                self.seq, self.data, self.held = seq, OrderedDict(), 0
                return None
            hit = self.data.get(match)
            if hit is not None:
                self.data.move_to_end(match)
            return hit

    def put(self, match: str, seq: int, rowids: np.ndarray) -> None:
        with self.lock:
            if seq != self.seq or len(rowids) > self.rowids // 4:
                return
            rowids.flags.writeable = False  # shared by later searches
            old = self.data.pop(match, None)
            self.held += len(rowids) - (0 if old is None else len(old))
            self.data[match] = rowids
            while len(self.data) > self.entries or self.held > self.rowids:
                self.held -= len(self.data.popitem(last=False)[1])


def _mask(cols: ItemColumns, rows: np.ndarray, query: Query, gte: int | None, lt: int | None) -> np.ndarray:
    """Which of ``rows`` pass the query's filters."""
    keep = np.ones(len(rows), dtype=bool)
    if not query.include_all:
        keep &= cols.flagged[rows]
    if query.category:
        keep &= cols.label(query.category)[rows]
    for name in ("status", "site", "source"):
        value = getattr(query, name)
        if value:
            code = cols.value_code(name, value)  # -1, matching nothing, if no item has it
            keep &= cols.coded[name][rows] == code
    if gte is not None:
        keep &= cols.fetched[rows] >= gte
    if lt is not None:
        keep &= cols.fetched[rows] < lt
    return keep

