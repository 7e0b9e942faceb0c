"""CLI commands for reports: ``report daily``, ``report monthly``, ``report health``,
``report outbox`` (the ``report`` group is added to the main group in cli.py).

Exit codes as everywhere (DESIGN.md): 0 ok, 1 a report written but something needs attention
(``health``: a source is overdue; ``daily --mail`` / ``outbox``: a mail waits in the outbox),
2 usage or input error (bad date, unwritable folder, bad config, unreachable store).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import click

from reprowatch.cli import EXIT_FINDINGS, InputError, _office_config, _open_store

CONFIG_HELP = ("Office config YAML (mail, alerts, report, summary_table sections; default: "
               "$REPROWATCH_EVIDENCE_CONFIG, ./evidence.yaml, data/evidence.yaml).")


def _today() -> date:
    from reports.alerts import SHANGHAI

    return datetime.now(SHANGHAI).date()


def _parse_date(value: str | None) -> date:
    """--date: YYYY-MM-DD, today or yesterday (Asia/Shanghai); default yesterday."""
    if value in (None, "yesterday"):
        return _today() - timedelta(days=1)
    if value == "today":
        return _today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--date: not a date (YYYY-MM-DD, today or yesterday): {value!r}") from None


def _schedules(sources_dir: str | None) -> tuple[dict[str, str | None], str | None]:
    """Each source's cron for the not-run-when-due check, and a warning when unreadable."""
    from crawlers.sources import SourceError, load_sources

    try:
        return {name: s.schedule for name, s in load_sources(sources_dir).items()}, None
    except SourceError as exc:
        return {}, f"未检查“未按时运行”：{exc}"


def _writable_dir(path: Path, option: str) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".reprowatch-write-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"{option}: cannot write to folder {path}: {exc.strerror or exc}") from None
    return path


@click.group()
def report():
    """Daily report, monthly 汇总表, crawler health and the mail outbox."""


@report.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The day (Asia/Shanghai); default yesterday; also 'today'.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Folder for 日报-YYYY-MM-DD.html and .xlsx (default: data/reports/).")
@click.option("--mail", "send_mail", is_flag=True, help="Also mail the report (SMTP settings: mail: in the config).")
@click.option("--sources", "sources_dir", default="sources", show_default=True, type=click.Path(file_okay=False),
              help="Source configs, for their cron schedules (sources not run when due).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the paths and headline figures as JSON.")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.pass_context
