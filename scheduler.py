"""The APScheduler daemon: crawls per source cron, daily report, monthly 汇总表, takedown recheck.

``reprowatch schedule`` runs it in the foreground (under systemd in production). Jobs live in
a SQLAlchemy job store, ``<data>/scheduler.db``, in Asia/Shanghai time:

- ``crawl:<source>`` — one per source with a ``schedule`` cron;
- ``report:daily`` and ``report:monthly`` — ``reprowatch report daily|monthly`` (reports/);
- ``recheck`` — ``reprowatch recheck``: notices past their deadline, fetched again.

Every job runs as a subprocess in a process group of its own, so a crashing spider or a leaked
Chromium never takes the daemon down, and a run past its time limit can be ended whole. A
crawl that crashes, is killed or runs out of time is recorded as a crawl run with ``status``
``failed`` or ``timeout`` (a crawl that ends normally records its own run, pipelines/store.py)
and raises an alert. ``max_instances=1`` and ``coalesce`` mean a source never crawls twice at
once and a backlog of missed runs is one run; ``misfire_grace`` bounds how late a missed run
may still start (after a restart, say).

On start the job store is reconciled with ``sources/`` and the config: new jobs are added,
changed crons rescheduled, removed sources dropped; unchanged jobs keep their stored next run
time, so a restart neither runs anything twice nor loses a run. One daemon per data folder
(``scheduler.lock``). SIGTERM stops taking jobs and waits up to ``stop_timeout`` for running
ones, then kills what is left and records it; SIGHUP reconciles again without a restart.
The daemon re-reads its job store every few seconds, which is how ``schedule --run-now`` from
another process reaches it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawlers.cron import TIMEZONE, cron_trigger

log = logging.getLogger("reprowatch.scheduler")

JOBSTORE_FILE = "scheduler.db"
LOCK_FILE = "scheduler.lock"
STATE_FILE = "scheduler-state.json"
CONFIG_FILE = "schedule.yaml"
# How often the daemon re-reads its job store even with nothing due: the delay before a
# `--run-now` from another process (or a job added by SIGHUP) is seen.
POLL_SECONDS = 2.0
# Exit codes of the jobs' commands that are not failures: 1 means "findings" (DESIGN.md),
# e.g. recheck found items still online.
_OK_CODES = {0, 1}


class ConfigError(ValueError):
    """The schedule config is unreadable or malformed; the message names the file and the field."""


class ScheduleConfig(BaseModel):
    """``schedule.yaml``: when the fixed jobs run and how long any job may take.

    Crons are crontab lines in Beijing time; ``null`` switches a job off. Times are seconds.
    """

    model_config = ConfigDict(extra="forbid")
    daily_report: str | None = "0 8 * * *"
    monthly_report: str | None = "0 8 1 * *"
    recheck: str | None = "0 * * * *"
    # A crawl is asked to stop (Scrapy's CLOSESPIDER_TIMEOUT: graceful, its run recorded, the
    # next run resumes) at crawl_time_limit; one still running kill_grace later is killed.
    crawl_time_limit: float = Field(default=4 * 3600, gt=0)
    kill_grace: float = Field(default=300, ge=0)
    job_time_limit: float = Field(default=3600, gt=0)
    misfire_grace: int = Field(default=3600, ge=1)
    stop_timeout: float = Field(default=600, ge=0)
    max_parallel: int = Field(default=4, ge=1, le=64)
    reports_dir: str | None = None

    @field_validator("daily_report", "monthly_report", "recheck")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            cron_trigger(v)
        return v


def config_path(explicit: str | None, data: Path) -> Path | None:
    """The schedule config in force: ``--config``, ``$REPROWATCH_SCHEDULE_CONFIG``,
    ``./schedule.yaml``, ``<data>/schedule.yaml``, or None (defaults)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("REPROWATCH_SCHEDULE_CONFIG")
    if env:
        return Path(env)
    for candidate in (Path(CONFIG_FILE), Path(data) / CONFIG_FILE):
        if candidate.is_file():
            return candidate
    return None


def load_config(explicit: str | None, data: Path) -> ScheduleConfig:
    """The schedule config (defaults when there is no file); ConfigError names file and field."""
    path = config_path(explicit, data)
    if path is None:
        return ScheduleConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    try:
        return ScheduleConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: field {where!r}: {msg}") from None


