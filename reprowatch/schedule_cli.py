"""CLI commands for scheduled monitoring: ``schedule`` and ``recheck`` (issue 7; ``review`` is in
web_cli.py, with reprowatch/review.py).

Exit codes as everywhere (DESIGN.md): 0 ok, 1 findings (recheck: items still online; a job
run with --run-now that failed), 2 usage or input error.
"""

from __future__ import annotations

import json
import sys

import click

from reprowatch.cli import EXIT_FINDINGS, InputError, _local_time, _office_config, _open_store

BEIJING = "Asia/Shanghai"


def _sources(sources_dir: str) -> dict:
    from crawlers.sources import SourceError, load_sources

    try:
        return load_sources(sources_dir)
    except SourceError as exc:
        raise InputError(str(exc)) from None


def _schedule_config(config_file, data):
    import scheduler
    from evidence.config import ConfigError

    try:
        return scheduler.load_config(config_file, data)
    except ConfigError as exc:
        raise InputError(str(exc)) from None


@click.command()
@click.option("--sources", "sources_dir", default="sources", show_default=True,
              type=click.Path(file_okay=False), help="Folder of source YAML files (their `schedule` crons).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Office config YAML; its schedule: section has daily_report, monthly_report, recheck "
                   "(crons, Beijing time), crawl_time_limit, kill_grace, job_time_limit, misfire_grace, "
                   "stop_timeout, max_parallel, reports_dir (default: $REPROWATCH_EVIDENCE_CONFIG, "
                   "./evidence.yaml, data/evidence.yaml). Every job gets the same file.")
@click.option("--list", "list_", is_flag=True, help="Show each job and its next run (Beijing time), then exit.")
@click.option("--run-now", "run_now", metavar="JOB",
              help="Run one job now: crawl:SOURCE (or just SOURCE), report:daily, report:monthly, recheck. "
                   "Handed to the running daemon if there is one, else run here.")
@click.option("--json", "as_json", is_flag=True, help="With --list or --run-now: print JSON.")
@click.pass_context
def schedule(ctx, sources_dir, config_file, list_, run_now, as_json):
    """Run the scheduler daemon in the foreground: every source on its cron, the daily report,
    the monthly 汇总表 and the takedown recheck (SIGTERM stops it cleanly)."""
    import scheduler
    from reprowatch.paths import data_dir

    if list_ and run_now:
        raise click.UsageError("give --list or --run-now, not both")
    from crawlers.sources import SourceError, load_sources

    data = data_dir().resolve()
    config = _schedule_config(config_file, data)
    try:
        sources, problem = load_sources(sources_dir), None
    except SourceError as exc:
        # Listing and handing a job to a running daemon still work with a broken source file:
        # the daemon's jobs are in its job store (the crawl itself will fail and be recorded).
        if not (list_ or run_now):
            raise InputError(str(exc)) from None
        sources, problem = None, str(exc)
        click.echo(f"警告: 来源配置有误（{problem}）", err=True)
    if list_:
        _print_jobs(scheduler.list_jobs(data, sources, config), as_json)
        return
    if run_now:
        _run_now(ctx, scheduler, data, sources, problem, sources_dir, config, config_file, run_now, as_json)
        return
    runtime = scheduler.configure(data, ctx.obj.get("store"), sources_dir, config, config_file)
    try:
        code = scheduler.run_daemon(runtime, sources)
    except scheduler.AlreadyRunning as exc:
        raise InputError(str(exc)) from None
    sys.exit(code)


def _print_jobs(listing: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(listing, ensure_ascii=False, indent=2))
        return
    pid = listing["daemon_pid"]
    click.echo(f"调度器: {'运行中（进程 ' + str(pid) + '）' if pid else '未运行'}   时区: 北京时间")
    if not listing["jobs"]:
        click.echo("作业库中还没有作业（调度器首次启动时按来源和配置创建）")
    click.echo(f"{'作业':<30}{'计划':<18}{'下次运行（北京时间）':<24}上次")
    for job in listing["jobs"]:
        last = job.get("last") or {}
        shown = "运行中" if last.get("running") else (
            f"{last.get('last_status', '')} {_local_time(last.get('last_end'))}".strip() or "-")
        click.echo(f"{job['id']:<30}{job['schedule']:<18}{job['next_run'] or '（暂停）':<30}{shown}")
    names = {"add": "将新增", "reschedule": "将重新排期", "update": "将更新设置", "remove": "将移除"}
    for change in listing["pending"]:
        click.echo(f"  * {change['id']}: {names[change['action']]}（调度器下次启动或收到 SIGHUP 时生效）")


