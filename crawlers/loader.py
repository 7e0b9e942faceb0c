"""Spider loader: every `sources/*.yaml` is a spider, so `scrapy crawl <source-name>` works."""

from __future__ import annotations

from crawlers.sources import load_sources
from crawlers.spiders.source import SourceSpider


class SourceSpiderLoader:
    """Builds one spider class per source config (folder: setting REPROWATCH_SOURCES)."""

    def __init__(self, settings):
        self._sources = load_sources(settings.get("REPROWATCH_SOURCES") or None)
        self._spiders = {name: SourceSpider.for_source(src) for name, src in self._sources.items()}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings)

    def load(self, spider_name: str):
        try:
            return self._spiders[spider_name]
        except KeyError:
            raise KeyError(f"no source named {spider_name!r}; known: {', '.join(sorted(self._spiders))}") from None

    def find_by_request(self, request):
        return [name for name, cls in self._spiders.items()
                if any(d in request.url for d in (cls.source.allowed_domains or []))]

    def list(self):
        return sorted(self._spiders)
