"""The store interface: one contract, two backends (SQLite FTS5 by default, Elasticsearch).

Items follow the DESIGN.md item contract. Times are ISO 8601 strings in UTC
(``2026-11-23T08:00:00Z``); display code converts to Asia/Shanghai.

An item as stored::

    {"id": "3f2a…", "url": "http://…/post/3.html", "source": "demo-classifieds",
     "site": "127.0.0.1:8101", "title": "…", "text": "…", "published": "…" | None,
     "labels": ["surrogacy"], "score": 0.97, "flagged": true,
     "hits": [{"rule", "category", "text", "start", "end"}], "contacts": {"phones": [...], …},
     "status": "new", "fetched_at": "…", "first_seen": "…", "last_seen": "…",
     "content_hash": "sha1 of the text", "previous_hashes": ["…"], "cluster": "…",
     "evidence": {"files": [{"path", "sha256", "size"}]}, "history": [{"at", "status", "note", "user"}],
     "notes": [{"at", "user", "text"}]}
    plus ``deadline`` (UTC ISO) once a takedown notice with a deadline is recorded.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from .items import now_iso, review_deadline

STATUSES = ("new", "confirmed", "dismissed", "notice_sent", "removed", "still_online")
# Review workflow: new → confirmed | dismissed → notice_sent → removed | still_online.
TRANSITIONS = {
    "new": {"confirmed", "dismissed"},
    "confirmed": {"notice_sent", "dismissed"},
    "dismissed": {"confirmed"},
    "notice_sent": {"removed", "still_online"},
    "still_online": {"notice_sent", "removed"},
    "removed": {"still_online"},
}
FACETS = ("category", "site", "source", "status", "day")
DEFAULT_STORE = "sqlite:///data/reprowatch.db"


class StoreError(RuntimeError):
    """The store cannot be reached or refused an operation; the message says which."""


class TransitionError(ValueError):
    """A review status change that the workflow does not allow."""


class NoteRequiredError(TransitionError):
    """A review decision that needs a note was given none."""


class NotFoundError(LookupError):
    """No item with that id."""


def check_transition(current: str, status: str) -> None:
    """TransitionError unless the review workflow allows ``current`` → ``status``."""
    if status not in STATUSES:
        raise TransitionError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    allowed = TRANSITIONS.get(current, set())
    if status not in allowed:
        raise TransitionError(f"cannot move an item from {current} to {status} "
                              f"(from {current}: {', '.join(sorted(allowed)) or 'nothing'})")


def review_change(status: str, note: str, user: str, deadline: str | None):
    """What :meth:`Store.review` does to a stored item, for the backends to apply inside their
    read-modify-write: check the transition, set the status and the takedown deadline, and
    append the history event. The deadline is settled once, before any retry."""
    deadline = review_deadline(status, deadline)

    def change(item: dict) -> None:
        check_transition(item["status"], status)
        item["status"] = status
        event = {"at": now_iso(), "status": status, "note": note, "user": user}
        if deadline:
            item["deadline"] = event["deadline"] = deadline
        item["history"] = list(item.get("history") or []) + [event]

    return change


# Dismissing is the decision nobody looks at again, so whoever dismisses must say why.
NOTE_REQUIRED = frozenset({"dismissed"})


def check_note(status: str, note: str) -> None:
    """NoteRequiredError when ``status`` needs a note (NOTE_REQUIRED) and ``note`` is blank."""
    if status in NOTE_REQUIRED and not (note or "").strip():
        raise NoteRequiredError(f"a note is required to move an item to {status} (say why)")


@dataclass
class Query:
    """A search: full text plus filters; flagged items only unless ``include_all``."""

    text: str = ""
    category: str | None = None
    status: str | None = None
    site: str | None = None
    source: str | None = None
    contact: str | None = None
    since: str | None = None   # ISO date or datetime, inclusive, on fetched_at (UTC)
    until: str | None = None   # ISO date or datetime, inclusive
    include_all: bool = False
    limit: int = 20
    offset: int = 0
    sort: str = "time"         # "time" (last_seen, newest first) or "score"

    def check(self) -> None:
        """ValueError naming the field if the query cannot be run."""
        if self.sort not in ("time", "score"):
            raise ValueError(f"sort: expected 'time' or 'score', got {self.sort!r}")
        if self.status and self.status not in STATUSES:
            raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.limit < 0 or self.offset < 0:
            raise ValueError("limit and offset must not be negative")


@dataclass
class SearchResult:
    """Matching items, total and facets. Each item carries ``highlight``: at most 160 characters
    of its original text around the first query word (else the first classifier hit), with
    the matched words in 【】."""

    total: int
    items: list[dict]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class UpsertResult:
    """What one upsert did: ``new``, ``changed`` (text changed), or ``seen`` (unchanged)."""

    id: str
    outcome: str


class Store(ABC):
    """What every backend provides."""

    @abstractmethod
    def upsert(self, item: dict) -> UpsertResult:
        """Insert a new item or update a known one (same id): last_seen always moves (to the
        item's fetched_at, never backwards); changed text replaces the old capture, whose
        content hash goes to previous_hashes; unchanged text keeps the capture and takes only
        the new verdict (labels, score, flagged, hits, contacts); status, history and
        first_seen are kept. ValueError for an item without id or with a malformed time."""

    def bulk_upsert(self, items: list[dict], pool=None) -> list[UpsertResult]:
        """Upsert many items at once, with the same rules as :meth:`upsert`, one result each
        in order. ``pool`` (a :class:`search.tokenize.TokenPool`) tokenises in parallel."""
        return [self.upsert(item) for item in items]

    @abstractmethod
    def get(self, item_id: str) -> dict | None:
        """One item, or None."""

    @abstractmethod
    def search(self, query: Query) -> SearchResult:
        """Items matching the query, with facet counts over all matches.

        Text matches when every query word occurs (as a word) in the title or text. Facets
        (FACETS) map each value to its count among all matches, largest first (``day``: the
        UTC day of fetched_at, newest first). ValueError for a malformed since/until."""

    @abstractmethod
    def review(self, item_id: str, status: str, note: str = "", user: str = "",
               deadline: str | None = None) -> dict:
        """Move an item along the review workflow and append ``{at, status, note, user}`` to
        its history; returns the updated item. TransitionError if the workflow does not allow
        the move (or the status is unknown), NotFoundError if there is no such item.

        ``deadline`` (ISO time, only with ``notice_sent``): when the takedown is due; stored as
        the item's ``deadline`` (UTC ISO, kept across re-crawls) and in the history entry.
        ValueError when given with another status or malformed."""

    @abstractmethod
    def record_run(self, run: dict) -> None:
        """Store a crawl-run record: source, started, finished, pages, items, new, flagged,
        errors {kind: count}."""

    @abstractmethod
    def runs(self, since: str | None = None, source: str | None = None) -> list[dict]:
        """Crawl-run records, newest first."""

    # -- custody log (evidence/custody.py builds and checks the hash chain) ------------

    @abstractmethod
    def custody_tail(self) -> dict | None:
        """The custody-log entry with the highest ``seq`` (as ``{"seq", "doc"}``), or None."""

    @abstractmethod
    def custody_add(self, seq: int, doc: str) -> bool:
        """Append entry ``seq`` (its canonical JSON ``doc``); False, writing nothing, when that
        ``seq`` is already taken (another writer got there first: re-read the tail and retry)."""

    @abstractmethod
    def custody_entries(self, after: int = 0):
        """Iterate the custody log from ``seq`` > ``after`` in ``seq`` order, as ``{"seq", "doc"}``."""

    # -- the officers' web UI (search/web/) -------------------------------------------
    # Not abstract, so a third backend still loads without them; both backends implement all.

    def add_note(self, item_id: str, text: str, user: str = "") -> dict:
        """Append ``{at, user, text}`` to the item's notes (kept across re-crawls, like its
        history); returns the updated item. NotFoundError if there is no such item."""
        raise NotImplementedError

    def cluster_items(self, cluster: str, limit: int = 50) -> list[dict]:
        """Items of one near-duplicate cluster, newest (last_seen) first."""
        raise NotImplementedError

    def review_queue(self, limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
        """(total, page) of flagged items still ``new``, oldest first (first_seen, then id):
        the review queue, so nothing waits forever behind fresher ads."""
        raise NotImplementedError

    def contacts(self, limit: int = 1000) -> list[dict]:
        """The phones, WeChat and QQ ids of flagged items (the blacklist), most items first:
        ``{value, kind, items, sites: [...], first_seen, last_seen}``."""
        raise NotImplementedError

    def stats(self, since: str) -> dict:
        """Dashboard counts: ``items``, ``flagged``, ``status`` {status: flagged items},
        ``new_flagged`` (flagged items first seen at or after ``since``, an ISO time) and
        ``new_by_category`` {category: count} of those."""
        raise NotImplementedError

    def custody_search(self, text: str):
        """Custody-log rows (``{"seq", "doc"}``) whose JSON contains ``text``, in ``seq`` order:
        the item page's events. This default reads the whole log; a backend may do better."""
        return [row for row in self.custody_entries() if text in row["doc"]]

    def refresh(self) -> None:
        """Make everything written so far visible to search (a no-op where writes already are)."""

    def check(self) -> None:
        """Raise StoreError unless the store answers (a cheap read)."""
        self.get("__reachability_check__")

    def close(self) -> None:
        """Release connections."""


def store_url(url: str | None = None) -> str:
    """The store URL in force: the argument, else $REPROWATCH_STORE, else the SQLite default."""
    return url or os.environ.get("REPROWATCH_STORE") or DEFAULT_STORE


def open_store(url: str | None = None) -> Store:
    """Open the store named by a URL: ``sqlite:///path.db`` or ``http(s)://host:9200``."""
    url = store_url(url)
    if url.startswith("sqlite:///"):
        from .sqlite_store import SQLiteStore

        return SQLiteStore(url[len("sqlite:///"):])
    if url.startswith(("http://", "https://")):
        from .es_store import ElasticsearchStore

        return ElasticsearchStore(url)
    raise StoreError(f"unknown store URL {url!r}: use sqlite:///path.db or http(s)://host:9200")
