"""Canonical URLs: one item is one record whatever link led to it.

Tracking parameters are dropped (utm_*, from, spm, …), and ``page=1``; the query is sorted, scheme and
host are lower-cased, default ports and fragments removed. Post anchors are added back by
the spider as ``page#<element id>``, never taken from links. Single-page apps are the
exception: a fragment starting with ``#/`` or ``#!`` is a client-side route (``/#/item/12``),
a page of its own for a browser source, and :func:`canonical_route_url` keeps it.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Parameters that say where a visitor came from, never what page it is.
_TRACKING = re.compile(
    r"^(utm_[a-z]+|from|fr|source|spm|scm|fbclid|gclid|yclid|msclkid|share_from|share_source|shareid|"
    r"share_token|sharer|src|source_from|timestamp|_t|t_from|ref|refer|referer|wxfrom|"
    r"isappinstalled|sessionid|sid|phpsessid|jsessionid|"
    # Discuz! forums (very common in China) carry the list page a thread was opened from.
    r"extra)$",
    re.IGNORECASE,
)
# page=1 names the first page, which sites also serve (and link) without it.
_FIRST_PAGE = ("page", "1")


def canonical_url(url: str, keep_fragment: bool = False) -> str:
    """The canonical form of an absolute http(s) URL."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k) and (k.lower(), v) != _FIRST_PAGE]
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    rebuilt = urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query),
                          parts.fragment if keep_fragment else ""))
    return canonicalize_url(rebuilt, keep_fragments=keep_fragment)


def is_route(url: str) -> bool:
    """True when the URL's fragment is a client-side route (``#/…`` or ``#!…``)."""
    fragment = urlsplit(url).fragment
    return fragment.startswith(("/", "!"))


def canonical_route_url(url: str) -> str:
    """The canonical URL of a page of a rendered source: client-side routes are kept."""
    return canonical_url(url, keep_fragment=is_route(url))


def item_id(url: str) -> str:
    """Stable item id: 16 hex digits of the SHA-1 of the canonical URL."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


def site_of(url: str) -> str:
    """The site an item belongs to: host[:port]."""
    return urlsplit(url).netloc.lower()
