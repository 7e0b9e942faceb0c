"""The scheduler daemon, started as a subprocess (`reprowatch schedule`) on a temporary data
folder and sources folder, crawling the demo web for real.

Crons are set far from now so nothing fires by itself; runs are triggered with
`schedule --run-now` from another process, as an officer would.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import local_server

BEIJING = ZoneInfo("Asia/Shanghai")
SLOW_POST = "/post/27.html"  # the classifieds page that answers after 4.5 s


def write_source(folder: Path, name: str, url: str, cron: str, item_path: str) -> None:
    """A one-page source: crawls exactly ``url``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump({
        "name": name, "type": "html", "start_urls": [url], "allowed_domains": ["127.0.0.1"],
        "items": [item_path.replace(".", r"\.") + "$"], "schedule": cron, "max_pages": 5, "obey_robots": False,
    }, allow_unicode=True), encoding="utf-8")


class Daemon:
    """`reprowatch schedule` in the background, and the commands an officer runs beside it."""

    def __init__(self, cli_bin: str, data: Path, sources: Path, config: dict):
        self.cli, self.data, self.sources = cli_bin, data, sources
        data.mkdir(parents=True, exist_ok=True)
        self.config = data / "office.yaml"  # the office config; the daemon's settings are its schedule:
        self.config.write_text(yaml.safe_dump({"schedule": config}), encoding="utf-8")
        # No crawl-time evidence capture and no worker process: the scheduling is under test,
        # and starting Chromium or a worker costs seconds per one-page crawl.
        self.env = dict(os.environ, REPROWATCH_DATA=str(data), REPROWATCH_EVIDENCE="0", REPROWATCH_WORKERS="0")
        self.store = f"sqlite:///{data}/rw.db"
        self.proc = None
        self.starts = 0

    def command(self, *args, timeout=60) -> subprocess.CompletedProcess:
        return subprocess.run([self.cli, "--store", self.store, *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout)

    def schedule(self, *args) -> subprocess.CompletedProcess:
        return self.command("schedule", "--sources", str(self.sources), "--config", str(self.config), *args)

    @property
    def log(self) -> str:
        path = self.data / "logs" / "scheduler.log"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    def wait_log(self, text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.log.count(text) < count:
            assert self.proc is None or self.proc.poll() is None, f"daemon exited:\n{self.log}"
            assert time.monotonic() < deadline, f"{text!r} ×{count} not logged in {timeout} s:\n{self.log}"
            time.sleep(0.1)

    def start(self) -> None:
        self.starts += 1
        out = open(self.data / f"daemon-{self.starts}.out", "wb")
        self.proc = subprocess.Popen([self.cli, "--store", self.store, "schedule", "--sources", str(self.sources),
                                      "--config", str(self.config)], stdout=out, stderr=subprocess.STDOUT,
                                     env=self.env)
        self.wait_log("调度器已启动", count=self.starts)

    def stop(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def jobs(self) -> dict:
        listing = self.schedule("--list", "--json")
        assert listing.returncode == 0, listing.stderr
        return json.loads(listing.stdout)

    def runs(self, source: str) -> list[dict]:
        path = self.data / "rw.db"
        if not path.exists():
            return []
        done = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [json.loads(d) for (d,) in done.execute("SELECT doc FROM runs WHERE source = ? ORDER BY id", (source,))]
        finally:
            done.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def daemon(cli_bin, tmp_path):
    made = []

    def make(sources: Path, **config) -> Daemon:
        d = Daemon(cli_bin, tmp_path / "data", sources, {"daily_report": None, "monthly_report": None,
                                                         "recheck": None, **config})
        made.append(d)
        return d
    yield make
    for d in made:
        d.kill()


def next_time(now: datetime, hour: int, minute: int, weekday: int | None = None) -> datetime:
    """The next Beijing time at hour:minute (on ``weekday``, Monday = 0), after ``now``."""
    moment = now.astimezone(BEIJING).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if weekday is not None:
        moment += timedelta(days=(weekday - moment.weekday()) % 7)
    while moment <= now:
        moment += timedelta(days=7 if weekday is not None else 1)
    return moment


def test_restart_reconciles_and_keeps_jobs_once(web, daemon, tmp_path):
    sources = tmp_path / "sources"
    base = web.urls["classifieds"]
    for name, cron in (("kept", "0 3 * * *"), ("changed", "0 4 * * *"), ("gone", "0 6 * * *")):
        write_source(sources, name, f"{base}/post/3.html", cron, "/post/3.html")
    d = daemon(sources, daily_report="0 8 * * *", monthly_report="30 8 1 * *")
    d.start()
    before = {j["id"]: j for j in d.jobs()["jobs"]}
    assert set(before) == {"crawl:kept", "crawl:changed", "crawl:gone", "report:daily", "report:monthly"}
    assert before["report:daily"]["next_run"].endswith("08:00:00")  # shown in Beijing time
    assert d.jobs()["daemon_pid"] == d.proc.pid

    # While it runs: a source is added, one changes its cron, one is deleted.
    write_source(sources, "added", f"{base}/post/3.html", "17 5 * * 1", "/post/3.html")  # Mondays (crontab: 1)
    write_source(sources, "changed", f"{base}/post/3.html", "30 4 * * *", "/post/3.html")
    (sources / "gone.yaml").unlink()
    assert d.stop() == 0
    assert "调度器已停止" in d.log
    pending = {(p["action"], p["id"]) for p in d.jobs()["pending"]}
    assert pending == {("add", "crawl:added"), ("reschedule", "crawl:changed"), ("remove", "crawl:gone")}

    d.start()
    now = datetime.now(BEIJING)
    after = {j["id"]: j for j in d.jobs()["jobs"]}
    assert set(after) == {"crawl:kept", "crawl:changed", "crawl:added", "report:daily", "report:monthly"}
    assert after["crawl:added"]["next_run"] == next_time(now, 5, 17, weekday=0).strftime("%Y-%m-%d %H:%M:%S")
    assert after["crawl:changed"]["next_run"] == next_time(now, 4, 30).strftime("%Y-%m-%d %H:%M:%S")
    # Unchanged jobs keep the next run stored before the restart.
    for job_id in ("crawl:kept", "report:daily", "report:monthly"):
        assert after[job_id]["next_run_utc"] == before[job_id]["next_run_utc"]
    rows = sqlite3.connect(d.data / "scheduler.db").execute("SELECT id FROM apscheduler_jobs").fetchall()
    assert sorted(r[0] for r in rows) == sorted(after)  # each job once in the job store
    assert not d.jobs()["pending"]

    # The report jobs run `reprowatch report` as the daemon's subprocesses, into data/reports/.
    assert d.schedule("--run-now", "report:daily").returncode == 0
    assert d.schedule("--run-now", "report:monthly").returncode == 0
    d.wait_log("作业 report:daily 完成")
    d.wait_log("作业 report:monthly 完成")
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%d")
    month = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert (d.data / "reports" / f"日报-{yesterday}.html").is_file()
    assert (d.data / "reports" / f"汇总表-{month}.xlsx").is_file()

    # A second daemon on the same data folder would run every job twice: refused.
    second = d.schedule()
    assert second.returncode == 2 and "已在运行" in second.stderr
    assert d.stop() == 0

    # With no daemon, --run-now runs the job here and now.
    here = d.schedule("--run-now", "kept", "--json")
    assert here.returncode == 0, here.stderr
    assert json.loads(here.stdout)["ok"] and d.runs("kept")[-1]["finish_reason"] == "finished"

    # A malformed cron in the config stops the daemon before it starts, naming the field.
    d.config.write_text(yaml.safe_dump({"schedule": {"recheck": "0 8 1 * 1"}}), encoding="utf-8")
    bad = d.schedule()
    assert bad.returncode == 2 and "schedule.recheck" in bad.stderr and "Traceback" not in bad.stderr


class GatedPage:
    """A one-page site whose page answers only when the test opens the gate: a crawl is
    "running" for exactly as long as the test needs, however slowly a loaded machine starts
    the commands that poke the daemon meanwhile."""

    PATH = "/post/gate.html"
    BODY = ("<html><head><meta charset='utf-8'><title>门控测试页</title></head><body><h1>门控测试页</h1>"
            "<p>这是调度器测试用的页面，正文足够长，可以被抽取为一条条目。</p></body></html>").encode("utf-8")

    def __init__(self):
        import threading

        self.open = threading.Event()
        self.hits = 0
        self.server = local_server(self._answer)
        self.url = f"{self.server.url}{self.PATH}"

    def _answer(self, handler):
        if handler.path != self.PATH:
            return 404, "text/plain", b"not found"
        self.hits += 1
        self.open.wait(90)
        return 200, "text/html; charset=utf-8", self.BODY

    def close(self):
        self.open.set()
        self.server.shutdown()


@pytest.fixture
def gated():
    page = GatedPage()
    yield page
    page.close()


def test_no_overlap_and_sigterm_waits_for_the_crawl(gated, daemon, tmp_path):
    import threading

    sources = tmp_path / "sources"
    write_source(sources, "slow", gated.url, "0 4 * * *", GatedPage.PATH)
    d = daemon(sources, stop_timeout=60)
    d.start()
    cron_next = d.jobs()["jobs"][0]["next_run_utc"]

    def wait_requests(n: int) -> None:
        deadline = time.monotonic() + 60
        while gated.hits < n:
            assert time.monotonic() < deadline, d.log
            time.sleep(0.05)

    handed = d.schedule("--run-now", "slow")
    assert handed.returncode == 0 and "已交给调度器" in handed.stdout, handed.stderr
    wait_requests(1)  # the crawl is waiting for the gated page now
    assert d.schedule("--run-now", "crawl:slow").returncode == 0  # a second trigger while it runs
    d.wait_log("仍在运行，本次触发跳过")
    gated.open.set()
    deadline = time.monotonic() + 60
    while not d.runs("slow"):
        assert time.monotonic() < deadline, d.log
        time.sleep(0.2)
    time.sleep(2.5)  # a poll later: a second crawl would have started by now
    runs = d.runs("slow")
    assert len(runs) == 1 and runs[0]["finish_reason"] == "finished" and runs[0]["items"] == 1
    assert gated.hits == 1
    job = d.jobs()["jobs"][0]
    assert job["next_run_utc"] == cron_next  # run-now leaves the cron's next run as it was
    assert job["last"]["last_status"] == "ok" and not job["last"]["running"]

    # SIGTERM while a crawl runs: the daemon waits for it, and it ends normally.
    gated.open.clear()
    d.schedule("--run-now", "slow")
    wait_requests(2)
    threading.Timer(3.0, gated.open.set).start()  # the page answers 3 s after the signal
    signalled = time.monotonic()
    code = d.stop()
    assert code == 0
    assert time.monotonic() - signalled > 2.5  # it waited for the crawl
    runs = d.runs("slow")
    assert len(runs) == 2 and runs[1]["finish_reason"] == "finished" and "status" not in runs[1]
    assert d.log.index("收到 SIGTERM") < d.log.rindex("抓取 slow 完成") < d.log.index("调度器已停止")


def test_failed_and_timed_out_crawls_are_recorded_while_the_daemon_lives(web, daemon, tmp_path):
    sources = tmp_path / "sources"
    write_source(sources, "slow", web.urls["classifieds"] + SLOW_POST, "0 4 * * *", SLOW_POST)
    write_source(sources, "broken", web.urls["classifieds"] + "/post/3.html", "0 5 * * *", "/post/3.html")
    # Asked to stop after 1 s, killed 3 s later: the crawl of the 4.5 s page cannot make it.
    d = daemon(sources, crawl_time_limit=1, kill_grace=3, stop_timeout=1)
    d.start()
    pid = d.proc.pid

    # The crawl process fails: its source file was broken after the daemon scheduled it.
    good = (sources / "broken.yaml").read_text(encoding="utf-8")
    (sources / "broken.yaml").write_text(good + "unknown_key: 1\n", encoding="utf-8")
    ran = d.schedule("--run-now", "broken")
    assert ran.returncode == 0, ran.stderr
    d.wait_log("抓取 broken 失败")
    (sources / "broken.yaml").write_text(good, encoding="utf-8")
    failed = d.runs("broken")
    assert len(failed) == 1 and failed[0]["status"] == "failed" and failed[0]["finish_reason"] == "failed"
    assert failed[0]["exit_code"] == 2 and "broken.yaml" in failed[0]["error"] and "unknown_key" in failed[0]["error"]
    assert failed[0]["errors"] == {"crawl_failed": 1} and failed[0]["items"] == 0
    assert Path(failed[0]["log"]).is_file()

    # The crawl runs past its limit: the process group is killed and the run recorded as a timeout.
    assert d.schedule("--run-now", "slow").returncode == 0
    d.wait_log("抓取 slow 失败")
    timed_out = d.runs("slow")
    assert len(timed_out) == 1 and timed_out[0]["status"] == "timeout" and timed_out[0]["signal"] == 9
    assert 4 <= timed_out[0]["seconds"] < 12 and "超过时限" in timed_out[0]["error"]

    # The daemon lives on.
    assert d.proc.poll() is None and d.jobs()["daemon_pid"] == pid
    alerts = [json.loads(line) for line in (d.data / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(a["kind"], a["source"]) for a in alerts] == [("crawl_failed", "broken"), ("crawl_timeout", "slow")]
    listing = {j["id"]: j for j in d.jobs()["jobs"]}
    assert listing["crawl:broken"]["last"]["last_status"] == "failed"
    assert listing["crawl:slow"]["last"]["last_status"] == "timeout"

    # SIGTERM with a crawl running and a 1 s stop limit: the crawl is killed and recorded.
    assert d.schedule("--run-now", "slow").returncode == 0
    d.wait_log("作业 crawl:slow 已启动", count=2)
    assert d.stop() == 0
    last = d.runs("slow")[-1]
    assert len(d.runs("slow")) == 2 and last["status"] == "failed" and "调度器停止" in last["error"]


def test_runs_missed_while_down_run_once_on_restart(web, daemon, tmp_path):
    """Three hourly runs fall due while the daemon is down: on restart the source crawls once
    (coalesced, within misfire_grace), and not again after."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    sources = tmp_path / "sources"
    write_source(sources, "hourly", web.urls["classifieds"] + "/post/3.html", "5 * * * *", "/post/3.html")
    d = daemon(sources, misfire_grace=4 * 3600)
    d.start()
    assert d.stop() == 0
    # The daemon was down for three hours: its job store says the run was due then.
    store = SQLAlchemyJobStore(url=f"sqlite:///{d.data / 'scheduler.db'}")
    store.start(BlockingScheduler(timezone="Asia/Shanghai"), "default")
    job = store.lookup_job("crawl:hourly")
    job._modify(next_run_time=datetime.now(BEIJING) - timedelta(hours=3))
    store.update_job(job)
    store.shutdown()

    d.start()
    d.wait_log("抓取 hourly 完成")
    time.sleep(2 * 2.0 + 0.5)  # two polls more: a second run would have started
    assert len(d.runs("hourly")) == 1
    assert d.log.count("作业 crawl:hourly 已启动") == 1
    nxt = datetime.fromisoformat(d.jobs()["jobs"][0]["next_run"]).replace(tzinfo=BEIJING)
    assert nxt > datetime.now(BEIJING) and nxt.minute == 5 and nxt - datetime.now(BEIJING) <= timedelta(hours=1)
    assert d.stop() == 0


def test_crontab_lines_read_as_crontab_and_checked_on_load(tmp_path):
    from crawlers.sources import SourceError, load_source
    from reprowatch.cron import cron_trigger

    monday_9am = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)  # a Monday
    fire = cron_trigger("0 8 * * 1").get_next_fire_time(None, monday_9am)
    assert fire == datetime(2026, 11, 30, 8, 0, tzinfo=BEIJING)  # crontab 1 = Monday (APScheduler 3: Tuesday)
    assert cron_trigger("0 8 * * 0").get_next_fire_time(None, monday_9am).weekday() == 6  # 0 = Sunday
    assert cron_trigger("0 8 * * 7").get_next_fire_time(None, monday_9am).weekday() == 6  # 7 = Sunday too
    weekdays = cron_trigger("30 7 * * 1-5")
    fires, moment = [], monday_9am
    for _ in range(6):
        moment = weekdays.get_next_fire_time(moment, moment + timedelta(seconds=1))
        fires.append(moment.weekday())
    assert fires == [1, 2, 3, 4, 0, 1]
    for bad in ("0 8 * *", "61 * * * *", "0 8 * * 8", "0 8 1 * 1"):
        with pytest.raises(ValueError):
            cron_trigger(bad)

    write_source(tmp_path, "bad", "http://127.0.0.1:9/post/1.html", "0 25 * * *", "/post/1.html")
    with pytest.raises(SourceError) as err:
        load_source(tmp_path / "bad.yaml")
    assert "bad.yaml" in str(err.value) and "'schedule'" in str(err.value)
    write_source(tmp_path, "manual", "http://127.0.0.1:9/post/1.html", "", "/post/1.html")
    assert load_source(tmp_path / "manual.yaml").schedule is None  # blank: crawled by hand only
