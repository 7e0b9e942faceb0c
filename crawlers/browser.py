"""Rendering `render: browser` sources in Chromium through scrapy-playwright.

Only requests the spider marks with ``playwright: True`` are rendered; robots.txt and every
static source keep Scrapy's own downloader, and static crawls never start a browser (the
handler is installed only in browser sources' crawlers, see :func:`spider_settings`).

Memory is the constraint on long crawls: Chromium keeps caches, JS heaps and history per
browser context, so pages are rendered in ``BROWSER_CONTEXTS`` contexts (one by default) of
at most ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT`` pages, each context retired after
``BROWSER_CONTEXT_PAGES`` pages and closed as soon as its last page is closed
(:class:`BrowserContextMiddleware`); pages are closed by the spider right after use.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy.exceptions import NotConfigured
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from scrapy_playwright.page import PageMethod

logger = logging.getLogger(__name__)

HANDLER = "crawlers.browser.ChromiumDownloadHandler"
# How long to wait for a scroll or a click to bring something new before concluding it
# brought nothing: long enough for an XHR to a slow host, short enough that a page that does
# not lazy-load costs little (it is paid once per page, at the end).
SETTLE_SECONDS = 1.5
# `scroll: auto` and the click loop stop here even if content keeps coming: endless feeds
# are paged by the crawl (max_pages), not by one page growing forever.
MAX_ROUNDS = 50
# Contexts as an officer's browser would be: Chinese locale and Beijing time (sites serve
# different content by both), certificate errors ignored as Scrapy does for static pages
# (dubious sites run on broken TLS), no service workers (they cache and intercept outside
# the page's life and would outlive page.close()).
CONTEXT_KWARGS = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "ignore_https_errors": True,
                  "service_workers": "block"}

# Something the page shows changed: element count and visible text length of the body.
_SIGNATURE = ("() => { const b = document.body;"
              " return b ? b.getElementsByTagName('*').length + ':' + b.innerText.length : ''; }")
_CHANGED = ("(before) => { const b = document.body;"
            " return (b ? b.getElementsByTagName('*').length + ':' + b.innerText.length : '') !== before; }")
# Waits in the page itself for a CSS selector, without Playwright's selector engine: that
# engine is injected into every new page on first use, and on short pages its set-up cost
# more CPU than the rest of the render. Resolves true when the selector matches, false at
# the timeout; an invalid selector throws, as wait_for_selector would.
_WAIT_FOR = """([css, ms]) => new Promise((resolve) => {
  if (document.querySelector(css)) { resolve(true); return; }
  const observer = new MutationObserver(() => {
    if (document.querySelector(css)) { observer.disconnect(); clearTimeout(timer); resolve(true); }
  });
  const timer = setTimeout(() => { observer.disconnect(); resolve(!!document.querySelector(css)); }, ms);
  observer.observe(document, {childList: true, subtree: true, attributes: true});
})"""
_ROOM_BELOW = ("() => { const s = document.scrollingElement || document.body;"
               " return !!s && window.scrollY + window.innerHeight < s.scrollHeight - 2; }")
_TO_BOTTOM = "() => { const s = document.scrollingElement || document.body; window.scrollTo(0, s.scrollHeight); }"


def spider_settings() -> dict:
    """Per-crawler settings that make a browser source's crawler render through Chromium."""
    return {
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "DOWNLOADER_MIDDLEWARES": {"crawlers.browser.BrowserContextMiddleware": 950},
    }


class ChromiumDownloadHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's download handler, one instance for both http and https.

    Scrapy builds one handler per scheme, and each scrapy-playwright handler starts its own
    Playwright driver (a Node.js process of 100+ MB) and, on a site mixing schemes, its own
    Chromium. Sharing the instance halves that; requests without ``playwright: True`` still
    go to Scrapy's plain HTTP/1.1 downloader, which this handler extends.
    """

    _by_crawler: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler):
        handler = cls._by_crawler.get(crawler)
        if handler is None:
            handler = cls._by_crawler[crawler] = cls(crawler)
        return handler

    async def close(self) -> None:
        # Scrapy closes the handler once per scheme it serves.
        if getattr(self, "_closing", False):
            return
        self._closing = True
        await super().close()


def request_meta(options: dict) -> dict:
    """Request meta that renders one page with the source's `browser:` options."""
    timeout_ms = options["timeout"] * 1000
    return {
        "playwright": True,
        # The spider closes the page itself once it has the rendered DOM (evidence capture
        # will screenshot it first); failed renders are closed by BrowserContextMiddleware.
        "playwright_include_page": True,
        # With a wait_for there is no need to wait for images and fonts ("load"): the
        # selector says when the content is there.
        "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded" if options.get("wait_for") else "load",
                                        "timeout": timeout_ms},
        "playwright_page_methods": [PageMethod(render, options)],
    }


async def render(page, options: dict) -> dict:
    """Wait for the content, scroll, click 加载更多; returns what was done (for stats)."""
    timeout_ms = options["timeout"] * 1000
    settle_ms = min(SETTLE_SECONDS * 1000, timeout_ms)
    done = {"wait_for": None, "scrolls": 0, "clicks": 0}
    if options.get("wait_for"):
        # On a timeout the page is kept as rendered: a removed post or an error view is still
        # a page the officers may need to see; the spider counts it.
        found = await _wait_for(page, options["wait_for"], timeout_ms)
        done["wait_for"] = "ok" if found else "timeout"
    scroll = options.get("scroll") or 0
    if scroll:
        done["scrolls"] = await _scroll(page, MAX_ROUNDS if scroll == "auto" else int(scroll), settle_ms)
    if options.get("click"):
        done["clicks"] = await _click(page, options["click"], timeout_ms, settle_ms)
    return done


async def _wait_for(page, css: str, timeout_ms: float) -> bool:
    """True once ``css`` matches, False at the timeout; survives the page navigating once
    (a JavaScript redirect to the real page destroys the context the wait runs in)."""
    for attempt in range(2):
        try:
            return await page.evaluate(_WAIT_FOR, [css, timeout_ms])
        except PlaywrightError as exc:
            if attempt or "context was destroyed" not in str(exc):
                raise
            await page.wait_for_load_state("domcontentloaded", timeout=timeout_ms)
    return False


async def _changed(page, before: str, settle_ms: float) -> bool:
    try:
        await page.wait_for_function(_CHANGED, arg=before, timeout=settle_ms)
        return True
    except PlaywrightTimeoutError:
        return False


async def _scroll(page, rounds: int, settle_ms: float) -> int:
    """Scroll to the bottom up to ``rounds`` times, stopping when a scroll brings nothing new."""
    scrolls = 0
    for _ in range(rounds):
        if not await page.evaluate(_ROOM_BELOW):
            break  # everything is already in view: there is nothing a scroll could trigger
        before = await page.evaluate(_SIGNATURE)
        await page.evaluate(_TO_BOTTOM)
        scrolls += 1
        if not await _changed(page, before, settle_ms):
            break
    return scrolls


async def _click_target(page, target: str):
    """The locator of a click target given as CSS (when it matches) or as its visible text."""
    css = page.locator(target)
    try:
        if await css.count():
            return css
    except PlaywrightError:
        pass  # not valid CSS: it is a text such as 加载更多
    return (page.get_by_role("button", name=target)
            .or_(page.get_by_role("link", name=target))
            .or_(page.get_by_text(target, exact=True)))


async def _click(page, target: str, timeout_ms: float, settle_ms: float) -> int:
    """Click a 加载更多 button until it disappears or a click brings nothing new."""
    locator = await _click_target(page, target)
    clicks = 0
    for _ in range(MAX_ROUNDS):
        button = locator.first
        if not await locator.count() or not await button.is_visible():
            break
        before = await page.evaluate(_SIGNATURE)
        try:
            await button.click(timeout=timeout_ms)
        except PlaywrightError:
            break  # stayed disabled, or went away while we waited for it
        clicks += 1
        if not await _changed(page, before, settle_ms):
            break
    return clicks