# -- what the jobs run with --------------------------------------------------------------------

@dataclass
class _Child:
    proc: subprocess.Popen
    job: str
    stopped: bool = False  # killed because the daemon stopped, not for its own sake


@dataclass
class Runtime:
    """Everything a job needs, set once per process (job functions are pickled by reference
    with only their arguments, so they find the rest here)."""

    data: Path
    store: str
    sources: Path
    config: ScheduleConfig
    command: list[str]
    stopping: threading.Event = field(default_factory=threading.Event)
    reload: bool = False
    children: dict[int, _Child] = field(default_factory=dict)
    active: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def reports_dir(self) -> Path:
        return Path(self.config.reports_dir) if self.config.reports_dir else self.data / "reports"


_runtime: Runtime | None = None


def absolute_store(url: str | None) -> str:
    """The store URL in force, with a relative SQLite path made absolute: the jobs' processes
    must write where the daemon reads, whatever their working directory."""
    from search.store import store_url

    url = store_url(url)
    if url.startswith("sqlite:///"):
        return "sqlite:///" + str(Path(url[len("sqlite:///"):]).resolve())
    return url


def reprowatch_command() -> list[str]:
    """The console script of this installation (``<venv>/bin/reprowatch``)."""
    script = Path(sys.executable).parent / "reprowatch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "reprowatch.cli"]


def configure(data: Path, store: str | None, sources: Path, config: ScheduleConfig) -> Runtime:
    """Set up the runtime the job functions of this process use."""
    global _runtime
    _runtime = Runtime(Path(data).resolve(), absolute_store(store), Path(sources).resolve(), config,
                       reprowatch_command())
    return _runtime


def _rt() -> Runtime:
    if _runtime is None:
        raise RuntimeError("scheduler.configure() was not called in this process")
    return _runtime


def _utc_now() -> str:
    # Seconds, like the crawl's own run records (pipelines/store.py).
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- running one job's process -----------------------------------------------------------------

@dataclass
class ChildResult:
    """How a job's process ended."""

    exit_code: int | None       # None when killed by a signal
    signal: int | None
    timed_out: bool
    stopped: bool               # killed because the daemon was stopping
    seconds: float
    log: str
    tail: str                   # the last lines it printed

    @property
    def ok(self) -> bool:
        return self.exit_code in _OK_CODES and not self.timed_out and not self.stopped

    def reason(self) -> str:
        """Why it failed, in the officers' words."""
        if self.stopped:
            return "调度器停止时仍在运行，已终止"
        if self.timed_out:
            return f"超过时限，已终止（运行 {self.seconds:.0f} 秒）"
        if self.signal:
            return f"进程被信号 {signal.Signals(self.signal).name} 终止"
        last = self.tail.strip().splitlines()[-1] if self.tail.strip() else ""
        return f"进程异常退出（退出码 {self.exit_code}）" + (f"：{last}" if last else "")


