"""Evidence capture for one flagged item, at crawl time.

A capture is a folder ``<data>/evidence/<item id>/<capture time>/`` that is written once:
it is built under a ``.partial`` name and renamed when complete, and a second capture of the
same item gets a folder of its own. It holds:

- ``response.html`` — the document's body exactly as received (after HTTP content decoding,
  which the crawler does; no re-encoding: a GBK page stays GBK) and ``response-headers.txt``;
- ``api-response.json`` — for items from a JSON API, that response as received;
- ``rendered.html`` and ``screenshot.png`` — Chromium's DOM and full-page screenshot;
- ``capture.warc.gz`` — the exchanges and the rendered DOM as WARC records (``warc.py``);
- ``text.txt`` (the extracted text the verdict's offsets refer to), ``verdict.json``,
  ``meta.json`` (URLs, redirect hops, IPs, DNS, TLS certificate, times, host, versions, ICP).

For a page the crawler fetched itself (``document``), Chromium renders *that* response: the
document request is answered from the received bytes, so the screenshot shows exactly what
``response.html`` holds, and the site is not asked twice (sub-resources load live). A page the
crawler rendered in Chromium (``browser``: its response is already a DOM) is shown from that DOM
with scripts off, so the app's API is not called again. Items seen only through a JSON API are
loaded live from their page URL, and Chromium's own copy of the document is ``response.html``.

When Chromium cannot be started, or a page does not render, the capture is still written
without ``rendered.html``/``screenshot.png`` and ``meta.json`` says why.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import shutil
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from evidence import environment
from evidence.warc import Exchange, write_warc

FORMAT = "reprowatch-capture/1"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--hide-scrollbars"]
VIEWPORT = {"width": 1280, "height": 900}
# A full-page screenshot of a 2 MB page is ~850,000 px tall: gigabytes of pixels for a picture
# no one reads, and Chromium's largest texture is 16,384 px. Taller pages are shot to this
# height, and meta.json records the page's real height.
MAX_SCREENSHOT_HEIGHT = 16_384
# Where 备案号 are printed: 京ICP备12345678号-1, 粤ICP证B2-20090059 and the like.
_ICP = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]\s*ICP\s*[备证]\s*"
                  r"[A-Z]?\d?-?\d{6,10}\s*号?(?:\s*-\s*\d{1,3})?")
_TAGS = re.compile(r"<[^>]+>")
# Requests a rendered DOM would make again if its scripts ran: a snapshot must not make them
# (they would change what is shown, and ask the site a second time).
_SCRIPTED = {"script", "xhr", "fetch", "websocket", "eventsource"}


def find_icp(*htmls: str) -> list[str]:
    """ICP 备案/许可证号 printed on the page(s), in order, without duplicates."""
    found: dict[str, None] = {}
    for html in htmls:
        for m in _ICP.finditer(_TAGS.sub("", html or "")):
            found.setdefault(re.sub(r"\s+", "", m.group(0)), None)
    return list(found)


def exchange_from_crawler(response: dict) -> Exchange:
    """The spider's ``_response`` field (crawlers/spiders/source.py) as an :class:`Exchange`."""
    return Exchange(url=response["url"], status=response["status"], headers=list(response["headers"]),
                    body=response["body"], method=response.get("method") or "GET",
                    request_headers=list(response.get("request_headers") or []), ip=response.get("ip"),
                    protocol=response.get("protocol"))


# -- Chromium -------------------------------------------------------------------------------

@dataclass
class Rendered:
    """What Chromium made of a page; ``error`` says why parts are missing."""

    url: str | None = None
    dom: bytes | None = None
    screenshot: bytes | None = None
    document: Exchange | None = None       # Chromium's own document response (live loads only)
    redirects: list[dict] = field(default_factory=list)
    server: dict | None = None
    security: dict | None = None
    page_height: int | None = None
    truncated_at: int | None = None
    subresources: int = 0
    served_from: str = "live"
    error: str | None = None
    started: datetime | None = None        # when Chromium began this page (after waiting for a slot)
    finished: datetime | None = None