class ContextPool:
    """Spreads pages over ``contexts`` browser contexts; each is retired after ``pages`` pages.

    A retired context takes no new page and is closed once the last page given to it is
    released, so no render is cut off and Chromium gets the context's memory back.
    """

    def __init__(self, contexts: int, pages: int):
        self.generation = [0] * contexts
        self.given = [0] * contexts
        self.next_slot = 0
        self.pages = pages
        self.pending: Counter[str] = Counter()
        self.retired: set[str] = set()
        self.contexts: dict[str, object] = {}
        self.closed = 0

    def assign(self) -> str:
        """The context name for the next page."""
        slot = self.next_slot
        self.next_slot = (slot + 1) % len(self.generation)
        name = f"render-{slot}-{self.generation[slot]}"
        self.pending[name] += 1
        self.given[slot] += 1
        if self.given[slot] >= self.pages:
            self.retired.add(name)
            self.generation[slot] += 1
            self.given[slot] = 0
        return name

    def seen(self, name: str, context) -> None:
        """Remember the context object behind a name (learnt from one of its pages)."""
        self.contexts.setdefault(name, context)

    async def release(self, name: str) -> None:
        """One page of ``name`` is done; close the context if it is retired and idle."""
        self.pending[name] -= 1
        if self.pending[name] > 0 or name not in self.retired:
            return
        del self.pending[name]
        self.retired.discard(name)
        context = self.contexts.pop(name, None)
        if context is not None:
            self.closed += 1
            try:
                await context.close()
            except PlaywrightError:
                pass  # the browser went away first; nothing is left to free


class BrowserContextMiddleware:
    """Gives each rendered request a context from a :class:`ContextPool`; recycles contexts.

    Pages of failed renders (exceptions, non-2xx answers) are closed here, before the retry
    middleware sees them: a retried request re-queued with its page still open would hold a
    page slot while it waits in the scheduler, and enough of them would stall the crawl.
    """

    _TOKEN = "reprowatch_context"

    def __init__(self, pool: ContextPool, stats):
        self.pool = pool
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        contexts = crawler.settings.getint("BROWSER_CONTEXTS", 1)
        pages = crawler.settings.getint("BROWSER_CONTEXT_PAGES", 100)
        if contexts <= 0 or pages <= 0:
            raise NotConfigured
        return cls(ContextPool(contexts, pages), crawler.stats)

    def process_request(self, request):
        if request.meta.get("playwright") and self._TOKEN not in request.meta:
            name = self.pool.assign()
            request.meta[self._TOKEN] = name
            request.meta["playwright_context"] = name
            request.meta["playwright_context_kwargs"] = CONTEXT_KWARGS
        return None

    async def process_response(self, request, response):
        name = request.meta.pop(self._TOKEN, None)
        if name is None:
            return response
        page = request.meta.get("playwright_page")
        if page is not None and 200 <= response.status < 300 and not page.is_closed():
            self.pool.seen(name, page.context)
            # Released when the spider closes the page after parsing it.
            page.once("close", lambda _page: self._closed(name))
            return response
        await self._discard(name, request)
        return response

    async def process_exception(self, request, exception):
        name = request.meta.pop(self._TOKEN, None)
        if name is not None:
            await self._discard(name, request)
        return None

    async def _closed(self, name: str) -> None:
        before = self.pool.closed
        await self.pool.release(name)
        if self.pool.closed > before:
            self.stats.inc_value("reprowatch/browser/contexts_recycled")

    async def _discard(self, name: str, request) -> None:
        page = request.meta.pop("playwright_page", None)
        if page is not None:
            self.pool.seen(name, page.context)
            if not page.is_closed():
                try:
                    await page.close()
                except PlaywrightError:
                    pass
        await self._closed(name)
