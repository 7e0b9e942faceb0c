"""Store items in batches, in the worker process; spool them when the store is down; record
the crawl run."""

from __future__ import annotations

from scrapy import signals

from crawlers.canonical import canonical_route_url, is_route
from crawlers.resume import mark_done
from crawlers.spiders.source import utc_now
from pipelines import workers
from search.spool import Spool
from search.store import StoreError, open_store, store_url


class StorePipeline:
    """Upserts items into the store named by setting REPROWATCH_STORE (or the default).

    One upsert per item would make every page wait for a transaction and for jieba on the
    reactor thread. Items are instead collected for up to ``REPROWATCH_STORE_DELAY`` seconds
    or ``REPROWATCH_STORE_BATCH`` items and written with ``Store.bulk_upsert`` by the first
    worker process (:func:`pipelines.workers.store_batch`; one writer, batches in order),
    which also tokenises them; each item's ``process_item`` returns when its batch is
    stored, so "scraped" still means "stored".
    The crawl process opens the store too, to find out at once whether it is down and to
    record the run.
    """

    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.settings = settings
        self.url = store_url(settings.get("REPROWATCH_STORE") or None)
        self.jobdir = settings.get("JOBDIR")
        self.batch_size = max(1, settings.getint("REPROWATCH_STORE_BATCH", 64))
        self.delay = settings.getfloat("REPROWATCH_STORE_DELAY", 0.2)
        self.stats = crawler.stats
        self.store = None
        self.spool = None
        self.workers = None
        self.batches = None
        self.started = utc_now()

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler)
        # The run is recorded on spider_closed, the first moment the finish reason is known
        # (pipelines close before it): health checks and the scheduler need to tell a finished
        # crawl from one stopped by its time limit or a shutdown.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def logger(self):
        return self.crawler.spider.logger

    def open_spider(self):
        self.started = utc_now()
        self.workers = workers.acquire(self.settings)
        self.batches = workers.Batcher(self._write, self.batch_size, self.delay)
        try:
            self.store = open_store(self.url)
        except StoreError as exc:
            self.logger.error("store unavailable, spooling items: %s", exc)
            self.store = None

    async def process_item(self, item):
        self.stats.inc_value("reprowatch/items")
        await self.batches(dict(item))
        return item

    async def _write(self, items: list[dict]) -> list:
        """Store a batch (spool it if the store is down); one result per item: None, or the
        ValueError of a malformed item."""
        outcomes = [None] * len(items)
        if self.store is not None:
            try:
                outcomes = await self.workers.run(workers.store_batch, items, self.url, first=True)
            except StoreError as exc:
                self.logger.error("store failed, spooling from now on: %s", exc)
                self.store.close()
                self.store = None
        results, done = [], []
        for item, outcome in zip(items, outcomes):
            if isinstance(outcome, ValueError):
                results.append(outcome)
                continue
            if outcome is None:
                if self.spool is None:
                    self.spool = Spool()
                self.spool.append(item)
                self.stats.inc_value("reprowatch/spooled")
            else:
                self.stats.inc_value(f"reprowatch/{outcome}")
            # Only now is the page safe: a resumed crawl need not fetch it again.
            # A post anchor (page#pid) is part of its page; a client-side route (/#/item/12) is a page.
            page = item["url"] if is_route(item["url"]) else item["url"].split("#", 1)[0]
            done += [page, canonical_route_url(item.get("requested_url") or item["url"])]
            results.append(None)
        mark_done(self.jobdir, done)
        return results

    async def close_spider(self):
        await self.batches.drain()
        workers.release(self.workers)
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
        if stats.get("reprowatch/browser/pages"):
            run["browser"] = {key: stats.get(f"reprowatch/browser/{key}", 0) for key in
                              ("pages", "clicks", "scrolls", "wait_for_timeout", "tabs_reused",
                               "contexts_recycled", "popups_closed")}
        try:
            store = self.store or open_store(self.url)
            store.record_run(run)
            store.close()
        except StoreError as exc:
            spider.logger.error("could not record the crawl run: %s", exc)