class _Slot:
    """One page in a context of its own, with one request handler installed for its life
    (installing and removing a route per capture costs more than the capture's own requests).
    ``job`` is the capture in progress: what to answer the document request with."""

    def __init__(self, context, page):
        self.context, self.page = context, page
        self.job: dict | None = None

    async def handle(self, route) -> None:
        job = self.job
        request = route.request
        if job is None:
            await route.continue_()
            return
        out = job["out"]
        if job["document"] is not None and not job["served"] and request.is_navigation_request():
            job["served"] = True
            document = job["document"]
            headers = {k: v for k, v in document.headers
                       if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")}
            await route.fulfill(status=document.status, headers=headers, body=document.body)
            return
        if not job["scripts"] and request.resource_type in _SCRIPTED:
            await route.abort()
            return
        out.subresources += 1
        await route.continue_()


class Renderer:
    """One headless Chromium (Debian's, through Playwright) shared by all captures of a process.

    Started on the first render. ``concurrency`` pages render at once, reused from capture to
    capture (a new page costs a renderer process, 0.2–0.6 s on two cores: more than the render
    itself), all in one context (pages of one site then share a renderer process: 25% more
    pages/s on two cores than a context per page). After ``recycle_after`` captures the context
    is retired: its pages close as their captures end, then the context itself, and a fresh
    one serves the next captures; so cookies and storage live for at most that many captures,
    and memory does not accumulate on long crawls. A page that failed is closed at once.
    If Chromium cannot start, every render returns at once with ``error`` set, and the reason
    is kept in ``unavailable``.
    """

    def __init__(self, executable: str = DEFAULT_CHROMIUM, concurrency: int = 2, timeout: float = 30.0,
                 user_agent: str | None = None, recycle_after: int = 50):
        self.executable = executable
        self.timeout_ms = int(timeout * 1000)
        self.user_agent = user_agent
        self.concurrency = max(1, concurrency)
        self.recycle_after = recycle_after
        self.unavailable: str | None = None
        self.version: str | None = None
        self._idle: asyncio.Queue | None = None
        self._start_lock: asyncio.Lock | None = None
        self._playwright = None
        self._browser = None
        self._slots: list[_Slot] = []
        self._context = None
        self._context_uses = 0
        self._open_lock: asyncio.Lock | None = None

    async def _ensure(self):
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
            self._open_lock = asyncio.Lock()
        async with self._start_lock:
            if self._browser is not None or self.unavailable:
                return self._browser
            if not os.path.exists(self.executable):
                self.unavailable = f"Chromium not found at {self.executable} (apt-get install chromium)"
                return None
            try:
                from playwright.async_api import async_playwright

                self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=self.executable, headless=True, args=CHROMIUM_ARGS)
                self.version = self._browser.version
                self._idle = asyncio.Queue()
                for _ in range(self.concurrency):
                    self._idle.put_nowait(None)  # a slot not opened yet
            except Exception as e:  # noqa: BLE001 — any launch failure means "no Chromium"
                self.unavailable = f"Chromium at {self.executable} did not start: {str(e).splitlines()[0]}"
                await self._stop()
            return self._browser

    async def _open_slot(self) -> _Slot:
        options = {"viewport": VIEWPORT, "ignore_https_errors": True, "locale": "zh-CN",
                   "timezone_id": "Asia/Shanghai", "service_workers": "block"}
        if self.user_agent:
            options["user_agent"] = self.user_agent
        async with self._open_lock:  # two slots opening at once must share one new context
            if self._context is None:
                self._context = await self._browser.new_context(**options)
                self._context_uses = 0
            context = self._context
        slot = _Slot(context, await context.new_page())
        await slot.page.route("**/*", slot.handle)
        self._slots.append(slot)
        return slot

    async def _retire(self, slot: _Slot) -> None:
        self._slots.remove(slot)
        try:
            await slot.page.close()
            if slot.context is not self._context and not any(s.context is slot.context for s in self._slots):
                await slot.context.close()  # the last page of a retired context
        except Exception:  # noqa: BLE001 — already gone with its browser
            pass

    async def render(self, url: str, document: Exchange | None = None, wait_for: str | None = None,
                     scripts: bool = True) -> Rendered:
        """Load ``url`` (answering its document request with ``document`` when given), then
        take the DOM and a full-page screenshot. ``scripts=False`` shows ``document`` as it is:
        no script, XHR or fetch request leaves the page (for a DOM a browser already rendered)."""
        browser = await self._ensure()
        if browser is None:
            return Rendered(error=self.unavailable)
        slot = await self._idle.get()
        healthy = False
        started = datetime.now(timezone.utc)
        try:
            if slot is None or slot.context is not self._context:
                if slot is not None:
                    await self._retire(slot)
                slot = await self._open_slot()
            self._context_uses += 1
            if self._context_uses >= self.recycle_after:
                self._context = None  # retired: the next slot opened starts a fresh context
            result = await self._render(slot, url, document, wait_for, scripts)
            result.started, result.finished = started, datetime.now(timezone.utc)
            slot.job = None
            healthy = True
            return result
        except Exception as e:  # noqa: BLE001 — a page that will not render is noted, not fatal
            return Rendered(error=f"render failed: {str(e).splitlines()[0]}", started=started,
                            finished=datetime.now(timezone.utc))
        finally:
            if slot is not None and not healthy:
                await self._retire(slot)
                slot = None
            self._idle.put_nowait(slot)

    async def _render(self, slot: _Slot, url: str, document: Exchange | None, wait_for: str | None,
                      scripts: bool) -> Rendered:
        out = Rendered(served_from="live" if document is None else
                       "crawler response" if scripts else "crawler DOM, scripts off")
        slot.job = {"out": out, "document": document, "served": False, "scripts": scripts}
        page = slot.page
        if document is None and urlsplit(page.url)._replace(fragment="") == urlsplit(url)._replace(fragment=""):
            # The slot's page is reused: going from /#/item/5 to /#/item/2 would be a same-document
            # navigation, which loads nothing and has no response to record.
            await page.goto("about:blank")
        response = await page.goto(url, wait_until="load", timeout=self.timeout_ms)
        if wait_for:
            try:
                await page.wait_for_selector(wait_for, timeout=min(self.timeout_ms, 10_000))
            except Exception:  # noqa: BLE001 — shot as it is; meta.json has the error
                out.error = f"{wait_for!r} did not appear within 10 s"
        elif document is None:
            try:  # live pages are often painted by scripts after "load"
                await page.wait_for_load_state("networkidle", timeout=3_000)
            except Exception:  # noqa: BLE001
                pass
        out.url = page.url
        if response is not None and document is None:
            request = response.request
            hops = []
            previous = request.redirected_from
            while previous is not None:
                answered = await previous.response()
                hops.insert(0, {"url": previous.url, "status": answered.status if answered else None})
                previous = previous.redirected_from
            out.redirects = hops
            out.server = await response.server_addr()
            out.security = await response.security_details()
            out.document = Exchange(
                url=response.url, status=response.status,
                headers=[(h["name"], h["value"]) for h in await response.headers_array()],
                body=await response.body(), request_headers=list((await request.all_headers()).items()),
                method=request.method, ip=(out.server or {}).get("ipAddress"))
        out.dom = (await page.content()).encode("utf-8")
        height = await page.evaluate(
            "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)")
        out.page_height = int(height or 0)
        if out.page_height > MAX_SCREENSHOT_HEIGHT:
            # A viewport as tall as the cut, not full_page with a clip: Playwright would lay out
            # the whole page at its full height first (16 s for a 2 MB page, 0.5 s this way).
            out.truncated_at = MAX_SCREENSHOT_HEIGHT
            await page.set_viewport_size({"width": VIEWPORT["width"], "height": MAX_SCREENSHOT_HEIGHT})
            try:
                out.screenshot = await page.screenshot(type="png", timeout=self.timeout_ms)
            finally:
                await page.set_viewport_size(VIEWPORT)
        else:
            out.screenshot = await page.screenshot(full_page=True, type="png", timeout=self.timeout_ms)
        return out

    async def _stop(self) -> None:
        self._slots.clear()
        if self._browser is not None:
            try:
                await self._browser.close()
            except Exception:  # noqa: BLE001 — already gone
                pass
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = self._playwright = None

    async def close(self) -> None:
        """Stop Chromium."""
        await self._stop()