def daily(ctx, day, out_dir, send_mail, sources_dir, config_file, as_json, quiet):
    """Write the daily report (HTML with charts, XLSX) from the store and crawl-run records.

    Covers crawl runs per source, newly flagged items by category and site with 7- and 30-day
    trends, the top new items, contacts repeated across sites, crawler health and alerts, and
    takedown follow-up. Sources overdue by their cron are also alerted (once per missed run).
    """
    from evidence.config import PLACEHOLDER
    from reports.daily import build_daily
    from reports.daily_output import mail_daily, write_daily
    from reports.health import alert_overdue
    from reprowatch.paths import data_dir
    from search.store import StoreError, store_url

    the_day = _parse_date(day)
    config = _office_config(config_file)
    data = data_dir()
    out = _writable_dir(Path(out_dir) if out_dir else data / "reports", "--out")
    send_mail = send_mail or config.report.mail
    if send_mail and config.mail is None:
        raise InputError("--mail: 邮件未配置，请在 evidence.yaml 中添加 mail: 段（host, from, to …）")
    schedules, warning = _schedules(sources_dir)
    if warning and not quiet:
        click.echo(f"警告: {warning}", err=True)
    store = _open_store(ctx)
    try:
        if not quiet:
            click.echo(f"生成日报 {the_day.isoformat()} …", err=True)
        try:
            report_ = build_daily(store, the_day, schedules=schedules, config=config, data=data, quiet=quiet)
            if schedules and _today() - the_day <= timedelta(days=1):
                # Only a report about the last day or so alerts: regenerating an old report must
                # not page anyone about runs missed long ago.
                alert_overdue(store, schedules, datetime.now(timezone.utc), config)
        except StoreError as exc:
            raise InputError(str(exc)) from None
        # The store URL may carry Elasticsearch credentials; the report shows only where it is.
        report_.store_label = re.sub(r"//[^/@]*@", "//", store_url(ctx.obj.get("store")))
    finally:
        store.close()
    try:
        files = write_daily(report_, out, "" if config.office == PLACEHOLDER else config.office)
    except OSError as exc:
        raise InputError(f"--out: cannot write the report into {out}: {exc.strerror or exc}") from None
    mailed = None
    if send_mail:
        if not quiet:
            click.echo("发送邮件 …", err=True)
        mailed = mail_daily(report_, files, config, data)
    summary = report_.summary()
    if as_json:
        click.echo(json.dumps({"html": str(files.html), "xlsx": str(files.xlsx), "mailed": mailed, **summary},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(f"日报 HTML: {files.html}")
        click.echo(f"日报 XLSX: {files.xlsx}")
        click.echo(f"新增违法信息 {summary['new_flagged']} 条，抓取运行 {summary['runs']} 次，"
                   f"告警 {summary['alerts']} 条，逾期未处置 {summary['overdue']} 条")
        if mailed is not None:
            click.echo("邮件已发送" if mailed else "邮件发送失败，已放入待发件箱（data/outbox/），下次发送时重试")
    if mailed is False:
        sys.exit(EXIT_FINDINGS)


def _parse_month(value: str | None) -> tuple[int, int]:
    """--month YYYY-MM; default the previous month (the table is due on the 1st)."""
    if value is None:
        first = _today().replace(day=1) - timedelta(days=1)
        return first.year, first.month
    try:
        moment = datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise InputError(f"--month: not a month (YYYY-MM): {value!r}") from None
    return moment.year, moment.month


@report.command()
@click.option("--month", metavar="YYYY-MM", help="The month (Asia/Shanghai); default the previous month.")
@click.option("--out", "out", type=click.Path(), help="FILE.xlsx, or a folder for 汇总表-YYYY-MM.xlsx "
              "(default: data/reports/).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the path and the counts as JSON.")
@click.pass_context
def monthly(ctx, month, out, config_file, as_json):
    """Write the monthly 汇总表 (XLSX in the special action's layout) with a 明细 sheet.

    Fills what online monitoring knows — 检查对象数 (found), 案件数 (confirmed), 责令改正数
    (takedown notices) per category column and in the 广告 column — and leaves the
    enforcement cells to the officer; office, filler and contact from summary_table: in the config.
    """
    from reports.monthly import build_monthly, write_monthly_xlsx
    from reports.daily_output import atomic_write
    from reprowatch.paths import data_dir
    from search.store import StoreError

    year, mon = _parse_month(month)
    config = _office_config(config_file)
    name = f"汇总表-{year:04d}-{mon:02d}.xlsx"
    if out is None:
        path = _writable_dir(data_dir() / "reports", "--out") / name
    elif Path(out).is_dir() or out.endswith(("/", "\\")):
        path = _writable_dir(Path(out), "--out") / name
    else:
        if not out.lower().endswith(".xlsx"):
            raise InputError(f"--out: expected FILE.xlsx or a folder, got {out!r}")
        path = Path(out)
        _writable_dir(path.parent if str(path.parent) else Path("."), "--out")
    store = _open_store(ctx)
    try:
        data = build_monthly(store, year, mon)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    finally:
        store.close()
    try:
        atomic_write(path, lambda p: write_monthly_xlsx(data, p, config))
    except OSError as exc:
        raise InputError(f"--out: cannot write {path}: {exc.strerror or exc}") from None
    counts = data.summary()
    if as_json:
        click.echo(json.dumps({"xlsx": str(path), **counts}, ensure_ascii=False, indent=2))
    else:
        click.echo(f"汇总表: {path}")
        click.echo(f"{year}年{mon}月：发现违法信息 {counts['found']['total']} 条，审核确认 {counts['confirmed']['total']} 条，"
                   f"发出处置通知 {counts['notice_sent']['total']} 条，确认下线 {counts['removed']['total']} 条")


@report.command()
@click.option("--sources", "sources_dir", default="sources", show_default=True, type=click.Path(file_okay=False),
              help="Source configs with their cron schedules.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print overdue sources as JSON.")
@click.pass_context
def health(ctx, sources_dir, config_file, as_json):
    """Check that every source ran when its cron was due; alert the ones that did not (exit 1)."""
    from crawlers.sources import SourceError, load_sources
    from reports.health import alert_overdue
    from search.store import StoreError

    config = _office_config(config_file)
    try:
        schedules = {name: s.schedule for name, s in load_sources(sources_dir).items()}
    except SourceError as exc:
        raise InputError(str(exc)) from None
    store = _open_store(ctx)
    try:
        findings = alert_overdue(store, schedules, datetime.now(timezone.utc), config)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], ensure_ascii=False, indent=2))
    else:
        for f in findings:
            click.echo(f"{f.source}: {f.message}")
        click.echo(f"检查 {len(schedules)} 个来源，{len(findings)} 个未按时运行")
    if findings:
        sys.exit(EXIT_FINDINGS)


@report.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def outbox(config_file, as_json):
    """Retry the mails and webhook posts waiting in data/outbox/ (exit 1 while some still wait)."""
    from reports import delivery
    from reprowatch.paths import data_dir

    sent, left = delivery.flush_outbox(_office_config(config_file), data_dir())
    if as_json:
        click.echo(json.dumps({"sent": sent, "pending": left}))
    else:
        click.echo(f"已投递 {sent} 条，待发件箱剩余 {left} 条")
    if left:
        sys.exit(EXIT_FINDINGS)
