"""Store items in batches off the reactor thread; spool them when the store is down; record
the crawl run."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from crawlers.canonical import canonical_route_url, is_route
from crawlers.resume import mark_done
from crawlers.spiders.source import utc_now
from pipelines import workers
from search.spool import Spool
from search.store import StoreError, open_store


class StorePipeline:
    """Upserts items into the store named by setting REPROWATCH_STORE (or the default).

    One upsert per item would make every page wait for a transaction and for jieba on the
    reactor thread. Items are instead collected for up to ``REPROWATCH_STORE_DELAY`` seconds
    or ``REPROWATCH_STORE_BATCH`` items and written by one writer thread with
    ``Store.bulk_upsert`` (which has the worker processes tokenise); each item's
    ``process_item`` returns when its batch is stored, so "scraped" still means "stored".
    """

    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.settings = settings
        self.url = settings.get("REPROWATCH_STORE") or None
        self.jobdir = settings.get("JOBDIR")
        self.batch_size = max(1, settings.getint("REPROWATCH_STORE_BATCH", 64))
        self.delay = settings.getfloat("REPROWATCH_STORE_DELAY", 0.2)
        self.stats = crawler.stats
        self.store = None
        self.spool = None
        self.workers = None
        self.writer = None
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.timer = None
        self.writes: set[asyncio.Future] = set()
        self.started = utc_now()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def logger(self):
        return self.crawler.spider.logger

    def open_spider(self):
        self.started = utc_now()
        self.workers = workers.acquire(self.settings)
        # One writer: batches are stored in the order they were made, and SQLite has one
        # writer at a time anyway.
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="store-writer")
        try:
            self.store = open_store(self.url)
        except StoreError as exc:
            self.logger.error("store unavailable, spooling items: %s", exc)
            self.store = None

    async def process_item(self, item):
        self.stats.inc_value("reprowatch/items")
        stored = asyncio.get_running_loop().create_future()
        self.pending.append((dict(item), stored))
        if len(self.pending) >= self.batch_size:
            self._flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.delay, self._flush)
        await stored
        return item

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            task = asyncio.ensure_future(self._write(batch))
            self.writes.add(task)
            task.add_done_callback(self.writes.discard)

    def _upsert(self, items: list[dict]) -> list:
        """In the writer thread: outcomes in order; a malformed item (ValueError) gets its
        error instead of failing its batch. StoreError (store down) propagates."""
        try:
            return [r.outcome for r in self.store.bulk_upsert(items, pool=self.workers)]
        except ValueError:
            outcomes = []
            for item in items:
                try:
                    outcomes.append(self.store.upsert(item).outcome)
                except ValueError as exc:
                    outcomes.append(exc)
            return outcomes

    async def _write(self, batch: list[tuple[dict, asyncio.Future]]) -> None:
        items = [item for item, _ in batch]
        outcomes = [None] * len(items)
        if self.store is not None:
            try:
                outcomes = await asyncio.get_running_loop().run_in_executor(self.writer, self._upsert, items)
            except StoreError as exc:
                self.logger.error("store failed, spooling from now on: %s", exc)
                self.store = None
        for (item, stored), outcome in zip(batch, outcomes):
            if isinstance(outcome, ValueError):
                stored.set_exception(outcome)
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
            mark_done(self.jobdir, [page, canonical_route_url(item.get("requested_url") or item["url"])])
            if not stored.done():
                stored.set_result(None)

    async def close_spider(self):
        self._flush()
        while self.writes:
            await asyncio.gather(*list(self.writes), return_exceptions=True)
        self.writer.shutdown(wait=True)
        workers.release(self.workers)
        spider = self.crawler.spider
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
               "errors": errors, "finish_reason": stats.get("finish_reason", "")}
        try:
            store = self.store or open_store(self.url)
            store.record_run(run)
            store.close()
        except StoreError as exc:
            spider.logger.error("could not record the crawl run: %s", exc)
        if self.spool is not None:
            self.spool.close()
