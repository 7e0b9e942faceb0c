"""Clean extracted text before anything looks at it."""

from __future__ import annotations

import re

from scrapy.exceptions import DropItem

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_TEXT = 5_000_000  # characters; a bigger "page" is a dump, not an ad, and would bloat the index


class CleanTextPipeline:
    """Strips control characters and runs of blank lines; drops items with no text."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        text = _CONTROL.sub("", item.get("text") or "")
        text = re.sub(r"\n{3,}", "\n\n", text).strip()[:MAX_TEXT]
        if not text:
            self.crawler.stats.inc_value("reprowatch/dropped/empty")
            raise DropItem(f"no text at {item.get('url')}")
        item["text"] = text
        item["title"] = _CONTROL.sub("", item.get("title") or "").strip()
        return item
