"""Crawler health: rules over crawl-run records, and sources not run when their cron was due.

A crawl that "succeeds" with nothing in it is the failure nobody notices: the site changed
its layout, blocked us, or the job never ran. Each rule below turns one such situation into
a :class:`Finding`; ``check_after_crawl`` (called by ``reprowatch crawl`` when a crawl ends)
and ``alert_overdue`` (the daily report, ``reprowatch report health``) send them as alerts.
Thresholds are the ``alerts:`` section of the office config (``evidence/config.py``).
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from reports.alerts import SHANGHAI, read_alerts, send_alert

log = logging.getLogger("reprowatch.health")

# A run the scheduler started slightly before the minute it was due still counts as that run.
DUE_TOLERANCE = timedelta(minutes=1)
# How far back to look for the last time a cron expression was due; covers monthly crons.
_DUE_WINDOWS = (timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=366))


@dataclass
class Finding:
    """One health problem of one source."""

    kind: str
    source: str
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source, "message": self.message}


def parse_utc(value: str | None) -> datetime | None:
    """A stored UTC ISO time as an aware datetime (None when missing or malformed)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def utc_iso(moment: datetime) -> str:
    """An aware datetime as the store's UTC ISO form."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def local(moment: datetime | None) -> str:
    """Asia/Shanghai wall-clock time for messages."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else "—"


def error_count(run: dict) -> int:
    """All errors of a run, over every kind."""
    return sum(int(v) for v in (run.get("errors") or {}).values())


def error_rate(run: dict) -> float:
    """Errors per attempted page: errors / (pages + errors); 0 for a run that tried nothing."""
    errors = error_count(run)
    attempted = int(run.get("pages") or 0) + errors
    return errors / attempted if attempted else 0.0


def failed(run: dict) -> bool:
    """A run the scheduler recorded as crashed or ended for taking too long."""
    return run.get("status") in ("failed", "timeout")


def median_items(previous: list[dict]) -> float | None:
    """Median item count of earlier completed runs, or None when there are none."""
    counts = [int(r.get("items") or 0) for r in previous if not failed(r)]
    return statistics.median(counts) if counts else None


def run_findings(run: dict, previous: list[dict], thresholds) -> list[Finding]:
    """The health problems of one crawl run; ``previous``: the source's earlier runs within
    ``thresholds.median_days`` (for the layout-change rule)."""
    source = run.get("source") or "?"
    if failed(run):
        kind = "crawl_timeout" if run.get("status") == "timeout" else "crawl_failed"
        what = "抓取进程超时被终止" if kind == "crawl_timeout" else "抓取进程异常结束"
        return [Finding(kind, source, f"{what}：{run.get('error') or '（无错误信息）'}")]
    out = []
    items = int(run.get("items") or 0)
    if items == 0:
        out.append(Finding("zero_items", source, f"本次抓取没有得到任何条目（页面 {run.get('pages', 0)}，"
                                                  f"错误 {error_count(run)}），请检查站点是否可访问或已改版"))
    rate = error_rate(run)
    if rate > thresholds.error_rate:
        kinds = "、".join(f"{k}×{v}" for k, v in sorted((run.get("errors") or {}).items()))
        out.append(Finding("error_rate", source, f"错误率 {rate:.0%} 超过阈值 {thresholds.error_rate:.0%}"
                                                 f"（{kinds}；页面 {run.get('pages', 0)}）"))
    usable = [r for r in previous if not failed(r)]
    median = median_items(usable)
    # Too little history says nothing about "usual": a new source would alert on its 2nd run.
    if items > 0 and len(usable) >= thresholds.min_history and median and items < thresholds.layout_ratio * median:
        out.append(Finding("layout_change", source,
                           f"条目数 {items} 低于近 {thresholds.median_days} 天中位数 {median:g} 的 "
                           f"{thresholds.layout_ratio:.0%}，疑似页面改版或被拦截"))
    blocked = int(run.get("robots_blocked") or 0)
    # Most sites disallow a few paths (admin, search) and we obey that quietly; what matters is
    # a robots.txt that now shuts us out of a large part of the site (or all of it).
    share = blocked / (blocked + int(run.get("pages") or 0)) if blocked else 0.0
    if share > thresholds.robots_share:
        out.append(Finding("robots_blocked", source, f"robots.txt 拦截了 {blocked} 个请求（占 {share:.0%}，"
                                                     f"阈值 {thresholds.robots_share:.0%}），请核实站点规则是否变化"))
    return out


def history_for(run: dict, runs: list[dict], days: int) -> list[dict]:
    """The runs of ``run``'s source that started within ``days`` days before it."""
    started = parse_utc(run.get("started"))
    if started is None:
        return []
    since = started - timedelta(days=days)
    out = []
    for r in runs:
        at = parse_utc(r.get("started"))
        if r is not run and r.get("source") == run.get("source") and at is not None and since <= at < started:
            out.append(r)
    return out


