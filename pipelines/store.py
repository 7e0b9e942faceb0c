"""Store items; spool them when the store is down; record the crawl run."""

from __future__ import annotations

from scrapy import signals

from crawlers.canonical import canonical_route_url, is_route
from crawlers.resume import mark_done
from crawlers.spiders.source import utc_now
from search.spool import Spool
from search.store import StoreError, open_store


class StorePipeline:
    """Upserts items into the store named by setting REPROWATCH_STORE (or the default)."""

    def __init__(self, url: str | None, stats, jobdir: str | None = None):
        self.url = url
        self.jobdir = jobdir
        self.stats = stats
        self.store = None
        self.spool = None
        self.started = utc_now()

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler.settings.get("REPROWATCH_STORE") or None, crawler.stats, crawler.settings.get("JOBDIR"))
        # The run is recorded on spider_closed, the first moment the finish reason is known
        # (pipelines close before it): health checks and the scheduler need to tell a finished
        # crawl from one stopped by its time limit or a shutdown.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    def open_spider(self, spider):
        self.started = utc_now()
        try:
            self.store = open_store(self.url)
        except StoreError as exc:
            spider.logger.error("store unavailable, spooling items: %s", exc)
            self.store = None

    def process_item(self, item, spider):
        self.stats.inc_value("reprowatch/items")
        stored = False
        if self.store is not None:
            try:
                outcome = self.store.upsert(dict(item)).outcome
                self.stats.inc_value(f"reprowatch/{outcome}")
                stored = True
            except StoreError as exc:
                spider.logger.error("store failed, spooling from now on: %s", exc)
                self.store = None
        if not stored:
            if self.spool is None:
                self.spool = Spool()
            self.spool.append(dict(item))
            self.stats.inc_value("reprowatch/spooled")
        # Only now is the page safe: a resumed crawl need not fetch it again.
        # A post anchor (page#pid) is part of its page; a client-side route (/#/item/12) is a page.
        page = item["url"] if is_route(item["url"]) else item["url"].split("#", 1)[0]
        mark_done(self.jobdir, [page, canonical_route_url(item.get("requested_url") or item["url"])])
        return item

    def close_spider(self, spider):
        if self.spool is not None:
            self.spool.close()

    def spider_closed(self, spider, reason):
        """Record the crawl run, with why it ended."""
        stats = self.stats.get_stats()
        errors = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("reprowatch/errors/")}
        for key, value in stats.items():
            if key.startswith("downloader/exception_type_count/") and not key.endswith("IgnoreRequest"):
                errors[key.rsplit("/", 1)[1].rsplit(".", 1)[-1]] = value
        run = {"source": spider.name, "started": self.started, "finished": utc_now(),
               "pages": stats.get("reprowatch/pages", 0), "items": stats.get("reprowatch/items", 0),
               "new": stats.get("reprowatch/new", 0), "changed": stats.get("reprowatch/changed", 0),
               "flagged": stats.get("reprowatch/flagged", 0), "spooled": stats.get("reprowatch/spooled", 0),
               "robots_blocked": stats.get("reprowatch/robots_blocked", 0),
               "trap_dropped": stats.get("reprowatch/trap_dropped", 0),
               "errors": errors, "finish_reason": reason}
        try:
            store = self.store or open_store(self.url)
            store.record_run(run)
            store.close()
        except StoreError as exc:
            spider.logger.error("could not record the crawl run: %s", exc)