def _kill_group(pid: int) -> None:
    """SIGKILL a job's whole process group (its Chromium too); gone already is fine."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            return "\n".join(fh.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_child(job_id: str, args: list[str], time_limit: float) -> ChildResult:
    """Run ``reprowatch ARGS`` in its own process group, output to a log file under
    ``<data>/logs/schedule/``; after ``time_limit`` seconds the group is killed."""
    rt = _rt()
    logs = rt.data / "logs" / "schedule"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"{job_id.replace(':', '-')}-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    env = dict(os.environ, REPROWATCH_DATA=str(rt.data), REPROWATCH_STORE=rt.store, PYTHONUNBUFFERED="1")
    started = time.monotonic()
    with open(path, "ab") as out:
        proc = subprocess.Popen(rt.command + args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    child = _Child(proc, job_id)
    with rt.lock:
        rt.children[proc.pid] = child
    log.info("作业 %s 已启动（进程 %d）：%s", job_id, proc.pid, " ".join(args))
    timed_out = False
    try:
        proc.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        log.warning("作业 %s 超过时限 %.0f 秒，终止进程组 %d", job_id, time_limit, proc.pid)
        _kill_group(proc.pid)
        proc.wait()
    finally:
        with rt.lock:
            rt.children.pop(proc.pid, None)
    # Whatever the leader left behind in its group (a Chromium that outlived its crawl) goes too.
    _kill_group(proc.pid)
    code = proc.returncode
    return ChildResult(code if code >= 0 else None, -code if code < 0 else None, timed_out,
                       child.stopped and not timed_out, time.monotonic() - started, str(path), _tail(path))


def raise_alert(kind: str, message: str, source: str | None = None, items: list[str] = ()) -> None:
    """Raise an alert through reports/alerts.py (recorded for the daily report, sent at once)."""
    try:
        from reports.alerts import send_alert
    except ImportError:  # the reports package is not installed here: the log is all we have
        log.warning("告警（未发送，reports 未安装）%s: %s", kind, message)
        return
    send_alert(kind, message, source=source, items=list(items))


# -- job state for `--list` -------------------------------------------------------------------

def _save_state(job_id: str, **fields) -> None:
    """Remember the last run of a job in ``<data>/scheduler-state.json`` (shown by --list)."""
    rt = _rt()
    path = rt.data / STATE_FILE
    with rt.lock:
        state = read_state(rt.data)
        state[job_id] = {**state.get(job_id, {}), **fields}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)


def read_state(data: Path) -> dict:
    """The last run of every job, as saved by the daemon (empty when none)."""
    try:
        return json.loads((Path(data) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class _Running:
    """Marks a job as running for the daemon's stop (which waits for running jobs)."""

    def __init__(self, job_id: str):
        self.job_id = job_id
        self.started = _utc_now()

    def __enter__(self):
        rt = _rt()
        with rt.lock:
            rt.active.add(self)
        _save_state(self.job_id, last_start=self.started, running=True)
        return self

    def __exit__(self, *exc):
        rt = _rt()
        with rt.lock:
            rt.active.discard(self)
        return False

    def done(self, result: ChildResult) -> None:
        _save_state(self.job_id, last_end=_utc_now(), running=False, last_status="ok" if result.ok else
                    ("timeout" if result.timed_out else "failed"), last_exit_code=result.exit_code,
                    last_log=result.log, last_error=None if result.ok else result.reason())


def _skip_when_stopping(job_id: str) -> bool:
    # A job queued in the pool when SIGTERM came still gets called; it must not start anything.
    if _rt().stopping.is_set():
        log.info("调度器正在停止，不再启动作业 %s", job_id)
        return True
    return False


# -- the jobs (module-level: the job store pickles references to them) -------------------------

def crawl_job(source: str) -> bool:
    """Crawl one source in a subprocess; record the run when the process did not record it
    itself (crash, kill, time limit). True when the crawl ended normally."""
    job_id = f"crawl:{source}"
    if _skip_when_stopping(job_id):
        return False
    rt = _rt()
    limit = rt.config.crawl_time_limit
    args = ["crawl", source, "--sources", str(rt.sources), "--quiet", "--time-limit", f"{limit:g}"]
    with _Running(job_id) as running:
        result = run_child(job_id, args, limit + rt.config.kill_grace)
        running.done(result)
        if result.exit_code == 0 and not result.timed_out and not result.stopped:
            log.info("抓取 %s 完成，用时 %.0f 秒", source, result.seconds)
            return True
        _record_failed_crawl(source, running.started, result)
    return False


def _record_failed_crawl(source: str, started: str, result: ChildResult) -> None:
    from search.store import StoreError, open_store

    status = "timeout" if result.timed_out else "failed"
    reason = result.reason()
    log.error("抓取 %s 失败（%s）：%s；日志 %s", source, status, reason, result.log)
    run = {"source": source, "started": started, "finished": _utc_now(), "pages": 0, "items": 0, "new": 0,
           "changed": 0, "flagged": 0, "spooled": 0, "robots_blocked": 0, "trap_dropped": 0,
           "errors": {"crawl_timeout" if result.timed_out else "crawl_failed": 1}, "finish_reason": status,
           "status": status, "error": reason, "exit_code": result.exit_code, "signal": result.signal,
           "seconds": round(result.seconds, 1), "log": result.log}
    try:
        store = open_store(_rt().store)
        try:
            # A process that recorded its run and then hung or crashed on the way out keeps its
            # own record (with real counts); a second one would count the run twice.
            mine = [r for r in store.runs(since=started[:19], source=source) if r.get("started", "") >= started[:19]]
            if not mine:
                store.record_run(run)
        finally:
            store.close()
    except StoreError as exc:
        log.error("抓取 %s 的失败记录无法写入存储: %s", source, exc)
    kind = "crawl_timeout" if result.timed_out else "crawl_failed"
    raise_alert(kind, f"来源 {source} 的定时抓取{'超时' if result.timed_out else '失败'}：{reason}", source=source)


