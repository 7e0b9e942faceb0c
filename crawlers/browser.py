"""Rendering `render: browser` sources in Chromium through scrapy-playwright.

Only requests the spider marks with ``playwright: True`` are rendered; robots.txt and every
static source keep Scrapy's own downloader, and static crawls never start a browser (the
handler is installed only in browser sources' crawlers, see :func:`spider_settings`).

Memory is the constraint on long crawls: Chromium keeps caches, JS heaps and history per
browser context, so pages are rendered in ``BROWSER_CONTEXTS`` contexts (one by default) of
at most ``PLAYWRIGHT_MAX_PAGES_PER_CONTEXT`` pages, each context retired after
``BROWSER_CONTEXT_PAGES`` renders and closed as soon as its last render is done; a tab is
navigated to the next page up to ``BROWSER_TAB_USES`` times and then closed
(:class:`ContextPool`, run by :class:`ChromiumDownloadHandler`).
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from urllib.parse import urldefrag

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

logger = logging.getLogger(__name__)

HANDLER = "crawlers.browser.ChromiumDownloadHandler"
# Request meta: the source's `browser:` options in, what :func:`render` did out.
RENDER, RENDERED = "reprowatch_render", "reprowatch_rendered"
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
    return {"DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER}}


class ChromiumDownloadHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's download handler, one instance for both http and https, rendering
    in the reused tabs and recycled contexts of a :class:`ContextPool`.

    Scrapy builds one handler per scheme, and each scrapy-playwright handler starts its own
    Playwright driver (a Node.js process of 100+ MB) and, on a site mixing schemes, its own
    Chromium. Sharing the instance halves that; requests without ``playwright: True`` still
    go to Scrapy's plain HTTP/1.1 downloader, which this handler extends.
    """

    _by_crawler: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    def __init__(self, crawler):
        super().__init__(crawler)
        settings = crawler.settings
        self.pool = ContextPool(max(settings.getint("BROWSER_CONTEXTS", 1), 1),
                                max(settings.getint("BROWSER_CONTEXT_PAGES", 1000), 1),
                                max(settings.getint("BROWSER_TAB_USES", 1), 1))

    @classmethod
    def from_crawler(cls, crawler):
        handler = cls._by_crawler.get(crawler)
        if handler is None:
            handler = cls._by_crawler[crawler] = cls(crawler)
        return handler

    async def _download_request(self, request, spider=None):
        # Every rendered request (a retry too) is given the pool's current context and,
        # when one suits, an idle tab of it. The tab comes back in the request's meta
        # ("playwright_include_page"), is taken out again here, so it never reaches the
        # spider, and goes back to the pool.
        name = self.pool.assign()
        meta = request.meta
        meta["playwright_context"] = name
        meta["playwright_context_kwargs"] = CONTEXT_KWARGS
        meta["playwright_include_page"] = True
        tab = await self.pool.tab(name, request.url)
        if tab is not None:
            meta["playwright_page"] = tab
            self.stats.inc_value("reprowatch/browser/tabs_reused")
        response = None
        try:
            response = await super()._download_request(request, spider)
            return response
        finally:
            page = meta.pop("playwright_page", None)
            reusable = response is not None and 200 <= response.status < 300
            if await self.pool.release(name, page, reusable):
                self.stats.inc_value("reprowatch/browser/contexts_recycled")

    async def _create_browser_context(self, name, context_kwargs, spider=None):
        wrapper = await super()._create_browser_context(name, context_kwargs, spider)
        self.pool.contexts[name] = wrapper.context
        wrapper.context.on("page", self._close_popup)
        return wrapper

    async def _close_popup(self, page) -> None:
        # Playwright lets pages open windows freely (no popup blocker), and ad sites open
        # them on load; nobody would close them before the context is retired, so a context
        # of 1,000 renders could hold hundreds. Our own tabs have no opener.
        try:
            opener = await page.opener()
        except PlaywrightError:
            return
        if opener is not None:
            self.stats.inc_value("reprowatch/browser/popups_closed")
            await _close(page)

    async def _apply_page_methods(self, page, request, spider) -> None:
        # The source's `browser:` options, applied here rather than as a PageMethod:
        # scrapy-playwright waits for the "load" event after every PageMethod, which would
        # hold each page open until its last image arrived although wait_for has already
        # found the content (and costs a round trip to Chromium per page).
        options = request.meta.get(RENDER)
        if options is not None:
            request.meta[RENDERED] = await render(page, options)
        await super()._apply_page_methods(page, request, spider)

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
        # With a wait_for there is no need to wait for images and fonts ("load"): the
        # selector says when the content is there.
        "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded" if options.get("wait_for") else "load",
                                        "timeout": timeout_ms},
        RENDER: options,
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
    """Browser contexts and the tabs open in them, reused across renders.

    Renders are spread over ``contexts`` contexts; each is retired after ``pages`` renders,
    takes no new render then, and is closed once the last render given to it is released,
    so no render is cut off and Chromium gets the context's memory back.

    A tab that rendered a page successfully is kept and navigated to the next page of its
    context, up to ``tab_uses`` renders: a new tab costs Chromium a new renderer process
    and cold caches, about 40 % of the CPU of rendering a small page (bench/browser.py). A tab
    is not reused for a page of the document it shows (``/#/item/1`` → ``/#/item/2``), which
    would be a same-document navigation that keeps the old DOM around until the app has
    re-rendered; such a page gets a new tab.
    """

    def __init__(self, contexts: int, pages: int, tab_uses: int = 1):
        self.generation = [0] * contexts
        self.given = [0] * contexts
        self.next_slot = 0
        self.pages = pages
        self.tab_uses = tab_uses
        self.pending: Counter[str] = Counter()
        self.retired: set[str] = set()
        self.contexts: dict[str, object] = {}  # filled by whoever creates the contexts
        self.idle: dict[str, list] = {}
        self.uses: dict[object, int] = {}

    def assign(self) -> str:
        """The context name for the next render."""
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

    async def tab(self, name: str, url: str):
        """An idle tab of context ``name`` to render ``url`` in, or None for a new tab.

        When no idle tab suits, one idle tab is closed: every open tab holds one of the
        context's page slots, and the new tab needs one.
        """
        idle = [page for page in self.idle.get(name, []) if not page.is_closed()]
        self.idle[name] = idle
        if not idle:
            return None
        document = urldefrag(url)[0]
        for n, page in enumerate(idle):
            if urldefrag(page.url)[0] != document:
                return idle.pop(n)
        await _close(idle.pop(0))
        return None

    async def release(self, name: str, page=None, reusable: bool = False) -> bool:
        """A render in context ``name`` is done: keep its tab (``page``) for the next render
        when ``reusable``, else close it; close the context if it is retired and has nothing
        left to render. True when this closed the context."""
        if page is not None:
            uses = self.uses.get(page, 0) + 1
            if reusable and name not in self.retired and uses < self.tab_uses and not page.is_closed():
                self.uses[page] = uses
                self.idle.setdefault(name, []).append(page)
            else:
                self.uses.pop(page, None)
                await _close(page)
        self.pending[name] -= 1
        if self.pending[name] > 0 or name not in self.retired:
            return False
        del self.pending[name]
        self.retired.discard(name)
        for page in self.idle.pop(name, []):
            self.uses.pop(page, None)
        context = self.contexts.pop(name, None)
        if context is None:
            return False
        try:
            await context.close()
        except PlaywrightError:
            pass  # the browser went away first; nothing is left to free
        return True


async def _close(page) -> None:
    if not page.is_closed():
        try:
            await page.close()
        except PlaywrightError:
            pass  # the browser or the context went away first
