"""Dedup: one record per canonical URL in a run, content hashes, near-duplicate clusters."""

from __future__ import annotations

from scrapy.exceptions import DropItem

from pipelines import workers
from reprowatch.paths import data_dir


class DedupPipeline:
    """Drops a second item with the same id in one run; sets content_hash and cluster.

    The hash, the MinHash signature and the cluster come from the first worker process,
    which holds the near-duplicate index of the data folder (``data/neardup.pkl``) for every
    crawler of the process and saves it when the last one is done."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.seen: set[str] = set()
        self.workers = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self):
        self.workers = workers.acquire(self.crawler.settings)
        self.dedup = self.workers.batched(workers.dedup_batch, str(data_dir() / "neardup.pkl"), first=True)

    def close_spider(self):
        workers.release(self.workers)

    async def process_item(self, item):
        if item["id"] in self.seen:
            self.crawler.stats.inc_value("reprowatch/dropped/duplicate")
            raise DropItem(f"duplicate {item['url']}")
        self.seen.add(item["id"])
        item["content_hash"], item["cluster"] = await self.dedup((item["id"], item["text"]))
        return item
