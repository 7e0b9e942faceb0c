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


_MARKUP = re.compile(r"<[a-zA-Z/!][^>]*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section", "article"}


def fragment_text(value: str) -> str:
    """The text of a field that may hold HTML (an app API's ``content``: ``<p>…</p><br/>``,
    entities): tags dropped, block elements and <br> as line breaks. Plain text comes back
    unchanged but for whitespace."""
    if not value or not _MARKUP.search(value):
        return _clean(value)
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(value, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return _clean(re.sub(r"<[^>]+>", " ", value))
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
    return _clean(root.text_content())


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


# Page chrome by its usual names on Chinese sites: navigation, headers and footers, sidebars
# with hot/related/ranking lists, breadcrumbs, share bars, disclaimers ("温馨提示", "免责声明")
# and comments. Matched as whole tokens of class and id values split at - and _ ("g-ft",
# "col-side", "hot-list"), so "content" or "post-body" never match.
_CHROME_TOKENS = frozenset("""
    nav navbar navi menu menus topbar topnav top bottom header hd head footer foot ft copyright
    sidebar side aside sider hot hotlist rank ranking recommend recommends related relate relevant
    friend friendlink links crumb crumbs breadcrumb breadcrumbs share login toolbar tip tips copy beian
    disclaimer statement mianze comment comments cmt
""".split())
_TOKEN_SPLIT = re.compile(r"[\s\-_]+")
_CHROME_TAGS = ("nav", "aside", "script", "style", "noscript", "template", "iframe", "form", "select", "button")
# A block whose text is mostly link text (hot lists, "related reading", pagination, menus) is
# navigation even without a telling name; ads and articles are prose.
_LINK_SHARE = 0.6
_LINK_MIN = 3


def _is_chrome_name(el) -> bool:
    for attr in ("class", "id"):
        value = el.get(attr)
        if value and any(tok in _CHROME_TOKENS for tok in _TOKEN_SPLIT.split(value.lower()) if tok):
            return True
    return False


def _in_content(el) -> bool:
    # <header>/<footer> inside an article hold its title, byline or contact: keep them.
    return any(a.tag in ("article", "main") for a in el.iterancestors())


def strip_chrome(html: str) -> str:
    """The page without its chrome: navigation, header and footer, sidebars, link lists,
    disclaimers and comments, so that neither a sidebar of hot ad titles nor a footer saying
    "严禁发布代孕…" is read as the page's own text. The page unchanged if it cannot be parsed
    or if stripping would leave nothing."""
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html
    body = root.find("body")
    if body is None:
        return html
    drop = []
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in _CHROME_TAGS or (tag in ("header", "footer") and not _in_content(el)) or _is_chrome_name(el):
            drop.append(el)
            continue
        if tag in ("ul", "ol", "dl", "div", "table", "td", "p", "section"):
            links = el.findall(".//a")
            if len(links) >= _LINK_MIN:
                text = el.text_content().strip()
                linked = sum(len(a.text_content().strip()) for a in links)
                if text and linked >= _LINK_SHARE * len(text):
                    drop.append(el)
    removed = set()
    for el in drop:
        if any(id(a) in removed for a in el.iterancestors()):
            continue
        parent = el.getparent()
        if parent is None:
            continue
        # Keep the tail text (it belongs to the parent), drop the element.
        if el.tail and el.tail.strip():
            prev = el.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + el.tail
            else:
                parent.text = (parent.text or "") + el.tail
        removed.add(id(el))
        parent.remove(el)
    if not body.text_content().strip():
        return html
    return lxml.html.tostring(root, encoding="unicode")


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
        content = strip_chrome(html)
        body = _main_text(content, url) or _fallback_text(Selector(text=content))
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


# Attributes that carry a post's own id on forums that give floors no element id
# (<li data-pid="…">, <div data-post-id="…">): stable when earlier floors are deleted.
_POST_ID_ATTRS = ("data-pid", "data-post-id", "data-postid", "data-id", "data-reply-id", "data-comment-id", "data-cid")


def _post_anchor(attrib, n: int) -> str:
    """The ``#anchor`` of the n-th post: its element id, else an id attribute, else its floor
    number, else its position on the page."""
    if attrib.get("id"):
        return attrib["id"]
    for name in _POST_ID_ATTRS:
        if attrib.get(name):
            return f"p{attrib[name]}"
    if attrib.get("data-floor"):
        return f"floor{attrib['data-floor']}"
    return f"post{n}"


def extract_posts(html: str, post_css: str, selectors=None) -> list[tuple[str, Extracted]]:
    """One ``(element id, Extracted)`` per post matched by ``post_css`` (forum floors)."""
    sel = Selector(text=html)
    page_title = _clean(sel.xpath("string(//h1)").get() or "") or _clean(sel.xpath("string(//title)").get() or "")
    out = []
    for n, post in enumerate(sel.css(post_css), 1):
        anchor = _post_anchor(post.attrib, n)
        if selectors and selectors.text and post.css(selectors.text):
            body = _clean("\n".join(post.css(selectors.text).xpath("string()").getall()))
        else:
            body = _clean("\n".join(t.strip() for t in post.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]").getall() if t.strip()))
        published = find_date(body[:200])
        out.append((anchor, Extracted(page_title[:300], body, published)))
    return out
