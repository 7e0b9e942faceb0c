"""One spider class for every source: its behaviour comes from the source's YAML alone.

The spider only yields requests and page items; classification, dedup and storage are
pipelines, politeness and trap control are settings and middlewares.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError

from crawlers.canonical import canonical_route_url, canonical_url, is_route, item_id, site_of
from crawlers.extract import decode_body, extract_page, extract_posts, find_date, fragment_text
from crawlers.sources import Browser, Source

_HREF_SKIP = re.compile(r"^(javascript:|mailto:|tel:|data:)", re.IGNORECASE)


def utc_now() -> str:
    """Current time as ISO 8601 UTC with a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_keywords(source: Source) -> list[str]:
    """The keywords a site-search source queries."""
    spec = source.search.keywords
    if spec == "default":
        from classifiers.keywords import default_keywords

        return default_keywords()
    if isinstance(spec, list):
        return spec
    with open(spec, encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip() and not line.startswith("#")]


def _renders(source: Source) -> bool:
    """True for sources whose pages are rendered in Chromium."""
    return source.render == "browser" and source.type == "html"


class SourceSpider(scrapy.Spider):
    """Crawls one source (html static/browser or JSON api) as its config says."""

    name = "source"
    source: Source

    @classmethod
    def for_source(cls, source: Source) -> type["SourceSpider"]:
        """A spider class named after the source, as `scrapy crawl <source-name>` needs."""
        settings = {
            "ROBOTSTXT_OBEY": source.obey_robots,
            "DEPTH_LIMIT": source.max_depth,
            "CLOSESPIDER_PAGECOUNT": source.max_pages,
        }
        if _renders(source):
            from crawlers.browser import spider_settings

            settings.update(spider_settings())
        return type(f"Spider_{source.name.replace('-', '_')}", (cls,), {
            "name": source.name, "source": source, "custom_settings": settings,
        })

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_domains = [d.split(":")[0] for d in self.source.allowed_domains] or None
        self._follow = self.source.follow_res
        self._items = self.source.item_res
        self._browser = (self.source.browser or Browser()).model_dump() if _renders(self.source) else None
        # Rendered sources keep client-side routes (/#/item/12) as pages of their own.
        self._canonical = canonical_route_url if self._browser else canonical_url
        self._search_page = None
        self._search_pending = False
        if self.source.search:
            parts = urlsplit(self.source.search.url.replace("{keyword}", "x"))
            self._search_page = (parts.netloc.lower(), parts.path)

    # -- requests -------------------------------------------------------------------------

    def _request(self, url: str, callback=None, errback=None, **meta) -> scrapy.Request:
        callback = callback or self.parse
        errback = errback or self.on_error
        if self._browser and callback == self.parse:
            from crawlers.browser import request_meta

            meta = {**request_meta(self._browser), **meta}
            callback = self.parse_rendered
        return scrapy.Request(url, callback=callback, errback=errback,
                              headers=self.source.headers or None, meta=meta)

    async def start(self):
        for req in self.start_requests():
            yield req

    def start_requests(self):
        parse = self.parse_api if self.source.type == "api" else self.parse
        searching = self.source.search and self.source.type == "html"
        # Site search sends keywords in the site's own encoding (a GBK site reads %B4%FA… as
        # 代, and %E4%BB%A3… as mojibake): given in the YAML, else that of the first start page.
        self._search_pending = bool(searching) and not (self.source.search.encoding or self._browser)
        for n, url in enumerate(self.source.start_urls):
            first = n == 0 and self._search_pending
            yield self._request(url, parse, errback=self.on_start_error if first else None, start=first)
        if searching and not self._search_pending:
            yield from self._search_requests(self.source.search.encoding or "utf-8")

    def _search_requests(self, encoding: str):
        self._search_pending = False
        for kw in search_keywords(self.source):
            try:
                quoted = quote(kw.encode(encoding))
            except UnicodeEncodeError:  # a keyword the site's charset cannot write
                continue
            yield self._request(self.source.search.url.replace("{keyword}", quoted), self.parse, search_page=1)

    def on_start_error(self, failure):
        """The first start page failed: report it, and search with UTF-8 keywords all the same."""
        self.on_error(failure)
        if self._search_pending:
            yield from self._search_requests("utf-8")

    def on_error(self, failure):
        """Count and log failures by kind so the crawl-run record can report them."""
        stats = self.crawler.stats
        if failure.check(IgnoreRequest) and "robots.txt" in failure.getErrorMessage():
            # Obeying robots.txt is policy, not a failure; the count still shows in the run.
            stats.inc_value("reprowatch/robots_blocked")
            return
        if failure.check(HttpError):
            response = failure.value.response
            kind = f"http_{response.status}"
            self.logger.warning("%s answered HTTP %s", response.url, response.status)
        else:
            kind = type(failure.value).__name__
            self.logger.warning("%s failed: %s", failure.request.url, failure.getErrorMessage())
        stats.inc_value(f"reprowatch/errors/{kind}")

    # -- browser --------------------------------------------------------------------------

    def parse_rendered(self, response):
        """A page Chromium rendered: count what the render did, then parse its DOM like any page."""
        from crawlers.browser import RENDERED

        done = response.meta.get(RENDERED)
        if done is not None:
            stats = self.crawler.stats
            stats.inc_value("reprowatch/browser/pages")
            stats.inc_value("reprowatch/browser/clicks", done["clicks"])
            stats.inc_value("reprowatch/browser/scrolls", done["scrolls"])
            if done["wait_for"] == "timeout":
                stats.inc_value("reprowatch/browser/wait_for_timeout")
                self.logger.warning("%s: %r never appeared; parsed as rendered", response.url,
                                    self.source.browser.wait_for)
        yield from self.parse(response)

    # -- html -----------------------------------------------------------------------------

    def _is_item(self, url: str) -> bool:
        return any(r.search(url) for r in self._items)

    def _is_follow(self, url: str) -> bool:
        return any(r.search(url) for r in self._follow)

    def parse(self, response):
        """Items from item pages, then links to follow (lists, pagination, search results)."""
        if not isinstance(response, scrapy.http.TextResponse) and not response.body:
            return
        html, encoding = decode_body(response.body, response.headers.get("Content-Type", b"").decode("latin-1"))
        url = response.url
        self.crawler.stats.inc_value("reprowatch/pages")
        if self._is_item(url):
            yield from self._page_items(response, html, url, encoding)
        yield from self._links(response, html, url)
        if response.meta.get("start") and self._search_pending:
            yield from self._search_requests(encoding)

    def _page_items(self, response, html: str, url: str, encoding: str):
        fetched = utc_now()
        page_url = self._canonical_of(html, url)
        base = {"source": self.source.name, "site": site_of(page_url), "fetched_at": fetched,
                "http_status": response.status, "encoding": encoding,
                "requested_url": response.request.meta.get("redirect_urls", [response.url])[0],
                **response_evidence(response, "document")}
        if self.source.selectors.post:
            for anchor, ex in extract_posts(html, self.source.selectors.post, self.source.selectors):
                post_url = f"{page_url}#{anchor}"
                yield {**base, "id": item_id(post_url), "url": post_url, "title": ex.title,
                       "text": ex.text, "published": ex.published}
            return
        ex = extract_page(html, url, self.source.selectors)
        yield {**base, "id": item_id(page_url), "url": page_url, "title": ex.title, "text": ex.text,
               "published": ex.published}

    def _canonical_of(self, html: str, url: str) -> str:
        """The page's own canonical URL when it names one on the same site, else ours."""
        if self._browser and is_route(url):
            # A single-page app's shell names one canonical URL for all its routes.
            return self._canonical(url)
        m = re.search(r"""<link[^>]+rel=["']?canonical["']?[^>]*>""", html[:20000], re.IGNORECASE)
        if m:
            href = re.search(r"""href=["']?([^"'\s>]+)""", m.group(0))
            if href:
                declared = canonical_url(urljoin(url, href.group(1)))
                if site_of(declared) == site_of(url):
                    return declared
        return self._canonical(url)

    def _links(self, response, html: str, url: str):
        sel = scrapy.Selector(text=html)
        base = sel.xpath("//base/@href").get() or url
        page_no = response.meta.get("search_page")
        for href in sel.xpath("//a/@href").getall():
            href = href.strip()
            if not href or _HREF_SKIP.match(href):
                continue
            if href.startswith("#") and not (self._browser and is_route(href)):
                continue  # an anchor on the same page
            written = urljoin(base, href)
            target = self._canonical(written)
            if urlsplit(target).scheme not in ("http", "https"):
                continue
            parts = urlsplit(target)
            if self._search_page and (parts.netloc, parts.path) == self._search_page:
                # Result pages of a site search: paged, up to search.max_pages per keyword.
                if page_no and page_no < self.source.search.max_pages:
                    yield self._request(target, self.parse, search_page=page_no + 1)
                continue
            # The YAML's regexes describe links as the site writes them (/go.php?to=12&pos=5)
            # as well as their canonical form (query sorted, tracking parameters gone).
            if self._is_follow(target) or self._is_item(target) or self._is_follow(written) or self._is_item(written):
                yield self._request(target, self.parse)

    # -- api ------------------------------------------------------------------------------

    def parse_api(self, response):
        """Items from a JSON listing; the next page from its cursor."""
        import jmespath

        api = self.source.api
        self.crawler.stats.inc_value("reprowatch/pages")
        try:
            data = json.loads(response.text)
        except (ValueError, AttributeError):
            self.logger.warning("%s: API answer is not JSON: %r", response.url, response.body[:200])
            self.crawler.stats.inc_value("reprowatch/errors/api_not_json")
            return
        code = jmespath.search(api.code, data) if api.code else None
        if code not in (None, 0, "0"):
            msg = jmespath.search("msg || message || error", data)
            self.logger.warning("%s: API answered code %s: %s", response.url, code, msg)
            self.crawler.stats.inc_value("reprowatch/errors/api_code")
            return
        fetched = utc_now()
        entries = jmespath.search(api.items, data) or []
        if api.offset and len(entries) >= api.offset.step:
            yield self._request(_with_offset(response.url, api.offset.param, api.offset.step), self.parse_api)
        for entry in entries:
            f = api.fields

            def field(expr):
                if not expr:
                    return None
                value = jmespath.search(expr, entry)
                return None if value is None else str(value)

            def text_field(expr):
                # App APIs often send HTML in their text fields: store and classify its text.
                value = field(expr)
                return None if value is None else fragment_text(value)

            ident = field(f.id)
            share = field(f.url)
            url = canonical_url(urljoin(response.url, share)) if share else f"{canonical_url(response.url)}#{ident}"
            title = text_field(f.title) or ""
            body = "\n".join(x for x in (text_field(f.text), text_field(f.contact)) if x)
            text = f"{title}\n{body}" if title and not body.startswith(title) else body
            published = field(f.published)
            if published and published.isdigit():
                published = datetime.fromtimestamp(int(published[:10]), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            else:
                published = find_date(published or "")
            yield {"id": item_id(url), "url": url, "source": self.source.name, "site": site_of(url),
                   "title": title[:300], "text": text, "published": published, "fetched_at": fetched,
                   "http_status": response.status, "api_id": ident,
                   "requested_url": response.url, **response_evidence(response, "api")}
        if api.next:
            nxt = jmespath.search(api.next, data)
            if nxt:
                yield self._request(api.next_url.replace("{next}", quote(str(nxt), safe="")), self.parse_api)


def _with_offset(url: str, param: str, step: int) -> str:
    """``url`` with its ``param`` query value (0 when absent or not a number) raised by ``step``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    current = next((v for k, v in query if k == param), "0")
    value = (int(current) if current.isdigit() else 0) + step
    query = [(k, v) for k, v in query if k != param] + [(param, str(value))]
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- evidence capture (issue 5) ---------------------------------------------------------------
# The evidence pipeline (pipelines/evidence.py) needs the exchange an item came from, exactly
# as received; it removes this field from every item before anything is stored.

def _header_pairs(headers) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, values in headers.items() for v in values]


def response_evidence(response, kind: str) -> dict:
    """``{"_response": …}``: body, headers, status, redirect hops, server IP and TLS certificate
    of ``response``; ``kind`` is ``document`` (the item's own page) or ``api`` (a JSON listing)."""
    request = response.request
    meta = request.meta
    hops = [{"url": url, "status": reason} for url, reason in
            zip(meta.get("redirect_urls", []), meta.get("redirect_reasons", []))]
    certificate = getattr(response, "certificate", None)
    return {"_response": {
        "kind": "browser" if meta.get("playwright") else kind,
        "url": response.url, "status": response.status, "headers": _header_pairs(response.headers),
        "body": response.body, "method": request.method, "request_headers": _header_pairs(request.headers),
        "redirects": hops, "ip": str(response.ip_address) if response.ip_address else None,
        "protocol": response.protocol, "certificate": certificate.dump() if certificate else None,
    }}
