"""Scrapy settings for reprowatch's spiders (filled in with the crawler, issue 4)."""

BOT_NAME = "reprowatch"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"
ROBOTSTXT_OBEY = True