def _command_job(job_id: str, args: list[str]) -> bool:
    if _skip_when_stopping(job_id):
        return False
    rt = _rt()
    with _Running(job_id) as running:
        result = run_child(job_id, args, rt.config.job_time_limit)
        running.done(result)
    if result.ok:
        log.info("作业 %s 完成（退出码 %s），用时 %.0f 秒", job_id, result.exit_code, result.seconds)
        return True
    log.error("作业 %s 失败：%s；日志 %s", job_id, result.reason(), result.log)
    raise_alert("job_failed", f"定时作业 {job_id} 失败：{result.reason()}")
    return False


def daily_report_job() -> bool:
    """``reprowatch report daily --out <reports dir>`` (mail as the office config says)."""
    rt = _rt()
    return _command_job("report:daily", ["report", "daily", "--out", str(rt.reports_dir)])


def previous_month(today: date) -> str:
    """YYYY-MM of the month before ``today``'s: on the 1st, the month just ended is reported."""
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def monthly_report_job() -> bool:
    """``reprowatch report monthly`` for the month just ended, into the reports folder."""
    rt = _rt()
    from zoneinfo import ZoneInfo

    month = previous_month(datetime.now(ZoneInfo(TIMEZONE)).date())
    out = rt.reports_dir / f"汇总表-{month}.xlsx"
    rt.reports_dir.mkdir(parents=True, exist_ok=True)
    return _command_job("report:monthly", ["report", "monthly", "--month", month, "--out", str(out)])


def recheck_job() -> bool:
    """``reprowatch recheck``: notices past their deadline, fetched again (exit 1 = still online)."""
    rt = _rt()
    return _command_job("recheck", ["recheck", "--sources", str(rt.sources)])


# -- the jobs the sources and the config ask for -----------------------------------------------

@dataclass
class JobSpec:
    """One job as it should be in the job store."""

    id: str
    name: str
    func: str
    args: tuple
    cron: str
    executor: str = "default"

    def trigger(self):
        return cron_trigger(self.cron)


def wanted_jobs(sources: dict, config: ScheduleConfig) -> dict[str, JobSpec]:
    """Every job the sources (those with a ``schedule``) and the config ask for, by id."""
    specs = [JobSpec(f"crawl:{s.name}", f"抓取 {s.name}", "scheduler:crawl_job", (s.name,), s.schedule, "crawls")
             for s in sources.values() if s.schedule]
    for job_id, name, func, cron in (("report:daily", "每日报告", "scheduler:daily_report_job", config.daily_report),
                                     ("report:monthly", "月度汇总表", "scheduler:monthly_report_job",
                                      config.monthly_report),
                                     ("recheck", "处置复查", "scheduler:recheck_job", config.recheck)):
        if cron:
            specs.append(JobSpec(job_id, name, func, (), cron))
    return {s.id: s for s in specs}


def _job_options(config: ScheduleConfig) -> dict:
    return {"max_instances": 1, "coalesce": True, "misfire_grace_time": config.misfire_grace}


def plan(existing: dict, wanted: dict[str, JobSpec], config: ScheduleConfig) -> list[tuple[str, str]]:
    """What reconciling would do: ``(action, job id)`` with action add | reschedule | update | remove."""
    options = _job_options(config)
    out = []
    for job_id in sorted(set(existing) - set(wanted)):
        out.append(("remove", job_id))
    for job_id, spec in sorted(wanted.items()):
        job = existing.get(job_id)
        if job is None:
            out.append(("add", job_id))
            continue
        if repr(job.trigger) != repr(spec.trigger()):
            out.append(("reschedule", job_id))
        elif (job.func_ref, tuple(job.args), job.executor, job.name) != (spec.func, spec.args, spec.executor, spec.name) \
                or any(getattr(job, k) != v for k, v in options.items()):
            out.append(("update", job_id))
    return out


