"""Reports (issue 7): the daily report, crawler health and alerts, the monthly 汇总表.

Reads the store (``search/``) and the crawl-run records; imports nothing from ``crawlers/``
(the CLI hands in what it needs from source configs, such as their cron schedules).
"""
