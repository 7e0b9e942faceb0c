"""The daily report's figures, computed from the store and the crawl-run records only.

Definitions (what every number in the HTML and XLSX means):

- The day is a calendar day in Asia/Shanghai time (stored times are UTC): ``[00:00, 24:00)``
  +08:00 of ``--date``.
- **Newly flagged** (新增违法信息): items flagged now whose ``first_seen`` falls on the day. An
  item with several labels counts once in the total and once under each of its categories.
- **Trends**: the same count for each of the 7 and 30 days ending on the day.
- **Crawl runs**: run records whose ``started`` falls on the day.
- **Repeat contacts** (重复出现的联系方式): a phone, WeChat or QQ id carried by flagged items of
  two or more sites, among flagged items first seen by the end of the day and fetched within
  the 30 days up to it.
- **Takedown follow-up**: notices sent (a ``notice_sent`` history entry on the day), pending
  (status ``notice_sent``, deadline not passed), overdue (status ``notice_sent``, deadline
  passed — the item's ``deadline``, else the notice time + the config's ``deadline_days``), removed
  (a ``removed`` entry on the day; all items now ``removed``) and still online (status
  ``still_online``).
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from reports.alerts import SHANGHAI, read_alerts
from reports.categories import CATEGORY_IDS
from reports.health import (error_count, failed, history_for, median_items, overdue_findings, parse_utc, run_findings,
                            utc_iso)
from search.items import CONTACT_KINDS
from search.store import Query

PAGE = 1000
TREND_DAYS = 30


@dataclass
class DailyReport:
    """Everything the daily report shows; rendered by ``daily_html`` and ``daily_xlsx``."""

    day: date
    generated: datetime
    start: str                      # UTC ISO bounds of the day, [start, end)
    end: str
    runs: list[dict] = field(default_factory=list)
    run_totals: dict = field(default_factory=dict)
    new_items: list[dict] = field(default_factory=list)      # newly flagged, highest score first
    by_category: dict[str, int] = field(default_factory=dict)
    by_site: dict[str, int] = field(default_factory=dict)
    category_site: dict[tuple[str, str], int] = field(default_factory=dict)
    trend: list[dict] = field(default_factory=list)          # 30 days, oldest first: {day, total, <category>: n}
    top_items: list[dict] = field(default_factory=list)
    repeat_contacts: list[dict] = field(default_factory=list)
    health: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    overdue_sources: list[dict] = field(default_factory=list)
    takedown: dict = field(default_factory=dict)
    store_label: str = ""

    def summary(self) -> dict:
        """The headline figures (``--json`` and the summary sheet)."""
        t = self.takedown
        return {
            "date": self.day.isoformat(),
            "runs": len(self.runs), "pages": self.run_totals.get("pages", 0), "items": self.run_totals.get("items", 0),
            "new_items": self.run_totals.get("new", 0), "errors": self.run_totals.get("errors", 0),
            "new_flagged": len(self.new_items), "by_category": dict(self.by_category), "by_site": dict(self.by_site),
            "repeat_contacts": len(self.repeat_contacts),
            "unhealthy_sources": sum(1 for h in self.health if h["problems"]),
            "alerts": len(self.alerts),
            "notices_sent": len(t.get("sent_today", [])), "pending": len(t.get("pending", [])),
            "overdue": len(t.get("overdue", [])), "removed_today": len(t.get("removed_today", [])),
            "removed_total": t.get("removed_total", 0), "still_online": len(t.get("still_online", [])),
        }


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Asia/Shanghai calendar day as aware UTC datetimes [start, end)."""
    start = datetime.combine(day, time(0), SHANGHAI)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)


def local_day(value: str | None) -> date | None:
    """The Asia/Shanghai calendar day of a stored UTC time."""
    moment = parse_utc(value)
    return moment.astimezone(SHANGHAI).date() if moment else None


def within(value: str | None, start: datetime | None, end: datetime | None) -> bool:
    """Whether a stored time lies in [start, end) (None: unbounded). Compared as times, not
    strings: "16:00:00.5Z" sorts before "16:00:00Z" as text."""
    moment = parse_utc(value)
    return moment is not None and (start is None or moment >= start) and (end is None or moment < end)


def iter_items(store, query: Query):
    """Every item matching ``query``, page by page (the query's limit/offset are replaced)."""
    offset = 0
    while True:
        page = Query(**{**query.__dict__, "limit": PAGE, "offset": offset})
        result = store.search(page)
        yield from result.items
        offset += len(result.items)
        if not result.items or offset >= result.total:
            return