def reconcile(sched, sources: dict, config: ScheduleConfig) -> list[tuple[str, str]]:
    """Bring the job store in line with the sources and the config; unchanged jobs keep their
    next run time. Returns what was done (see :func:`plan`)."""
    wanted = wanted_jobs(sources, config)
    existing = {job.id: job for job in sched.get_jobs()}
    actions = plan(existing, wanted, config)
    options = _job_options(config)
    for action, job_id in actions:
        spec = wanted.get(job_id)
        if action == "remove":
            sched.remove_job(job_id)
        elif action == "add":
            sched.add_job(spec.func, spec.trigger(), args=spec.args, id=job_id, name=spec.name,
                          executor=spec.executor, replace_existing=False, **options)
        elif action == "reschedule":
            sched.modify_job(job_id, func=spec.func, args=spec.args, name=spec.name, executor=spec.executor, **options)
            sched.reschedule_job(job_id, trigger=spec.trigger())
        else:
            sched.modify_job(job_id, func=spec.func, args=spec.args, name=spec.name, executor=spec.executor, **options)
        log.info("作业 %s: %s", job_id, {"add": "新增", "reschedule": "重新排期", "update": "更新设置",
                                          "remove": "移除（来源已删除或不再定时）"}[action])
    return actions


# -- the daemon ---------------------------------------------------------------------------------

def _jobstore(data: Path):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    return SQLAlchemyJobStore(url=f"sqlite:///{Path(data).resolve() / JOBSTORE_FILE}")


def _daemon_class():
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class Daemon(BlockingScheduler):
        """BlockingScheduler that reconciles its jobs before taking any, wakes at least every
        POLL_SECONDS (other processes change the job store: --run-now), and stops on the
        runtime's ``stopping`` flag rather than inside a signal handler (which could cut into
        a job-store transaction)."""

        def __init__(self, runtime: Runtime, sources: dict, **options):
            super().__init__(**options)
            self.runtime, self.sources = runtime, sources

        def _main_loop(self):
            reconcile(self, self.sources, self.runtime.config)
            self.resume()
            self._announce()
            wait = 0.0
            while self.state != STATE_STOPPED:
                self._event.wait(wait)
                self._event.clear()
                if self.runtime.stopping.is_set():
                    self.shutdown(wait=False)
                    break
                if self.runtime.reload:
                    self.runtime.reload = False
                    self._reload()
                due = self._process_jobs()
                wait = POLL_SECONDS if due is None else min(due, POLL_SECONDS)

        def _reload(self):
            from crawlers.sources import SourceError, load_sources

            try:
                self.sources = load_sources(self.runtime.sources)
            except SourceError as exc:
                log.error("SIGHUP：来源配置有误，作业保持不变：%s", exc)
                return
            reconcile(self, self.sources, self.runtime.config)
            self._announce()

        def _announce(self):
            jobs = self.get_jobs()
            log.info("调度器已启动（进程 %d），%d 个作业：", os.getpid(), len(jobs))
            for job in jobs:
                log.info("  %-28s 下次 %s", job.id, _beijing(job.next_run_time))

    return Daemon


def _beijing(moment) -> str:
    if moment is None:
        return "（暂停）"
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M:%S")


def _executors(config: ScheduleConfig) -> dict:
    from apscheduler.executors.pool import ThreadPoolExecutor

    # Crawls have a pool of their own, so a report or a recheck never waits behind them.
    return {"crawls": ThreadPoolExecutor(config.max_parallel), "default": ThreadPoolExecutor(2)}


class AlreadyRunning(RuntimeError):
    """Another daemon holds this data folder's lock."""


