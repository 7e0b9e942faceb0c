"""Spider middleware that caps crawler traps (infinite calendars, session-id loops)."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

import scrapy
from scrapy.exceptions import NotConfigured

_DIGITS = re.compile(r"\d+")


def url_shape(url: str) -> str:
    """A URL with digits and query values abstracted: /calendar?date=* for every day."""
    parts = urlsplit(url)
    keys = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True)})
    return parts.netloc + _DIGITS.sub("#", parts.path) + ("?" + "&".join(f"{k}=*" for k in keys) if keys else "")


class TrapGuardMiddleware:
    """Drops links of a URL shape that keeps producing pages but never leads to an item.

    A page is productive when it yields an item or links to an item page (a list page is
    productive through its posts). A shape with TRAP_PAGES_WITHOUT_ITEMS unproductive pages
    and no productive one is a trap: its further links are dropped and counted.
    """

    def __init__(self, limit: int, crawler):
        self.limit = limit
        self.crawler = crawler
        self.stats = crawler.stats
        self.pages: Counter[str] = Counter()
        self.productive: Counter[str] = Counter()

    @classmethod
    def from_crawler(cls, crawler):
        limit = crawler.settings.getint("TRAP_PAGES_WITHOUT_ITEMS", 30)
        if limit <= 0:
            raise NotConfigured
        return cls(limit, crawler)

    def _is_trap(self, shape: str) -> bool:
        return self.pages[shape] >= self.limit and not self.productive[shape]

    def _keep(self, out, shape: str, spider) -> bool:
        if isinstance(out, scrapy.Request):
            if getattr(spider, "_is_item", lambda url: False)(out.url):
                self.productive[shape] += 1
            elif self._is_trap(url_shape(out.url)):
                self.stats.inc_value("reprowatch/trap_dropped")
                spider.logger.info("trap: dropping %s", out.url)
                return False
        else:
            self.productive[shape] += 1
        return True

    def process_spider_output(self, response, result):
        shape = url_shape(response.url)
        self.pages[shape] += 1
        for out in result:
            if self._keep(out, shape, self.crawler.spider):
                yield out

    async def process_spider_output_async(self, response, result):
        shape = url_shape(response.url)
        self.pages[shape] += 1
        async for out in result:
            if self._keep(out, shape, self.crawler.spider):
                yield out
