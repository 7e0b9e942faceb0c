"""Dedup: one record per canonical URL in a run, content hashes, near-duplicate clusters."""

from __future__ import annotations

from scrapy.exceptions import DropItem

from pipelines import workers
from pipelines.shared import Shared
from reprowatch.paths import data_dir
from search.neardup import NearDupIndex, content_hash

# One index per data folder and process: each crawler of `crawl --all` adds to it, and it is
# saved once, by the last to close.
_INDEXES: Shared[NearDupIndex] = Shared(NearDupIndex)


class DedupPipeline:
    """Drops a second item with the same id in one run; sets content_hash and cluster.

    The MinHash signature of a new item is computed in a worker process; matching it against
    the index stays here, one item at a time, so two reposts in flight cannot both start a
    cluster of their own."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.seen: set[str] = set()
        self.index: NearDupIndex | None = None
        self.workers = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self):
        path = data_dir() / "neardup.pkl"
        self.index = _INDEXES.acquire(str(path), path)
        self.workers = workers.acquire(self.crawler.settings)
        self.signature = self.workers.batched(workers.signatures)

    def close_spider(self):
        if _INDEXES.release(self.index) is not None:
            self.index.save()
        workers.release(self.workers)

    async def process_item(self, item):
        if item["id"] in self.seen:
            self.crawler.stats.inc_value("reprowatch/dropped/duplicate")
            raise DropItem(f"duplicate {item['url']}")
        self.seen.add(item["id"])
        item["content_hash"] = content_hash(item["text"])
        cluster = self.index.known(item["id"])
        if cluster is None:
            cluster = self.index.assign(item["id"], await self.signature(item["text"]))
        item["cluster"] = cluster
        return item