def acquire_lock(data: Path):
    """Hold ``<data>/scheduler.lock`` for this process's life (one daemon per data folder:
    two would run every job twice). AlreadyRunning names the other one's pid."""
    path = Path(data) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            raise AlreadyRunning(f"调度器已在运行（进程 {running_pid(data)}，数据目录 {data}）") from None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def running_pid(data: Path) -> int | None:
    """The pid of the daemon running on this data folder, or None."""
    path = Path(data) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = os.pread(fd, 32, 0).decode("ascii", "ignore").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def setup_logging(data: Path) -> None:
    """Log to stderr and to <data>/logs/scheduler.log."""
    logs = Path(data) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(logs / "scheduler.log", encoding="utf-8")):
        handler.setFormatter(fmt)
        for name in ("reprowatch.scheduler", "apscheduler"):
            logging.getLogger(name).addHandler(handler)
    log.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def run_daemon(runtime: Runtime, sources: dict) -> int:
    """Run the daemon in the foreground until SIGTERM/SIGINT; returns the exit code."""
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED

    lock = acquire_lock(runtime.data)
    setup_logging(runtime.data)
    sched = _daemon_class()(runtime, sources, jobstores={"default": _jobstore(runtime.data)},
                            executors=_executors(runtime.config), job_defaults=_job_options(runtime.config),
                            timezone=TIMEZONE)

    def on_event(event):
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("作业 %s 仍在运行，本次触发跳过（同一作业不并发）", event.job_id)
        else:
            log.warning("作业 %s 错过了运行时间 %s（超过宽限 %d 秒），跳过", event.job_id,
                        _beijing(event.scheduled_run_time), runtime.config.misfire_grace)
    sched.add_listener(on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)

    def on_stop(signum, frame):
        if not runtime.stopping.is_set():
            log.info("收到 %s：不再启动新作业，等待运行中的作业（最多 %.0f 秒）",
                     signal.Signals(signum).name, runtime.config.stop_timeout)
        runtime.stopping.set()

    def on_hup(signum, frame):
        runtime.reload = True

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    try:
        sched.start(paused=True)
    finally:
        _drain(runtime)
        os.close(lock)
    log.info("调度器已停止")
    return 0


def _drain(runtime: Runtime) -> None:
    """Wait for running jobs up to stop_timeout; then kill their process groups (each job
    thread records its crawl as failed) and wait briefly for those records."""
    deadline = time.monotonic() + runtime.config.stop_timeout
    while runtime.active and time.monotonic() < deadline:
        time.sleep(0.2)
    with runtime.lock:
        left = list(runtime.children.values())
    for child in left:
        log.warning("停止时限已到，终止作业 %s（进程 %d）", child.job, child.proc.pid)
        child.stopped = True
        _kill_group(child.proc.pid)
    deadline = time.monotonic() + 30
    while runtime.active and time.monotonic() < deadline:
        time.sleep(0.1)


# -- for the CLI: list and run-now --------------------------------------------------------------

def _open_paused(data: Path):
    """A scheduler on the daemon's job store that runs nothing: to read or change the store."""
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(jobstores={"default": _jobstore(data)}, timezone=TIMEZONE)
    sched.start(paused=True)
    return sched


def list_jobs(data: Path, sources: dict, config: ScheduleConfig) -> dict:
    """The stored jobs with their next run (Beijing time and UTC), last run, and what the next
    start of the daemon would change."""
    sched = _open_paused(data)
    try:
        stored = {job.id: job for job in sched.get_jobs()}
    finally:
        sched.shutdown(wait=False)
    wanted = wanted_jobs(sources, config)
    state = read_state(data)
    jobs = []
    for job in sorted(stored.values(), key=lambda j: j.id):
        spec = wanted.get(job.id)
        nxt = job.next_run_time
        jobs.append({"id": job.id, "name": job.name, "schedule": spec.cron if spec else str(job.trigger),
                     "next_run": _beijing(nxt) if nxt else None,
                     "next_run_utc": nxt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if nxt else None,
                     "last": state.get(job.id)})
    pending = [{"action": action, "id": job_id} for action, job_id in plan(stored, wanted, config)]
    return {"timezone": TIMEZONE, "daemon_pid": running_pid(data), "jobs": jobs, "pending": pending}


JOB_FUNCS = {"report:daily": daily_report_job, "report:monthly": monthly_report_job, "recheck": recheck_job}


def resolve_job(name: str, sources: dict) -> str:
    """A job id from what an officer typed: a job id, or a source name for its crawl."""
    if name in JOB_FUNCS or (name.startswith("crawl:") and name[6:] in sources):
        return name
    if name in sources:
        return f"crawl:{name}"
    raise KeyError(name)


def hand_to_daemon(data: Path, job_id: str) -> bool:
    """Make the running daemon run ``job_id`` now (its next poll); False if it has no such job.
    The job's cron is untouched: after this run, the next one is the cron's next time."""
    sched = _open_paused(data)
    try:
        if sched.get_job(job_id) is None:
            return False
        sched.modify_job(job_id, next_run_time=datetime.now(timezone.utc))
        return True
    finally:
        sched.shutdown(wait=False)


def run_now_here(job_id: str) -> bool:
    """Run a job in this process, now (no daemon running); True when it succeeded."""
    if job_id.startswith("crawl:"):
        return crawl_job(job_id[6:])
    return JOB_FUNCS[job_id]()
