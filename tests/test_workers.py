"""The pipelines' worker pool and call batching (pipelines/workers.py), with a real worker
process and a real SQLite store."""

from __future__ import annotations

import asyncio

import pytest

from pipelines.workers import Batcher, Workers, dedup_batch, store_batch
from search.neardup import NearDupIndex, content_hash
from search.sqlite_store import SQLiteStore
from search.store import StoreError


def _run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def test_batcher_sends_full_batches_and_a_quiet_remainder_at_once():
    batches = []

    async def double(args):
        batches.append(list(args))
        return [a * 2 for a in args]

    async def main():
        batcher = Batcher(double, size=4, delay=5.0, quiet=0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(*(batcher(i) for i in range(10)))
        return results, loop.time() - started

    results, took = _run(main())
    assert results == [i * 2 for i in range(10)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    # The last two went after the quiet time, not after the 5 s delay.
    assert took < 1.0


def test_batcher_waits_at_most_delay_while_calls_keep_coming():
    batches = []

    async def echo(args):
        batches.append(list(args))
        return args

    async def main():
        batcher = Batcher(echo, size=1000, delay=0.2, quiet=0.05)
        calls = []
        for i in range(12):  # one call every 30 ms: never quiet for 50 ms
            calls.append(asyncio.ensure_future(batcher(i)))
            await asyncio.sleep(0.03)
        await asyncio.gather(*calls)
        await batcher.drain()

    _run(main())
    assert [x for b in batches for x in b] == list(range(12))
    assert len(batches) >= 2  # the 0.2 s delay cut the stream of calls
    assert all(len(b) <= 8 for b in batches)


def test_batcher_gives_an_exception_result_to_its_caller_only():
    async def check(args):
        return [ValueError(f"bad {a}") if a < 0 else a for a in args]

    async def main():
        batcher = Batcher(check, size=3, delay=1.0)
        return await asyncio.gather(batcher(1), batcher(-1), batcher(2), return_exceptions=True)

    ok1, bad, ok2 = _run(main())
    assert (ok1, ok2) == (1, 2)
    assert isinstance(bad, ValueError) and str(bad) == "bad -1"


def _item(item_id: str, text: str) -> dict:
    return {"id": item_id, "url": f"http://example.test/{item_id}", "source": "test", "site": "example.test",
            "title": "标题", "text": text, "fetched_at": "2026-11-23T10:00:00Z", "content_hash": text,
            "flagged": False, "labels": [], "score": 0.0, "hits": []}


def test_store_batch_in_a_worker_process_writes_the_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    workers = Workers(1)
    try:
        outcomes = _run(workers.run(store_batch, [_item("a", "第一条信息"), _item("b", "第二条信息")], url))
        again = _run(workers.run(store_batch, [_item("a", "第一条信息")], url))
    finally:
        workers.close()
    assert outcomes == ["new", "new"]
    assert again == ["seen"]
    store = SQLiteStore(tmp_path / "store.db")
    assert store.get("b")["text"] == "第二条信息"
    store.close()


def test_store_batch_reports_a_store_it_cannot_open(tmp_path):
    (tmp_path / "not-a-db").write_bytes(b"this is not sqlite" * 100)
    workers = Workers(1)
    try:
        with pytest.raises(StoreError, match="not a reprowatch SQLite store"):
            _run(workers.run(store_batch, [_item("a", "文本")], f"sqlite:///{tmp_path / 'not-a-db'}"))
    finally:
        workers.close()


AD = ("专业代孕服务，包成功包男孩，试管婴儿一条龙，费用透明，全国可做。"
      "联系电话13912345678，微信dy_helper88，签约保障，不成功全额退款。")
OTHER = "出售九成新电动车一辆，电池续航六十公里，价格面议，可小刀。联系王先生，周末看车。"


def test_dedup_batch_clusters_reposts_in_one_batch_and_the_pool_saves_the_index(tmp_path):
    path = str(tmp_path / "neardup.pkl")
    repost = AD.replace("13912345678", "13912345679")
    workers = Workers(2)
    try:
        first = _run(workers.run(dedup_batch, [("ad", AD), ("repost", repost), ("other", OTHER)], path,
                                 first=True))
        # Later batches see the same index: they go to the same (first) worker.
        later = _run(workers.run(dedup_batch, [("repost2", AD + "今日特价"), ("ad", AD)], path, first=True))
    finally:
        workers.close()
    assert first == [(content_hash(AD), "ad"), (content_hash(repost), "ad"), (content_hash(OTHER), "other")]
    assert [cluster for _, cluster in later] == ["ad", "ad"]
    saved = NearDupIndex(tmp_path / "neardup.pkl")  # written when the pool closed
    assert saved.known("repost") == "ad" and saved.known("other") == "other"