def _run_now(ctx, scheduler, data, sources, problem, sources_dir, config, config_file, name, as_json):
    if sources is None:
        job_id = name if ":" in name or name in scheduler.JOB_FUNCS else f"crawl:{name}"
    else:
        try:
            job_id = scheduler.resolve_job(name, sources)
        except KeyError:
            known = ", ".join(sorted(set(scheduler.wanted_jobs(sources, config)) | set(scheduler.JOB_FUNCS)))
            raise InputError(f"没有作业 {name!r}；可用: {known}") from None
    pid = scheduler.running_pid(data)
    if pid:
        if not scheduler.hand_to_daemon(data, job_id):
            raise InputError(f"运行中的调度器（进程 {pid}）没有作业 {job_id}（来源未设 schedule，或尚未重新加载：发送 SIGHUP）")
        if as_json:
            click.echo(json.dumps({"job": job_id, "handed_to": pid}, ensure_ascii=False))
        else:
            click.echo(f"已交给调度器（进程 {pid}）立即运行 {job_id}；若该作业正在运行，本次触发将跳过")
        return
    if problem:
        raise InputError(problem)
    runtime = scheduler.configure(data, ctx.obj.get("store"), sources_dir, config, config_file)
    scheduler.setup_logging(runtime.data)
    ok = scheduler.run_now_here(job_id)
    state = scheduler.read_state(runtime.data).get(job_id, {})
    if as_json:
        click.echo(json.dumps({"job": job_id, "ok": ok, **state}, ensure_ascii=False, indent=2))
    else:
        click.echo(f"{job_id}: {'完成' if ok else '失败'}" + (f"；日志 {state['last_log']}" if state.get("last_log") else ""))
    if not ok:
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.option("--sources", "sources_dir", default="sources", show_default=True,
              type=click.Path(file_okay=False), help="Folder of source YAML files (headers, render mode).")
@click.option("--item", "item_ids", multiple=True, metavar="ID",
              help="Recheck these items now, deadline or not (default: every notice past its deadline).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Office config (deadline_days for notices recorded without a deadline).")
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
@click.pass_context
def recheck(ctx, sources_dir, item_ids, config_file, as_json):
    """Fetch again every ad whose takedown deadline has passed; mark it removed or still_online.

    Each page is fetched as its source fetches it (headers; Chromium for render: browser),
    with a new evidence capture; the decision goes into the item's history (user recheck)
    and the custody log, and items still online raise an alert. Exit 1 when any is still online.
    """
    from crawlers.recheck import DECISION_NAMES, due_items, run_recheck
    from reprowatch.paths import data_dir
    from reports.alerts import send_alert
    from search.store import StoreError

    data = data_dir()
    office = _office_config(config_file)
    sources = _sources(sources_dir)
    store = _open_store(ctx)
    try:
        if item_ids:
            items = []
            for item_id in item_ids:
                item = store.get(item_id)
                if item is None:
                    raise InputError(f"no item {item_id!r}")
                if item["status"] not in ("notice_sent", "still_online"):
                    raise InputError(f"{item_id}: 状态为 {item['status']}，只有已发处置通知（notice_sent、still_online）的条目可复查")
                items.append(item)
        else:
            items = due_items(store, office.deadline_days)
        if not as_json:
            click.echo(f"待复查 {len(items)} 条（已过处置期限）", err=True)

        def progress(n, total, result):
            click.echo(f"[{n}/{total}] {result.id} {DECISION_NAMES[result.decision]}：{result.message}  {result.url}",
                       err=True)

        results = run_recheck(store, items, sources, data, progress=progress)
    except StoreError as exc:
        raise InputError(str(exc)) from None
    finally:
        store.close()
    still = [r for r in results if r.decision == "still_online"]
    if still:
        send_alert("still_online", f"{len(still)} 条违法广告在处置期限后仍在线，请再次督办",
                   items=[r.id for r in still], config=office)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        counts = {name: sum(r.decision == key for r in results) for key, name in DECISION_NAMES.items()}
        click.echo("复查完成：" + "，".join(f"{name} {n} 条" for name, n in counts.items()))
    if still:
        sys.exit(EXIT_FINDINGS)
