"""Resuming a killed crawl without losing items.

Scrapy's JOBDIR keeps the request queue on disk, but its persistent duplicate filter records
a request when it is scheduled: requests in flight when the process is killed are neither
in the queue nor fetched again, and their items are lost. So here the duplicate filter
lives for one run only, start URLs are requested again on resume (lists are cheap), and
item pages already stored are remembered in ``JOBDIR/done.txt`` (written by the store
pipeline after each upsert) and not fetched again.
"""

from __future__ import annotations

import os
from pathlib import Path

import scrapy
from scrapy.dupefilters import RFPDupeFilter

from crawlers.canonical import canonical_route_url

DONE_FILE = "done.txt"


class RunDupeFilter(RFPDupeFilter):
    """Scrapy's request filter without its JOBDIR file (see the module docstring)."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(None, crawler.settings.getbool("DUPEFILTER_DEBUG"),
                   fingerprinter=crawler.request_fingerprinter)


def mark_done(jobdir: str | None, urls: list[str]) -> None:
    """Record item pages whose items are stored (appended, flushed at once)."""
    if not jobdir or not urls:
        return
    os.makedirs(jobdir, exist_ok=True)
    with open(os.path.join(jobdir, DONE_FILE), "a", encoding="utf-8") as fh:
        fh.write("".join(f"{u}\n" for u in urls))
        fh.flush()


class ResumeMiddleware:
    """Drops links to item pages a killed run of this crawl already stored."""

    def __init__(self, done: set[str], crawler):
        self.done = done
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        jobdir = crawler.settings.get("JOBDIR")
        done: set[str] = set()
        if jobdir and (Path(jobdir) / DONE_FILE).exists():
            done = set((Path(jobdir) / DONE_FILE).read_text(encoding="utf-8").split())
        return cls(done, crawler)

    def _keep(self, out, spider) -> bool:
        if not self.done or not isinstance(out, scrapy.Request):
            return True
        # Route fragments (/#/item/12) name pages of rendered sources; static links have none.
        url = canonical_route_url(out.url)
        is_item = getattr(spider, "_is_item", lambda u: False)
        is_follow = getattr(spider, "_is_follow", lambda u: False)
        # A page that is also a list (forum thread pages) is fetched again for its links.
        return not (url in self.done and is_item(url) and not is_follow(url))

    def process_spider_output(self, response, result):
        for out in result:
            if self._keep(out, self.crawler.spider):
                yield out

    async def process_spider_output_async(self, response, result):
        async for out in result:
            if self._keep(out, self.crawler.spider):
                yield out