def _progress(quiet: bool, text: str) -> None:
    if not quiet:
        sys.stderr.write(f"  {text}\n")
        sys.stderr.flush()


def build_daily(store, day: date, *, schedules: dict[str, str | None] | None = None, config=None,
                data=None, now: datetime | None = None, quiet: bool = True) -> DailyReport:
    """Compute the daily report for ``day`` (Asia/Shanghai) from the store and run records.

    ``schedules``: each source's cron (from the source configs) for the not-run-when-due check;
    ``config``: the office config (thresholds, top items, deadline fallback).
    """
    now = now or datetime.now(timezone.utc)
    start, end = day_bounds(day)
    # "Now" for overdue checks of a past day is the end of that day, so an old report does not
    # change its verdicts with the date it is regenerated on.
    as_of = min(now, end)
    report = DailyReport(day=day, generated=now, start=utc_iso(start), end=utc_iso(end))
    thresholds = config.alerts
    trend_start = start - timedelta(days=TREND_DAYS - 1)

    _progress(quiet, "读取抓取记录…")
    history_since = utc_iso(start - timedelta(days=thresholds.median_days + 1))
    all_runs = [r for r in store.runs(since=history_since) if within(r.get("started"), None, end)]
    report.runs = _day_runs(all_runs, start, end)
    report.run_totals = _run_totals(report.runs)

    _progress(quiet, "读取违法信息…")
    recent = [i for i in iter_items(store, Query(since=utc_iso(trend_start), sort="time"))
              if within(i.get("first_seen"), None, end)]
    report.new_items = sorted((i for i in recent if within(i.get("first_seen"), start, end)),
                              key=lambda i: (-(i.get("score") or 0), i.get("first_seen") or "", i["id"]))
    _count_new(report)
    report.trend = _trend(recent, day)
    report.top_items = report.new_items[:config.report.top_items]
    report.repeat_contacts = repeat_contacts(recent, {i["id"] for i in report.new_items})

    _progress(quiet, "检查采集健康状况…")
    overdue = overdue_findings(store, schedules or {}, as_of, thresholds)
    report.overdue_sources = [f.as_dict() for f in overdue]
    report.health = _health(all_runs, report.runs, schedules or {}, overdue, thresholds)
    report.alerts = read_alerts(since=report.start, until=report.end, data=data)

    _progress(quiet, "统计处置跟踪…")
    report.takedown = takedown_followup(store, start, end, as_of, config.deadline_days)
    return report


def _day_runs(runs: list[dict], start: datetime, end: datetime) -> list[dict]:
    out = []
    for r in runs:
        if within(r.get("started"), start, end):
            began, finished = parse_utc(r.get("started")), parse_utc(r.get("finished"))
            seconds = (finished - began).total_seconds() if began and finished else None
            out.append({**r, "error_total": error_count(r), "duration": seconds})
    return sorted(out, key=lambda r: (r.get("source") or "", r.get("started") or ""))


def _run_totals(runs: list[dict]) -> dict:
    keys = ("pages", "items", "new", "changed", "flagged", "robots_blocked")
    totals = {k: sum(int(r.get(k) or 0) for r in runs) for k in keys}
    totals["errors"] = sum(r["error_total"] for r in runs)
    totals["failed"] = sum(1 for r in runs if failed(r))
    return totals


def _count_new(report: DailyReport) -> None:
    by_category, by_site, cross = Counter(), Counter(), Counter()
    for item in report.new_items:
        by_site[item.get("site") or "?"] += 1
        for label in item.get("labels") or []:
            by_category[label] += 1
            cross[(label, item.get("site") or "?")] += 1
    order = {c: k for k, c in enumerate(CATEGORY_IDS)}
    report.by_category = dict(sorted(by_category.items(), key=lambda kv: order.get(kv[0], 99)))
    report.by_site = dict(sorted(by_site.items(), key=lambda kv: (-kv[1], kv[0])))
    report.category_site = dict(cross)


def _trend(items: list[dict], day: date) -> list[dict]:
    rows = {day - timedelta(days=k): Counter() for k in range(TREND_DAYS)}
    for item in items:
        first = local_day(item.get("first_seen"))
        if first in rows:
            rows[first]["total"] += 1
            for label in item.get("labels") or []:
                rows[first][label] += 1
    return [{"day": d.isoformat(), "total": rows[d]["total"], **{c: rows[d][c] for c in CATEGORY_IDS}}
            for d in sorted(rows)]


