"""Classify every item with the rule classifier (in a worker process, pipelines/workers.py)."""

from __future__ import annotations

from pipelines import workers


class ClassifyPipeline:
    """Adds the verdict (labels, score, flagged, hits, contacts) to the item."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.rules_dir = crawler.settings.get("REPROWATCH_RULES") or None
        self.workers = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self):
        self.workers = workers.acquire(self.crawler.settings)
        self.classify = self.workers.batched(workers.verdicts, self.rules_dir)

    def close_spider(self):
        workers.release(self.workers)

    async def process_item(self, item):
        verdict = await self.classify(item["text"])
        item.update(flagged=verdict["flagged"], labels=verdict["labels"], score=verdict["score"],
                    hits=verdict["hits"], contacts=verdict["contacts"])
        if verdict["flagged"]:
            self.crawler.stats.inc_value("reprowatch/flagged")
        return item
