"""Evidence capture for flagged items (evidence/capture.py), before the item is stored."""

from __future__ import annotations

import asyncio

from evidence import custody
from evidence.capture import DEFAULT_CHROMIUM, Renderer, capture
from pipelines.shared import Shared
from reprowatch.paths import data_dir
from search.store import StoreError, open_store

# One Chromium per process, shared by the crawls running in it (`crawl --all` runs every source
# in one process): a Chromium per source would multiply memory, and the concurrency bound
# would no longer bound anything.
_RENDERERS: Shared[Renderer] = Shared(Renderer)


class EvidencePipeline:
    """Captures a flagged item's page into ``data/evidence/<id>/<time>/``, sets
    ``item["evidence"]`` and records a custody event; removes the spider's raw ``_response``
    from every item, flagged or not, so it is never stored.

    An item already stored with the same text and a capture keeps that capture: the store
    keeps a record's evidence while its text is unchanged, and a new capture of unchanged text
    would only fill the disk. Settings: ``REPROWATCH_EVIDENCE`` (default on),
    ``CHROMIUM`` (default /usr/bin/chromium), ``REPROWATCH_EVIDENCE_CONCURRENCY`` (pages
    rendered at once in this process, default 2).
    """

    def __init__(self, crawler, enabled: bool, chromium: str, concurrency: int, store_url: str | None):
        self.crawler = crawler
        self.stats = crawler.stats
        self.enabled = enabled
        self.store_url = store_url
        self.renderer_options = {"executable": chromium, "concurrency": concurrency,
                                 "timeout": crawler.settings.getfloat("DOWNLOAD_TIMEOUT", 30),
                                 "user_agent": crawler.settings.get("USER_AGENT")}
        self.renderer_key = tuple(self.renderer_options.values())
        self.renderer: Renderer | None = None
        self.store = None
        self.data = None

    @classmethod
    def from_crawler(cls, crawler):
        s = crawler.settings
        return cls(crawler, s.getbool("REPROWATCH_EVIDENCE", True), s.get("CHROMIUM") or DEFAULT_CHROMIUM,
                   s.getint("REPROWATCH_EVIDENCE_CONCURRENCY", 2), s.get("REPROWATCH_STORE") or None)

    def open_spider(self):
        self.data = data_dir()
        if not self.enabled:
            return
        self.renderer = _RENDERERS.acquire(self.renderer_key, **self.renderer_options)
        try:
            self.store = open_store(self.store_url)
        except StoreError as exc:
            # Captures go on; their custody events wait in data/custody-pending.jsonl.
            self.crawler.spider.logger.error("evidence: store unavailable (%s)", exc)

    async def process_item(self, item):
        response = item.pop("_response", None)
        if not self.enabled or not item.get("flagged"):
            return item
        if await asyncio.to_thread(self._has_capture, item):
            self.stats.inc_value("reprowatch/evidence/kept")
            return item
        try:
            evidence = await capture(item, response, self.renderer, self.data, source=self.crawler.spider.name)
        except Exception as exc:  # noqa: BLE001 — a failed capture must not cost the item itself
            self.crawler.spider.logger.error("evidence: capture of %s failed: %s", item.get("url"), exc)
            self.stats.inc_value("reprowatch/errors/evidence_capture")
            return item
        item["evidence"] = evidence
        self.stats.inc_value("reprowatch/evidence/captured")
        if not any(f["path"].endswith("/screenshot.png") for f in evidence["files"]):
            self.stats.inc_value("reprowatch/evidence/no_screenshot")
        await asyncio.to_thread(self._record, item, evidence)
        return item

    def _has_capture(self, item) -> bool:
        if self.store is None:
            return False
        try:
            stored = self.store.get(item["id"])
        except StoreError:
            return False
        return bool(stored and stored.get("evidence", {}).get("files")
                    and stored.get("content_hash") == item.get("content_hash"))

    def _record(self, item, evidence) -> None:
        fields = {"item": item["id"], "url": item.get("url"), "dir": evidence["dir"],
                  "files_sha256": custody.files_digest(evidence["files"])}
        if self.store is None:
            custody.queue(self.data, "capture", **fields)
            return
        try:
            custody.record(self.store, "capture", data_dir=self.data, **fields)
        except StoreError as exc:
            self.crawler.spider.logger.error("evidence: custody log not written: %s", exc)

    async def close_spider(self):
        if self.renderer is not None and _RENDERERS.release(self.renderer) is not None:
            await self.renderer.close()
        if self.store is not None:
            self.store.close()
