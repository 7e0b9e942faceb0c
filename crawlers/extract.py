"""Turning a fetched page into text: encoding, main text, title, publish time, posts.

Chinese sites still serve GBK/GB2312 and Big5, often declared only in a meta tag or not at
all; Scrapy's fallback for undeclared pages is cp1252, which turns GBK into mojibake. So
decoding is ours: declared charset (header, then meta), BOM, strict UTF-8, then detection
among the Chinese encodings. gb2312/gbk are decoded as GB18030, their superset, because
pages labelled gb2312 routinely contain characters outside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsel import Selector

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_\-]+)", re.IGNORECASE)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
              "big5": "big5hkscs", "cp936": "gb18030", "utf8": "utf-8"}
_DATE = re.compile(r"(20\d{2})[-/年.](\d{1,2})[-/月.](\d{1,2})日?(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _known(encoding: str | None) -> str | None:
    if not encoding:
        return None
    name = _SUPERSETS.get(encoding.strip().lower(), encoding.strip().lower())
    try:
        "".encode(name)
    except LookupError:
        return None
    return name


def decode_body(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """``(text, encoding used)`` for an HTML or text body."""
    candidates = []
    if content_type and (m := _HEADER_CHARSET.search(content_type)):
        candidates.append(_known(m.group(1)))
    if m := _META_CHARSET.search(body[:4096]):
        candidates.append(_known(m.group(1).decode("ascii", "ignore")))
    if body.startswith(b"\xef\xbb\xbf"):
        candidates.insert(0, "utf-8-sig")
    for enc in candidates:
        if enc:
            try:
                return body.decode(enc), enc
            except UnicodeDecodeError:
                continue  # a wrong declaration: fall through to detection
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for enc in ("gb18030", "big5hkscs"):
        try:
            text = body.decode(enc)
        except UnicodeDecodeError:
            continue
        # GB18030 decodes almost anything; accept it only if the result reads as Chinese.
        cjk = sum(1 for c in text[:2000] if "\u4e00" <= c <= "\u9fff")
        if cjk >= min(20, len(text) // 20):
            return text, enc
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    if best is not None:
        return str(best), best.encoding
    return body.decode("utf-8", errors="replace"), "utf-8"


@dataclass
class Extracted:
    """What the classifier and the store need from one page or post."""

    title: str
    text: str
    published: str | None


def _clean(text: str) -> str:
    text = re.sub(r"[ \t\u3000\xa0]+", " ", text or "")
    text = re.sub(r"\s*\n\s*", "\n", text)
    return text.strip()


def _join_title(title: str, body: str) -> str:
    # The title is part of the ad ("专业代孕 包成功" is often the whole pitch), so it is
    # classified and stored as the first line of the text unless the body starts with it.
    if title and not body.startswith(title):
        return f"{title}\n{body}" if body else title
    return body


def find_date(text: str) -> str | None:
    """First date (and time) in a text as ISO 8601 without zone, e.g. 2026-11-02T08:30:00."""
    m = _DATE.search(text or "")
    if not m:
        return None
    y, mo, d, hh, mm, ss = m.groups()
    try:
        return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}T{int(hh or 0):02d}:{int(mm or 0):02d}:{int(ss or 0):02d}"
    except ValueError:
        return None


def _fallback_text(sel: Selector) -> str:
    parts = sel.xpath("//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)"
                      " and not(ancestor::nav) and not(ancestor::footer)]").getall()
    return _clean("\n".join(p.strip() for p in parts if p.strip()))


def extract_page(html: str, url: str, selectors=None) -> Extracted:
    """Main text, title and publish time of a page; CSS selectors override when given."""
    sel = Selector(text=html)
    title = ""
    if selectors and selectors.title:
        title = _clean(" ".join(sel.css(selectors.title).xpath("string()").getall()))
    if not title:
        title = _clean(sel.xpath("string(//h1)").get() or "") or _clean(sel.xpath("string(//title)").get() or "")
    body = ""
    if selectors and selectors.text:
        body = _clean("\n".join(sel.css(selectors.text).xpath("string()").getall()))
    if not body:
        body = _main_text(html, url) or _fallback_text(sel)
    if selectors and selectors.contact:
        contact = _clean(" ".join(sel.css(selectors.contact).xpath("string()").getall()))
        if contact and contact not in body:
            body = f"{body}\n{contact}"
    published = None
    if selectors and selectors.published:
        published = find_date(" ".join(sel.css(selectors.published).xpath("string()").getall()))
    if not published:
        meta = sel.xpath("//meta[@property='article:published_time' or @name='pubdate' or "
                         "@name='publishdate' or @itemprop='datePublished']/@content").get()
        published = find_date(meta or "") or find_date(sel.xpath("string(//time/@datetime)").get() or "")
    if not published:
        published = find_date(body[:600])
    return Extracted(title[:300], _join_title(title[:300], body), published)


def _main_text(html: str, url: str) -> str:
    """trafilatura's main text, with recall favoured: contact blocks are part of an ad."""
    import trafilatura

    try:
        text = trafilatura.extract(html, url=url, favor_recall=True, include_comments=False,
                                   include_tables=True, deduplicate=False)
    except Exception:  # trafilatura fails on some broken markup; the fallback handles it
        return ""
    return _clean(text or "")


def extract_posts(html: str, post_css: str, selectors=None) -> list[tuple[str, Extracted]]:
    """One ``(element id, Extracted)`` per post matched by ``post_css`` (forum floors)."""
    sel = Selector(text=html)
    page_title = _clean(sel.xpath("string(//h1)").get() or "") or _clean(sel.xpath("string(//title)").get() or "")
    out = []
    for n, post in enumerate(sel.css(post_css), 1):
        anchor = post.attrib.get("id") or (f"floor{post.attrib['data-floor']}" if post.attrib.get("data-floor") else f"post{n}")
        if selectors and selectors.text and post.css(selectors.text):
            body = _clean("\n".join(post.css(selectors.text).xpath("string()").getall()))
        else:
            body = _clean("\n".join(t.strip() for t in post.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall() if t.strip()))
        published = find_date(body[:200])
        out.append((anchor, Extracted(page_title[:300], body, published)))
    return out
