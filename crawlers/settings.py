"""Scrapy settings for reprowatch's spiders.

Politeness first: these sites are monitored daily for months, and a crawler that hammers
them gets blocked or, worse, changes what they serve. Each value says why it is what it is.
"""

import os

BOT_NAME = "reprowatch"
SPIDER_LOADER_CLASS = "crawlers.loader.SourceSpiderLoader"
REPROWATCH_SOURCES = os.environ.get("REPROWATCH_SOURCES", "sources")
# Identify ourselves: site operators and the regulator's own abuse desks can see who we are.
USER_AGENT = "Mozilla/5.0 (compatible; reprowatch/0.1; +违法辅助生殖广告监测系统)"
ROBOTSTXT_OBEY = True  # per source: obey_robots
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
# Client-side routes (/#/item/12) are distinct pages of a rendered source.
REQUEST_FINGERPRINTER_CLASS = "crawlers.fingerprint.RouteFingerprinter"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = os.environ.get("REPROWATCH_LOG_LEVEL", "WARNING")

CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 8
# Scrapy starts this many tasks for the output of every response; a page gives one item, a
# few forum floors or a list of links, so Scrapy's 100 cost more in task churn than they give.
CONCURRENT_ITEMS = 16
# AutoThrottle adapts to each server's latency; the start delay is small because most
# sources are slow forums where latency, not our delay, dominates.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0
DOWNLOAD_DELAY = 0

DOWNLOAD_TIMEOUT = 20  # slow Chinese hosts often need > 10 s
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
REDIRECT_ENABLED = True
REDIRECT_MAX_TIMES = 10
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024   # pages with an ad after megabytes of filler still count
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DEPTH_LIMIT = 8                      # per source: max_depth
DEPTH_PRIORITY = 1                   # breadth first: list pages before deep pagination
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

# Scrapy's remote-control extension runs Python code sent to a local HTTP port: no place for
# it in a monitoring service that holds evidence.
REMOTE_CONTROL_ENABLED = False

SPIDER_MIDDLEWARES = {
    "crawlers.middlewares.TrapGuardMiddleware": 900,
    "crawlers.resume.ResumeMiddleware": 910,
}
DUPEFILTER_CLASS = "crawlers.resume.RunDupeFilter"
ITEM_PIPELINES = {
    "pipelines.clean.CleanTextPipeline": 100,
    "pipelines.dedup.DedupPipeline": 200,
    "pipelines.classify.ClassifyPipeline": 300,
    # Captures evidence of flagged items, and strips the raw response from every item.
    "pipelines.evidence.EvidencePipeline": 800,
    "pipelines.store.StorePipeline": 900,
}
# Classification, MinHash signatures and index tokens run in worker processes so the reactor
# thread keeps downloading (pipelines/workers.py); 0 computes in the crawl process.
REPROWATCH_WORKERS = int(os.environ.get("REPROWATCH_WORKERS", "1"))
# Items are stored in batches by a writer thread (pipelines/store.py).
REPROWATCH_STORE_BATCH = 64
REPROWATCH_STORE_DELAY = 0.2   # seconds an item may wait for its batch to fill
# Evidence capture (pipelines/evidence.py): on for every crawl; captures rendered at once.
REPROWATCH_EVIDENCE = os.environ.get("REPROWATCH_EVIDENCE", "1") != "0"
REPROWATCH_EVIDENCE_CONCURRENCY = 2
# Browser rendering (`render: browser` sources only; see crawlers/browser.py). Debian's own
# Chromium, never a Playwright download: it is patched by the distribution and has the CJK
# fonts (fonts-noto-cjk) that Chinese pages and screenshots need.
CHROMIUM = os.environ.get("REPROWATCH_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "executable_path": CHROMIUM,
    "headless": True,
    # No sandbox: crawls run as a service user inside containers where Chromium's sandbox
    # cannot start. Everything that phones home (updates, sync, QUIC probes) is off so the
    # only traffic is the pages we crawl.
    "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
}
# Pages rendered at once = BROWSER_CONTEXTS x PLAYWRIGHT_MAX_PAGES_PER_CONTEXT (8, as many as
# CONCURRENT_REQUESTS_PER_DOMAIN): more only queues inside Chromium and costs memory. One
# context at a time: pages of different contexts cannot share renderer processes, and two
# contexts of 4 pages rendered ~15% slower than one of 8 (bench/browser.py).
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 8
BROWSER_CONTEXTS = 1
# A context is retired after this many pages and closed when its last page closes, so a
# months-long crawl of a leaky single-page app does not grow Chromium's memory. A new context
# costs ~2 s of CPU (new renderer processes, cold caches): every 100 pages that was 10 % of
# the render (bench/browser.py), every 1,000 it is 1 %, and memory still levels off.
BROWSER_CONTEXT_PAGES = int(os.environ.get("REPROWATCH_BROWSER_CONTEXT_PAGES", "1000"))
# A tab is navigated to the next page of its context after a successful render, up to this
# many pages, instead of being closed: a new tab is a new renderer process. On the bench's
# 1,000 pages (bench/browser.py): 1 use 7.1 pages/s, peak PSS 1,054 MiB; 10 uses 13.0 pages/s,
# 1,146 MiB; 50 uses 13.1 pages/s, 1,692 MiB (each tab's heap grows with its pages).
BROWSER_TAB_USES = int(os.environ.get("REPROWATCH_BROWSER_TAB_USES", "10"))
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30_000  # ms; per source: browser.timeout

# Trap control: a URL shape (digits and query values abstracted) that has produced this
# many pages and no item is a calendar or session trap; its further links are dropped.
TRAP_PAGES_WITHOUT_ITEMS = 30
