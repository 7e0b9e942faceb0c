"""The daily report's tables as plain rows, and how values are shown: shared by the HTML and
the XLSX so both say the same thing in the same words. Values here are raw (unescaped); the
HTML escapes them, the workbook writes them as text cells."""

from __future__ import annotations

from urllib.parse import urlsplit

from reports.alerts import kind_name
from reports.categories import CATEGORY_IDS, category_name
from reports.daily import DailyReport, describe_run
from reports.health import local, parse_utc

STATUS_NAMES = {"new": "待审核", "confirmed": "已确认", "dismissed": "已排除", "notice_sent": "已发处置通知",
                "removed": "已下线", "still_online": "仍在线"}
RUN_HEADERS = ["来源", "开始", "耗时", "页面", "条目", "新增", "更新", "违法", "错误", "robots拦截", "结果"]
HEALTH_HEADERS = ["来源", "计划(cron)", "当日运行", "最近运行", "最近条目数", "7日中位数", "当日错误率", "状态", "问题"]
ALERT_HEADERS = ["时间", "类型", "来源", "内容"]


def local_time(value) -> str:
    """A UTC ISO string or datetime in Asia/Shanghai time (— when missing)."""
    return local(parse_utc(value)) if isinstance(value, str) else local(value)


def duration_text(seconds) -> str:
    """Seconds as 1分05秒."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    return f"{seconds // 60}分{seconds % 60:02d}秒" if seconds >= 60 else f"{seconds}秒"


def status_name(status: str | None) -> str:
    """A review status in Chinese."""
    return STATUS_NAMES.get(status or "", status or "")


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s) (never ``javascript:`` or ``data:``), else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def contacts_text(item: dict) -> str:
    """Phones, WeChat and QQ ids of an item on one line."""
    c = item.get("contacts") or {}
    parts = []
    for kind, label in (("phones", "电话"), ("wechat", "微信"), ("qq", "QQ")):
        if c.get(kind):
            parts.append(f"{label} {', '.join(map(str, c[kind]))}")
    return "；".join(parts)


def run_rows(report: DailyReport) -> list[list]:
    """One row per crawl run of the day and a 合计 row (when there were runs)."""
    rows = [[r.get("source"), local_time(r.get("started")), duration_text(r.get("duration")), r.get("pages", 0),
             r.get("items", 0), r.get("new", 0), r.get("changed", 0), r.get("flagged", 0), r["error_total"],
             r.get("robots_blocked", 0), describe_run(r) + (f"：{r['error']}" if r.get("error") else "")]
            for r in report.runs]
    t = report.run_totals
    if rows:
        rows.append(["合计", "", "", t["pages"], t["items"], t["new"], t["changed"], t["flagged"], t["errors"],
                     t["robots_blocked"], f"失败 {t['failed']} 次" if t["failed"] else ""])
    return rows


def category_site_table(report: DailyReport) -> tuple[list[str], list[list]]:
    """Newly flagged items by category (rows) and site (columns), with totals."""
    sites = list(report.by_site)
    rows = [[category_name(c)] + [report.category_site.get((c, site), 0) for site in sites]
            + [report.by_category.get(c, 0)] for c in CATEGORY_IDS]
    rows.append(["合计（条）"] + [report.by_site[site] for site in sites] + [len(report.new_items)])
    return ["类别"] + sites + ["合计"], rows


def trend_table(days: list[dict]) -> tuple[list[str], list[list]]:
    """Newly flagged per day and category."""
    return (["日期"] + [category_name(c) for c in CATEGORY_IDS] + ["合计（条）"],
            [[d["day"]] + [d[c] for c in CATEGORY_IDS] + [d["total"]] for d in days])


def problems_text(row: dict) -> str:
    """A health row's problems on one line."""
    return "；".join(f"{kind_name(p['kind'])}：{p['message']}" for p in row["problems"])


def health_rows(report: DailyReport) -> list[list]:
    """One row per source; numbers as numbers (the HTML formats them)."""
    return [[h["source"], h["schedule"] or "", h["runs"], local_time(h["last_started"]), h["last_items"],
             h["median_items"], h["error_rate"], "异常" if h["problems"] else "正常", problems_text(h)]
            for h in report.health]


def alert_rows(report: DailyReport) -> list[list]:
    """The day's recorded alerts."""
    return [[local_time(a.get("at")), kind_name(a.get("kind", "")), a.get("source") or "", a.get("message")]
            for a in report.alerts]
