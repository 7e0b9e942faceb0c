"""The spool: items kept on disk while the store is down, and flushed into it later."""

from __future__ import annotations

import json
import socket

import pytest

from search import spool as spool_mod
from search.es_store import ElasticsearchStore
from search.spool import Spool, flush, pending, upsert_or_spool
from search.sqlite_store import SQLiteStore
from search.store import Query, StoreError


def item(n: int, text: str = "专业代孕妈妈，包成功") -> dict:
    return {"id": f"sp{n}", "url": f"http://ads.example.cn/{n}.html", "text": f"{text}{n}",
            "labels": ["surrogacy"], "score": 0.9, "fetched_at": "2026-03-01T08:00:00Z"}


class OutageStore:
    """A real SQLite store that goes down after ``up_for`` items, as a cluster might mid-flush."""

    def __init__(self, store: SQLiteStore, up_for: int):
        self.store, self.left = store, up_for

    def bulk_upsert(self, items):
        if self.left < len(items):
            raise StoreError("Elasticsearch at http://127.0.0.1:9 is unreachable (simulated outage)")
        self.left -= len(items)
        return self.store.bulk_upsert(items)


@pytest.fixture
def sqlite_store(tmp_path):
    s = SQLiteStore(tmp_path / "store.db")
    yield s
    s.close()


def _down_store() -> ElasticsearchStore:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return ElasticsearchStore(f"http://127.0.0.1:{port}", request_timeout=2)


def test_spool_while_down_then_flush(tmp_path, sqlite_store):
    directory = tmp_path / "spool"
    down = _down_store()
    with Spool(directory) as spool:
        for n in range(5):
            assert upsert_or_spool(down, spool, item(n)) is None
        files = list(directory.glob("*.jsonl"))
        assert len(files) == 1
        lines = files[0].read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["id"] for line in lines] == [f"sp{n}" for n in range(5)]
        assert "代孕" in lines[0]  # readable UTF-8, not \\u escapes
        assert flush(sqlite_store, directory) == 0  # still being written: left alone
    assert pending(directory) == 5
    assert flush(sqlite_store, directory) == 5
    assert list(directory.glob("*.jsonl")) == []
    assert sqlite_store.search(Query()).total == 5
    assert flush(sqlite_store, directory) == 0


def test_upsert_or_spool_writes_through_when_up(tmp_path, sqlite_store):
    with Spool(tmp_path / "spool") as spool:
        assert upsert_or_spool(sqlite_store, spool, item(1)).outcome == "new"
    assert pending(tmp_path / "spool") == 0


def test_partial_failure_keeps_the_rest(tmp_path, sqlite_store):
    directory = tmp_path / "spool"
    with Spool(directory) as spool:
        spool.extend([item(n) for n in range(10)])
    with pytest.raises(StoreError, match="after 4 item"):
        flush(OutageStore(sqlite_store, up_for=4), directory, batch=2)
    assert sqlite_store.search(Query()).total == 4
    assert pending(directory) == 6
    kept = [json.loads(line)["id"] for f in directory.glob("*.jsonl") for line in f.read_text().splitlines()]
    assert kept == [f"sp{n}" for n in range(4, 10)]
    assert flush(sqlite_store, directory, batch=2) == 6
    assert sqlite_store.search(Query()).total == 10 and pending(directory) == 0


def test_flush_of_several_processes_files_and_torn_lines(tmp_path, sqlite_store):
    directory = tmp_path / "spool"
    for start in (0, 3):
        with Spool(directory) as spool:
            spool.extend([item(n) for n in range(start, start + 3)])
    # A writer killed mid-line leaves a torn last line; it must not block the rest.
    victim = sorted(directory.glob("*.jsonl"))[0]
    with open(victim, "a", encoding="utf-8") as f:
        f.write('{"id": "torn", "text": "代')
    assert flush(sqlite_store, directory) == 6
    assert (directory / "rejected.jsonl").read_text(encoding="utf-8").startswith('{"id": "torn"')
    assert sqlite_store.search(Query()).total == 6


def test_flush_twice_is_harmless(tmp_path, sqlite_store):
    """A flush that dies before removing its file indexes the same items again: no harm."""
    directory = tmp_path / "spool"
    with Spool(directory) as spool:
        spool.extend([item(n) for n in range(3)])
    saved = {p.name: p.read_bytes() for p in directory.glob("*.jsonl")}
    assert flush(sqlite_store, directory) == 3
    for name, data in saved.items():
        (directory / name).write_bytes(data)
    assert flush(sqlite_store, directory) == 3
    assert sqlite_store.search(Query()).total == 3
    assert {sqlite_store.get(f"sp{n}")["status"] for n in range(3)} == {"new"}


def test_default_folder_is_under_data(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROWATCH_DATA", str(tmp_path / "data"))
    with Spool() as spool:
        spool.append(item(1))
        assert spool.path.parent == tmp_path / "data" / "spool"
    assert spool_mod.pending() == 1
