"""Running crawls in this process with a live progress line and a summary.

Each source crawls with a Scrapy JOBDIR under ``data/jobs/<source>``: if the process is
killed, the next run resumes the same crawl (pending requests, seen fingerprints) instead
of starting over; after a crawl that finished, the folder is removed so the next scheduled
run revisits every page.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from crawlers.sources import Source

_FINISHED = {"finished", "closespider_pagecount", "closespider_itemcount"}


@dataclass
class CrawlSummary:
    """What one source's crawl did."""

    source: str
    pages: int = 0
    items: int = 0
    new: int = 0
    changed: int = 0
    flagged: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    finish_reason: str = ""
    seconds: float = 0.0
    robots_blocked: int = 0

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _summary(name: str, stats: dict, seconds: float) -> CrawlSummary:
    errors = {k.rsplit("/", 1)[1]: v for k, v in stats.items() if k.startswith("reprowatch/errors/")}
    for key, value in stats.items():
        # IgnoreRequest is how robots.txt and the trap guard say no; counted separately.
        if key.startswith("downloader/exception_type_count/") and not key.endswith("IgnoreRequest"):
            errors[key.rsplit(".", 1)[-1]] = value
    return CrawlSummary(name, stats.get("reprowatch/pages", 0), stats.get("reprowatch/items", 0),
                        stats.get("reprowatch/new", 0), stats.get("reprowatch/changed", 0),
                        stats.get("reprowatch/flagged", 0), errors, stats.get("finish_reason", ""),
                        round(seconds, 1), stats.get("reprowatch/robots_blocked", 0))


def _freeze_heap_when_open(crawlers: list) -> None:
    """Once every spider of the run is open, move what is alive (modules, rule packs, the
    near-duplicate index) out of the garbage collector's sight: it would otherwise rescan them
    in every full collection of the crawl, about a twentieth of the crawl process's time."""
    from scrapy import signals

    opened = []

    def spider_opened() -> None:
        opened.append(1)
        if len(opened) == len(crawlers):
            gc.collect()
            gc.freeze()

    for crawler in crawlers:
        crawler.signals.connect(spider_opened, signal=signals.spider_opened, weak=False)


def run_crawls(sources: list[Source], sources_dir: str | None = None, store: str | None = None,
               data_dir: str | None = None, progress: bool = True, settings_overrides: dict | None = None
               ) -> list[CrawlSummary]:
    """Crawl the given sources concurrently; blocks until all are done."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawlers.settings")
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings
    from twisted.internet import task

    from crawlers.spiders.source import SourceSpider
    from reprowatch.paths import data_dir as default_data_dir

    data = default_data_dir() if data_dir is None else data_dir
    settings = get_project_settings()
    if sources_dir:
        settings.set("REPROWATCH_SOURCES", str(sources_dir))
    if store:
        settings.set("REPROWATCH_STORE", store)
    # The terminal shows the progress line and the summary; Scrapy's log goes to a file.
    logs = os.path.join(str(data), "logs")
    os.makedirs(logs, exist_ok=True)
    settings.set("LOG_FILE", os.path.join(logs, time.strftime("crawl-%Y%m%d-%H%M%S.log")))
    settings.set("LOG_LEVEL", os.environ.get("REPROWATCH_LOG_LEVEL", "INFO"))
    for key, value in (settings_overrides or {}).items():
        settings.set(key, value)
    settings.set("LOG_INSTALL_ROOT_HANDLER", True)
    process = CrawlerProcess(settings)
    sys.stderr.write(f"日志: {settings.get('LOG_FILE')}\n")
    crawlers = []
    started = time.monotonic()
    jobdirs = {}
    for source in sources:
        spider_cls = SourceSpider.for_source(source)
        jobdir = os.path.join(str(data), "jobs", source.name)
        jobdirs[source.name] = jobdir
        spider_cls.custom_settings = {**spider_cls.custom_settings, "JOBDIR": jobdir}
        crawlers.append(process.create_crawler(spider_cls))
    _freeze_heap_when_open(crawlers)
    for crawler in crawlers:
        process.crawl(crawler)

    def show():
        totals = {"pages": 0, "items": 0, "flagged": 0, "errors": 0}
        for c in crawlers:
            stats = c.stats.get_stats() if c.stats else {}
            totals["pages"] += stats.get("reprowatch/pages", 0)
            totals["items"] += stats.get("reprowatch/items", 0)
            totals["flagged"] += stats.get("reprowatch/flagged", 0)
            totals["errors"] += sum(v for k, v in stats.items() if k.startswith("reprowatch/errors/"))
        elapsed = time.monotonic() - started
        sys.stderr.write(f"\r抓取中 {elapsed:6.1f}s  页面 {totals['pages']}  条目 {totals['items']}  "
                         f"违法 {totals['flagged']}  错误 {totals['errors']}   ")
        sys.stderr.flush()

    ticker = None
    if progress:
        ticker = task.LoopingCall(show)
        ticker.start(0.5, now=False)
    process.start()
    if ticker is not None:
        if ticker.running:
            ticker.stop()
        show()
        sys.stderr.write("\n")
    elapsed = time.monotonic() - started
    summaries = []
    for source, crawler in zip(sources, crawlers):
        summary = _summary(source.name, crawler.stats.get_stats(), elapsed)
        summaries.append(summary)
        if summary.finish_reason in _FINISHED:
            shutil.rmtree(jobdirs[source.name], ignore_errors=True)
    return summaries