def repeat_contacts(items: list[dict], new_ids: set[str]) -> list[dict]:
    """Contacts (phone, WeChat, QQ) found in flagged items of two or more sites, most sites first."""
    seen: dict[tuple[str, str], dict] = {}
    for item in items:
        for kind in CONTACT_KINDS:
            for value in (item.get("contacts") or {}).get(kind) or []:
                entry = seen.setdefault((kind, str(value).strip().lower()),
                                        {"kind": kind, "value": str(value), "sites": set(), "items": [], "new": 0})
                entry["sites"].add(item.get("site") or "?")
                entry["items"].append(item["id"])
                entry["new"] += item["id"] in new_ids
    out = [dict(e, sites=sorted(e["sites"])) for e in seen.values() if len(e["sites"]) >= 2]
    return sorted(out, key=lambda e: (-len(e["sites"]), -len(e["items"]), e["value"]))


def _health(all_runs: list[dict], day_runs: list[dict], schedules: dict, overdue, thresholds) -> list[dict]:
    """One row per source: its runs on the day, the last run, the 7-day median and problems."""
    sources = sorted({r.get("source") for r in all_runs if r.get("source")} | set(schedules))
    overdue_by = defaultdict(list)
    for f in overdue:
        overdue_by[f.source].append(f)
    rows = []
    for source in sources:
        mine = [r for r in all_runs if r.get("source") == source]
        today = [r for r in day_runs if r.get("source") == source]
        last = max(mine, key=lambda r: r.get("started") or "", default=None)
        problems = []
        for run in today:
            problems += run_findings(run, history_for(run, mine, thresholds.median_days), thresholds)
        problems += overdue_by.get(source, [])
        recent = history_for(last, mine, thresholds.median_days) + [last] if last else []
        rows.append({
            "source": source, "schedule": schedules.get(source) or "", "runs": len(today),
            "last_started": last.get("started") if last else None,
            "last_items": int(last.get("items") or 0) if last else None,
            "median_items": median_items(recent),
            "error_rate": (sum(error_count(r) for r in today) /
                           max(1, sum(int(r.get("pages") or 0) + error_count(r) for r in today))) if today else None,
            "problems": [p.as_dict() for p in problems],
        })
    return rows


def moved_at(item: dict, status: str, start: datetime | None = None, end: datetime | None = None) -> str | None:
    """The latest history time of a move to ``status`` (optionally within [start, end))."""
    times = [h.get("at") for h in item.get("history") or []
             if h.get("status") == status and within(h.get("at"), start, end)]
    return max(times, key=parse_utc) if times else None


def deadline_of(item: dict, fallback_days: int) -> datetime | None:
    """An item's takedown deadline: its ``deadline``, else its last notice + ``fallback_days``."""
    deadline = parse_utc(item.get("deadline"))
    if deadline:
        return deadline
    sent = parse_utc(moved_at(item, "notice_sent"))
    return sent + timedelta(days=fallback_days) if sent else None


def takedown_followup(store, start: datetime, end: datetime, as_of: datetime, fallback_days: int) -> dict:
    """Notices sent on the day, pending and overdue notices, removals, items still online."""
    followed = []
    for status in ("notice_sent", "removed", "still_online"):
        followed += iter_items(store, Query(status=status, include_all=True, sort="time"))
    out = {"sent_today": [], "pending": [], "overdue": [], "removed_today": [], "removed_total": 0,
           "still_online": []}
    for item in followed:
        if moved_at(item, "notice_sent", start, end):
            out["sent_today"].append(item)
        if moved_at(item, "removed", start, end):
            out["removed_today"].append(item)
        status = item.get("status")
        if status == "notice_sent":
            deadline = deadline_of(item, fallback_days)
            item = dict(item, deadline_at=deadline)
            (out["overdue"] if deadline and deadline < as_of else out["pending"]).append(item)
        elif status == "removed":
            out["removed_total"] += 1
        elif status == "still_online":
            out["still_online"].append(item)
    return out


def describe_run(run: dict) -> str:
    """A run's outcome in Chinese: 正常 / 失败 / 超时 / the finish reason."""
    if run.get("status") == "failed":
        return "失败"
    if run.get("status") == "timeout":
        return "超时"
    reason = run.get("finish_reason") or ""
    # The store pipeline writes its record before Scrapy sets the finish reason, so "" is normal.
    return "完成" if reason in ("", "finished", "closespider_pagecount", "closespider_itemcount") else reason

