"""Items kept on disk while the store is down, indexed when it is back (``data/spool/*.jsonl``).

A crawl must not lose what it fetched because Elasticsearch (or a locked disk) is away for a
while. Each process appends to its own file, one JSON item per line, fsync'd before
:meth:`Spool.append` returns. :func:`flush` indexes the files of processes that are no longer
writing them and removes what was indexed; when the store fails half-way the rest stays in
the spool, so a later flush picks up where this one stopped. Indexing an item twice is
harmless (a second upsert of the same text is just ``seen``), which is why a flush that dies
before rewriting its file loses nothing either.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from reprowatch.paths import data_dir

from .items import prepare
from .store import Store, StoreError, UpsertResult

log = logging.getLogger(__name__)
FLUSH_BATCH = 500


def spool_dir() -> Path:
    """``data/spool``, created on first use."""
    path = data_dir() / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Spool:
    """This process's spool file; opened on the first append, locked while open."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory else spool_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path: Path | None = None
        self._file = None

    def _open(self):
        if self._file is None:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            self.path = self.directory / f"{stamp}-{socket.gethostname()}-{os.getpid()}-{id(self):x}.jsonl"
            # The lock tells a concurrent flush that this file is still being written. It is
            # taken before the file gets its .jsonl name, so no flush can see it unlocked.
            opening = self.path.with_suffix(".opening")
            self._file = open(opening, "a", encoding="utf-8")
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.replace(opening, self.path)
        return self._file

    def append(self, item: dict) -> None:
        """Write one item durably (fsync'd) to this process's spool file."""
        self.extend([item])

    def extend(self, items: list[dict]) -> None:
        """Write several items durably, with one fsync."""
        f = self._open()
        f.write("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))
        f.flush()
        os.fsync(f.fileno())

    def close(self) -> None:
        """Close (and unlock) the file, so a flush may take it."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def upsert_or_spool(store: Store, spool: Spool, item: dict) -> UpsertResult | None:
    """Upsert into the store; if it is down, spool the item and return None."""
    try:
        return store.upsert(item)
    except StoreError as e:
        log.warning("store unavailable, spooling item %s: %s", item.get("id"), e)
        spool.append(item)
        return None


def pending(directory: str | Path | None = None) -> int:
    """How many items wait in the spool (including files still being written)."""
    directory = Path(directory) if directory else spool_dir()
    count = 0
    for path in directory.glob("*.jsonl"):
        with open(path, encoding="utf-8") as f:
            count += sum(1 for line in f if line.strip())
    return count


def flush(store: Store, directory: str | Path | None = None, batch: int = FLUSH_BATCH) -> int:
    """Index every spooled item no process is still writing; returns how many were indexed.

    On a store error the items not yet indexed are written back and the StoreError is raised
    (its message says how many were indexed before it). Lines that are not JSON items (the
    torn last line of a killed writer) are moved to ``rejected.jsonl`` beside the files.
    """
    directory = Path(directory) if directory else spool_dir()
    done = 0
    for path in sorted(directory.glob("*.jsonl")):
        if path.name == "rejected.jsonl":
            continue
        with open(path, "r+", encoding="utf-8") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is still appending; a later flush takes it
            if not _same_file(f, path):
                continue  # another flush finished it while we opened it
            lines = [line for line in f.read().splitlines() if line.strip()]
            items, rejected = _parse(lines)
            if rejected:
                _append(directory / "rejected.jsonl", rejected)
            for start in range(0, len(items), batch):
                chunk = items[start:start + batch]
                try:
                    store.bulk_upsert([item for _, item in chunk])
                except (StoreError, OSError) as e:
                    _rewrite(path, [line for line, _ in items[start:]])
                    raise StoreError(f"spool flush stopped after {done} item(s); "
                                     f"{len(items) - start} kept in {path}: {e}") from None
                done += len(chunk)
            path.unlink(missing_ok=True)
    return done


def _same_file(f, path: Path) -> bool:
    try:
        return os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _parse(lines: list[str]) -> tuple[list[tuple[str, dict]], list[str]]:
    """(line, item) pairs the store will accept, and the lines it never would."""
    items, rejected = [], []
    for line in lines:
        try:
            item = json.loads(line)
            prepare(item)  # a bad item would stop every future flush at the same place
        except ValueError:
            rejected.append(line)
            continue
        items.append((line, item))
    return items, rejected


def _append(path: Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace ``path`` with ``lines`` atomically: a crash leaves the old or the new file whole."""
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
