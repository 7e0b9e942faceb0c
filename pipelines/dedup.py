"""Dedup: one record per canonical URL in a run, content hashes, near-duplicate clusters."""

from __future__ import annotations

from scrapy.exceptions import DropItem

from reprowatch.paths import data_dir
from search.neardup import NearDupIndex, content_hash


class DedupPipeline:
    """Drops a second item with the same id in one run; sets content_hash and cluster."""

    def __init__(self):
        self.seen: set[str] = set()
        self.index: NearDupIndex | None = None

    def open_spider(self, spider):
        self.index = NearDupIndex(data_dir() / "neardup.pkl")

    def close_spider(self, spider):
        self.index.save()

    def process_item(self, item, spider):
        if item["id"] in self.seen:
            spider.crawler.stats.inc_value("reprowatch/dropped/duplicate")
            raise DropItem(f"duplicate {item['url']}")
        self.seen.add(item["id"])
        item["content_hash"] = content_hash(item["text"])
        item["cluster"] = self.index.cluster(item["id"], item["text"])
        return item
