"""Request fingerprints that tell client-side routes apart.

Scrapy's default fingerprint drops the URL fragment, which is right for static pages (the
server never sees it) but would make ``/#/item/1`` and ``/#/item/2`` of a single-page app one
request, so every detail page after the first would be filtered as a duplicate.
"""

from __future__ import annotations

from scrapy.utils.request import fingerprint

from crawlers.canonical import is_route


class RouteFingerprinter:
    """Scrapy's fingerprint, keeping the fragment when it is a route (``#/…``, ``#!…``).

    Static sources never request URLs with fragments (links are canonicalised without
    them), so their fingerprints are exactly Scrapy's.
    """

    @classmethod
    def from_crawler(cls, crawler):
        return cls()

    def fingerprint(self, request) -> bytes:
        """The request's fingerprint for the dupe filter and the job directory."""
        return fingerprint(request, keep_fragments=is_route(request.url))
