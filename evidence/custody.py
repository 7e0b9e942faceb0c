"""The custody log (证据保管链): who captured, exported or viewed which evidence, and when.

It lives in the store (``Store.custody_*``: a ``custody`` table in SQLite, a ``-custody``
index in Elasticsearch), so every process writing to one store writes to one log. Each entry
is a JSON object with ``seq`` (1, 2, …), ``at`` (UTC), ``kind`` (``capture`` | ``export`` |
``view`` | ``recheck``, and the web UI's audit events: ``search`` | ``review`` | ``login`` |
``login_failed`` | ``logout`` | ``user``, with ``target`` and the client ``ip``), ``actor``
(operators, or user@host), the event's own fields, ``prev`` (the previous
entry's hash; 64 zeros for the first) and ``hash``: SHA-256 of the entry's canonical JSON
without ``hash``. Changing, removing or inserting an entry therefore breaks every later link,
and :func:`check_chain` names the first entry that does not fit. Cutting entries off the end
leaves a valid shorter chain; every export therefore also writes the head it saw (``seq`` and
``hash``) into its signed manifest, and a later log shorter than that head is caught there.

Appending never loses an event: when the store cannot be written, the entry waits in
``data/custody-pending.jsonl`` and is chained in first by the next append that succeeds.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from search.items import now_iso
from search.store import StoreError

GENESIS = "0" * 64
# recheck: a takedown recheck's decision and the capture it rests on (crawlers/recheck.py);
# search … user: the web UI's audit events (search/web/).
KINDS = ("capture", "export", "view", "recheck", "search", "review", "login", "login_failed", "logout", "user")
_RETRIES = 50
PENDING_FILE = "custody-pending.jsonl"


def canonical(entry: dict) -> str:
    """The entry as canonical JSON (sorted keys, no spaces, non-ASCII kept)."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of the entry without its ``hash``."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


def default_actor() -> str:
    """user@host of this process: who did it, when no operator is named."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


def _chain(store, event: dict) -> dict:
    """Append one event at the tail, retrying when another writer takes the place first."""
    for _ in range(_RETRIES):
        tail = store.custody_tail()
        prev = json.loads(tail["doc"]) if tail else None
        entry = dict(event)
        entry["seq"] = (prev["seq"] + 1) if prev else 1
        entry["prev"] = prev["hash"] if prev else GENESIS
        entry["hash"] = entry_hash(entry)
        if store.custody_add(entry["seq"], canonical(entry)):
            return entry
    raise StoreError(f"custody log: could not append after {_RETRIES} attempts (too many concurrent writers)")


def files_digest(files: list[dict]) -> str:
    """SHA-256 over a capture's file list (``sha256  size  path`` lines): one value that pins
    every file of the capture in the log."""
    lines = "\n".join(f"{f['sha256']}  {f['size']}  {f['path']}" for f in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _event(kind: str, actor: str | None, fields: dict) -> dict:
    if kind not in KINDS:
        raise ValueError(f"custody event kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return {"at": now_iso(), "kind": kind, "actor": actor or default_actor(), **fields}


def queue(data_dir: Path, kind: str, actor: str | None = None, **fields) -> None:
    """Keep an event in ``data/custody-pending.jsonl`` for the next append to chain in
    (the store is unreachable now)."""
    with open(Path(data_dir) / PENDING_FILE, "a", encoding="utf-8") as fh:
        fh.write(canonical(_event(kind, actor, fields)) + "\n")


def record(store, kind: str, data_dir: Path | None = None, actor: str | None = None, **fields) -> dict | None:
    """Append a ``kind`` event with ``fields``; returns the entry, or None if it was queued
    in ``data/custody-pending.jsonl`` because the store could not be written (StoreError
    instead when no ``data_dir`` is given)."""
    event = _event(kind, actor, fields)
    pending = Path(data_dir) / PENDING_FILE if data_dir is not None else None
    try:
        if pending is not None and pending.exists():
            _flush_pending(store, pending)
        return _chain(store, event)
    except StoreError:
        if pending is None:
            raise
        with open(pending, "a", encoding="utf-8") as fh:
            fh.write(canonical(event) + "\n")
        return None


def _flush_pending(store, pending: Path) -> None:
    # Renamed first, so a second process flushing at the same time cannot chain an event twice.
    claimed = pending.with_suffix(f".{os.getpid()}.flushing")
    try:
        os.replace(pending, claimed)
    except FileNotFoundError:
        return
    lines = claimed.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            _chain(store, json.loads(line))
        except StoreError:
            with open(pending, "a", encoding="utf-8") as fh:
                fh.write("\n".join(lines[i:]) + "\n")
            claimed.unlink()
            raise
    claimed.unlink()


def entries(store, after: int = 0):
    """The log's entries as dicts, in order (an entry whose JSON is unreadable comes as
    ``{"seq": n, "_unreadable": text}``, for :func:`check_chain` to report)."""
    for row in store.custody_entries(after):
        try:
            entry = json.loads(row["doc"])
        except ValueError:
            entry = {"_unreadable": row["doc"]}
        entry["_row_seq"] = row["seq"]
        yield entry


@dataclass
class ChainCheck:
    """Result of :func:`check_chain`: ``ok``, entries read, and the first bad entry with why."""

    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""
    head: str = GENESIS

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def check_chain(log) -> ChainCheck:
    """Walk the entries (from :func:`entries`) and check every hash and link."""
    prev_hash, expected, count = GENESIS, 1, 0
    for entry in log:
        count += 1
        row_seq = entry.pop("_row_seq", None)
        seq = entry.get("seq", row_seq)
        if "_unreadable" in entry:
            return ChainCheck(False, count, row_seq, "entry is not valid JSON", prev_hash)
        if seq != expected or row_seq != seq:
            return ChainCheck(False, count, seq if seq is not None else row_seq,
                              f"expected entry {expected} here, found {seq} (entries missing or inserted)", prev_hash)
        if entry.get("prev") != prev_hash:
            return ChainCheck(False, count, seq, f"its prev does not match entry {seq - 1}'s hash "
                              f"(entry {seq - 1} or this one was altered)", prev_hash)
        if entry.get("hash") != entry_hash(entry):
            return ChainCheck(False, count, seq, "its content does not match its hash (entry altered)", prev_hash)
        prev_hash = entry["hash"]
        expected += 1
    return ChainCheck(True, count, head=prev_hash)