def cron_trigger(cron: str):
    """An APScheduler CronTrigger for a standard 5-field crontab line, in Asia/Shanghai time,
    exactly as the scheduler fires it (reprowatch/cron.py). ValueError if malformed."""
    from reprowatch.cron import cron_trigger as scheduler_trigger

    return scheduler_trigger(cron)


def last_due(cron: str, now: datetime) -> datetime | None:
    """The latest time at or before ``now`` that the cron expression (Asia/Shanghai, as the
    scheduler reads it) was due; None if it was not due within a year. ValueError if malformed."""
    trigger = cron_trigger(cron)
    for window in _DUE_WINDOWS:
        moment = trigger.get_next_fire_time(None, now - window)
        found = None
        while moment is not None and moment <= now:
            found = moment
            moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
        if found is not None:
            return found
    return None


def overdue_findings(store, schedules: dict[str, str | None], now: datetime, thresholds) -> list[Finding]:
    """Sources whose cron was due more than ``due_grace_minutes`` before ``now`` with no run
    started since (runs after ``now`` do not count: a past day's report keeps its verdict)."""
    grace = timedelta(minutes=thresholds.due_grace_minutes)
    out = []
    for source, cron in sorted(schedules.items()):
        if not cron:
            continue
        try:
            due = last_due(cron, now - grace)
        except ValueError as exc:
            out.append(Finding("not_run_when_due", source, f"计划 cron '{cron}' 无效: {exc}"))
            continue
        if due is None:
            continue
        since_due = [r for r in store.runs(since=utc_iso(due - DUE_TOLERANCE), source=source)
                     if (parse_utc(r.get("started")) or now) <= now]
        if since_due:
            continue
        # Only for the overdue: the whole history of one source, for its last run's time.
        earlier = [t for t in (parse_utc(r.get("started")) for r in store.runs(source=source)) if t and t <= now]
        last = max(earlier, default=None)
        out.append(Finding("not_run_when_due", source,
                           f"应于 {local(due)} 运行（cron '{cron}'），"
                           f"最近一次运行 {local(last) if last else '从未运行'}"))
    return out


# -- sending ---------------------------------------------------------------------------

def check_after_crawl(store_url: str | None, summaries: list[dict], crawl_started: str, config=None) -> list[Finding]:
    """Health rules on the runs of a crawl that just ended, each problem sent as an alert.

    ``summaries``: the crawl's per-source summaries (``CrawlSummary.as_dict()``); the run
    records the store pipeline wrote are preferred when present (started at or after
    ``crawl_started``). Never raises: a broken check must not fail the crawl.
    """
    findings: list[Finding] = []
    try:
        from search.store import StoreError, open_store

        cfg = _load(config)
        thresholds = cfg.alerts if cfg is not None else _default_thresholds()
        since = utc_iso(parse_utc(crawl_started) - timedelta(days=thresholds.median_days + 1))
        try:
            store = open_store(store_url)
            try:
                runs = store.runs(since=since)
            finally:
                store.close()
        except StoreError as exc:
            log.warning("健康检查无法读取抓取记录（仅用本次摘要）: %s", exc)
            runs = []
        for summary in summaries:
            mine = [r for r in runs if r.get("source") == summary["source"]]
            # The pipeline stamps whole seconds, so compare with the crawl's start second.
            began = parse_utc(crawl_started).replace(microsecond=0)
            current = next((r for r in mine if (parse_utc(r.get("started")) or began) >= began
                            and r.get("started")), None)
            if current is None:  # the store was down: the summary holds the same counts
                current = dict(summary, started=crawl_started)
            findings += run_findings(current, history_for(current, mine, thresholds.median_days), thresholds)
        for f in findings:
            send_alert(f.kind, f.message, source=f.source, config=cfg)
    except Exception:  # noqa: BLE001
        log.exception("抓取后健康检查失败")
    return findings


def alert_overdue(store, schedules: dict[str, str | None], now: datetime, config=None) -> list[Finding]:
    """Alert every source not run when due, once per missed due time (an alert with the same
    message in the last two days is not sent again). Returns all overdue findings."""
    cfg = _load(config)
    thresholds = cfg.alerts if cfg is not None else _default_thresholds()
    findings = overdue_findings(store, schedules, now, thresholds)
    sent = {(a.get("kind"), a.get("source"), a.get("message"))
            for a in read_alerts(since=utc_iso(datetime.now(timezone.utc) - timedelta(days=2)))}
    for f in findings:
        if (f.kind, f.source, f.message) not in sent:
            send_alert(f.kind, f.message, source=f.source, config=cfg)
    return findings


def _load(config):
    if config is not None and not isinstance(config, str):
        return config
    from evidence.config import ConfigError, load_config
    from reprowatch.paths import data_dir

    try:
        return load_config(config, data_dir())
    except ConfigError as exc:
        log.error("配置无法读取，使用默认阈值: %s", exc)
        return None


def _default_thresholds():
    from evidence.config import AlertConfig

    return AlertConfig()