# -- network facts ----------------------------------------------------------------------------

def dns_answers(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host`` now."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as e:
        return [f"error: {e}"]
    return list(dict.fromkeys(info[4][0] for info in infos))


def certificate_facts(der: bytes) -> dict:
    """Subject, issuer, validity, serial, SANs and SHA-256 fingerprint of a DER certificate."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat().replace("+00:00", "Z"),
            "not_after": cert.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
            "serial": format(cert.serial_number, "x"), "subject_alt_names": sans,
            "sha256_fingerprint": hashlib.sha256(der).hexdigest()}


def fetch_certificate(host: str, port: int, timeout: float = 10.0) -> bytes:
    """The certificate the server presents now (no validation: it is evidence, not trust)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def _tls(url: str, crawler_der: bytes | None) -> dict | None:
    parts = urlsplit(url)
    if parts.scheme != "https":
        return None
    try:
        if crawler_der:
            return {**certificate_facts(crawler_der), "source": "the crawler's TLS connection"}
        der = fetch_certificate(parts.hostname, parts.port or 443)
        return {**certificate_facts(der), "source": "a TLS handshake at capture time"}
    except Exception as e:  # noqa: BLE001 — a certificate we cannot read is recorded as such
        return {"error": str(e)}


# -- the capture folder -----------------------------------------------------------------------

def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


def _header_text(exchange: Exchange) -> bytes:
    from evidence.warc import _reason

    lines = [f"HTTP/1.1 {exchange.status} {_reason(exchange.status)}".rstrip()]
    lines += [f"{k}: {v}" for k, v in exchange.headers]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1", errors="replace")


def _without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


def write_capture(data_dir: Path, item: dict, crawler: dict | None, rendered: Rendered, chromium: dict,
                  started: datetime, finished: datetime, source: str | None) -> dict:
    """Write the capture folder; returns the item's ``evidence`` field. ``chromium``:
    ``{"executable", "version"}`` of the browser that rendered (version None if it did not start)."""
    kind = (crawler or {}).get("kind", "none")
    fetched = exchange_from_crawler(crawler) if crawler else None
    document = fetched if kind in ("document", "browser") else rendered.document
    files: dict[str, bytes] = {}
    if document is not None:
        files["response.html"] = document.body
        files["response-headers.txt"] = _header_text(document)
    if kind == "api" and fetched is not None:
        files["api-response.json"] = fetched.body
    if rendered.dom is not None:
        files["rendered.html"] = rendered.dom
    if rendered.screenshot is not None:
        files["screenshot.png"] = rendered.screenshot
    files["text.txt"] = (item.get("text") or "").encode("utf-8")
    verdict = {k: item.get(k) for k in ("flagged", "labels", "score", "hits", "contacts")}
    verdict["offsets"] = "hits[].start/end are character offsets into text.txt (UTF-8, Unicode code points)"
    files["verdict.json"] = _json(verdict)

    page_url = rendered.url or (document.url if document else item.get("url"))
    host = urlsplit(item.get("url") or "").hostname or ""
    meta = {
        "format": FORMAT,
        "item_id": item["id"], "item_url": item.get("url"), "title": item.get("title"),
        "source": source or item.get("source"), "site": item.get("site"),
        "requested_url": item.get("requested_url") or (fetched.url if fetched else item.get("url")),
        "final_url": fetched.url if fetched else page_url,
        "redirects": list((crawler or {}).get("redirects") or []),
        "http_status": fetched.status if fetched else (document.status if document else None),
        "server_ip": (fetched.ip if fetched else None) or (document.ip if document else None),
        "http_protocol": (crawler or {}).get("protocol"),
        "dns_answers": {host: dns_answers(host)} if host else {},
        "tls_certificate": _tls(item.get("url") or "", (crawler or {}).get("certificate")),
        "fetched_by": {"document": "crawler (Scrapy)", "api": "crawler (Scrapy, JSON API)",
                       "browser": "crawler (Chromium via scrapy-playwright)"}.get(kind, "capture (Chromium)"),
        "crawler_fetched_at": item.get("fetched_at"),
        "body_note": ("response.html is the DOM Chromium rendered for the crawler (scrapy-playwright hands "
                      "the crawler a DOM, not the network body); rendered.html and screenshot.png show that DOM "
                      "with scripts off" if kind == "browser" else
                      "response.html holds the body as received after HTTP content/transfer decoding; "
                      "its bytes are otherwise unchanged (no charset conversion)"),
        "capture_start": environment.both_times(started),
        "capture_end": environment.both_times(finished),
        "host": environment.host(),
        "clock": environment.clock_source(),
        "versions": {**environment.versions(), "chromium": chromium.get("version")},
        "browser": {
            "executable": chromium.get("executable"), "served_from": rendered.served_from, "page_url": rendered.url,
            "redirects": rendered.redirects, "server": rendered.server, "security": rendered.security,
            "viewport": VIEWPORT, "page_height": rendered.page_height,
            "screenshot_truncated_at": rendered.truncated_at, "subresources": rendered.subresources,
            "error": rendered.error,
        },
        "icp": find_icp(*(b.decode("utf-8", errors="replace") for b in
                          (files.get("rendered.html", b""), files.get("response.html", b"")))),
    }
    if kind == "document" and fetched is not None:
        meta["content_type"] = next((v for k, v in fetched.headers if k.lower() == "content-type"), None)

    # The WARC: the crawler's exchange, Chromium's own document (live loads), the rendered DOM.
    exchanges = [e for e in (fetched if kind != "browser" else None, rendered.document) if e is not None]
    resources = []
    if kind == "browser" and fetched is not None:
        resources.append((f"urn:crawler-dom:{fetched.url}", fetched.body))
    if rendered.dom is not None:
        resources.append((f"urn:rendered-dom:{page_url}", rendered.dom))
    warc = io.BytesIO()  # one page and its DOM: small
    write_warc(warc, exchanges, resources,
               {"software": f"reprowatch/{environment.versions()['reprowatch']}", "format": "WARC File Format 1.1",
                "hostname": environment.host()["hostname"], "description": f"capture of {item.get('url')}"})
    files["capture.warc.gz"] = warc.getvalue()

    listed = [{"name": name, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
              for name, body in files.items()]
    meta["files"] = listed
    files["meta.json"] = _json(meta)

    folder = Path(data_dir) / "evidence" / item["id"]
    folder.mkdir(parents=True, exist_ok=True)
    stamp = _stamp(started)
    partial = folder / f"{stamp}.{os.getpid()}.partial"
    partial.mkdir()
    try:
        for name, body in files.items():
            with open(partial / name, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError:
        # A half-written capture (disk full) is no evidence; leave nothing that looks like one.
        shutil.rmtree(partial, ignore_errors=True)
        raise
    final, n = folder / stamp, 1
    while True:
        try:
            os.rename(partial, final)  # fails if the target exists: never overwrite a capture
            break
        except OSError:
            if not final.exists():
                raise
            n += 1
            final = folder / f"{stamp}-{n}"
    rel = final.relative_to(data_dir).as_posix()
    return {"dir": rel, "captured_at": meta["capture_start"]["utc"],
            "files": [{"path": f"{rel}/{name}", "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
                      for name, body in files.items()]}


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


async def capture(item: dict, crawler: dict | None, renderer: Renderer, data_dir: Path,
                  source: str | None = None, wait_for: str | None = None) -> dict:
    """Capture one flagged item; returns its ``evidence`` field (``dir``, ``captured_at``, ``files``).

    ``crawler`` is the spider's ``_response``: a ``document`` is rendered from its bytes, a
    ``browser`` DOM is shown with scripts off (the site is not asked again), and an item
    from an ``api`` (or with no response) is loaded live from its URL."""
    kind = (crawler or {}).get("kind")
    url = item["url"]
    document = None
    if kind in ("document", "browser") and crawler is not None:
        document = exchange_from_crawler(crawler)
        fragment = urlsplit(url).fragment
        url = _without_fragment(document.url) + (f"#{fragment}" if fragment else "")
    requested = datetime.now(timezone.utc)
    rendered = await renderer.render(url, document=document, wait_for=wait_for, scripts=kind != "browser")
    started = rendered.started or requested
    finished = rendered.finished or datetime.now(timezone.utc)
    chromium = {"executable": renderer.executable, "version": renderer.version}
    return await asyncio.to_thread(write_capture, data_dir, item, crawler, rendered,
                                   chromium, started, finished, source)
