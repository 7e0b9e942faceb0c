"""The Scrapy project: settings, items, middlewares, spiders built from sources/*.yaml (issue 4)."""
