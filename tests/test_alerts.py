"""Alerts and crawler health: each rule triggered by a real situation (crawls of the demo web
with the real CLI, run records in a real store), alerts received by a local HTTP webhook,
a webhook that refuses and the outbox that delivers later."""

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from conftest import local_server, run_crawl

NOW = datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class Webhook:
    """A DingTalk-style robot on 127.0.0.1: keeps every JSON body; ``refuse`` makes it answer
    errcode 310000 the way a robot refuses a message."""

    def __init__(self):
        self.posts: list[dict] = []
        self.refuse = False
        self.server = local_server(self._answer)
        self.url = f"{self.server.url}/robot/send?access_token=t"

    def _answer(self, handler):
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        answer = {"errcode": 310000, "errmsg": "keywords not in content"} if self.refuse else {"errcode": 0}
        if not self.refuse:
            self.posts.append(body)
        return 200, "application/json", json.dumps(answer).encode()

    def texts(self) -> list[str]:
        return [p["text"]["content"] for p in self.posts]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


def write_config(path, webhook, extra=""):
    path.write_text(f"office: 某某省通信管理局\nalerts: {{webhook: '{webhook.url}'{extra}}}\n", encoding="utf-8")
    return path


def test_send_alert_posts_to_webhook_and_is_recorded(tmp_path, webhook, monkeypatch):
    monkeypatch.setenv("REPROWATCH_DATA", str(tmp_path))
    from evidence.config import load_config
    from reports.alerts import read_alerts, send_alert

    config = load_config(str(write_config(tmp_path / "c.yaml", webhook)), tmp_path)
    send_alert("crawl_failed", "抓取进程异常退出（exit 1）", source="demo-forum", items=["a1", "b2"], config=config)
    body, = webhook.posts
    assert body["msgtype"] == "text"
    text = body["text"]["content"]
    assert "抓取失败" in text and "demo-forum" in text and "抓取进程异常退出（exit 1）" in text and "a1, b2" in text
    record, = read_alerts(data=tmp_path)
    assert (record["kind"], record["source"], record["items"], record["channels"]) == \
        ("crawl_failed", "demo-forum", ["a1", "b2"], ["webhook"])


def test_refused_webhook_goes_to_outbox_and_is_sent_with_the_next_alert(tmp_path, webhook, monkeypatch):
    monkeypatch.setenv("REPROWATCH_DATA", str(tmp_path))
    from reports.alerts import read_alerts, send_alert

    config = str(write_config(tmp_path / "c.yaml", webhook))
    webhook.refuse = True
    send_alert("still_online", "处置期限已过，页面仍可访问", source="demo-forum", config=config)  # must not raise
    assert webhook.posts == [] and len(list((tmp_path / "outbox").glob("*.json"))) == 1
    webhook.refuse = False
    send_alert("zero_items", "本次抓取没有得到任何条目", source="demo-news", config=config)
    assert ["处置后仍在线" in t for t in webhook.texts()] == [True, False]  # the old one first
    assert "零条目" in webhook.texts()[1]
    assert list((tmp_path / "outbox").glob("*.json")) == []
    assert [a["kind"] for a in read_alerts(data=tmp_path)] == ["still_online", "zero_items"]
    # An unreachable webhook (nothing listens) is logged and kept, never raised either.
    webhook.stop()
    send_alert("crawl_timeout", "超时", config=config)
    assert len(list((tmp_path / "outbox").glob("*.json"))) == 1


SOURCE = """name: {name}
type: html
start_urls: {starts}
allowed_domains: [127.0.0.1]
follow: {follow}
items: {items}
schedule: '{schedule}'
max_pages: 50
"""


def source_file(folder, name, starts, follow="[]", items="['/(news|policy)/\\d+\\.html']", schedule="0 7 * * *"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(SOURCE.format(name=name, starts=json.dumps(starts), follow=follow,
                                                      items=items, schedule=schedule), encoding="utf-8")


def test_health_rules_after_real_crawls(web, tmp_path, cli_bin, webhook):
    news = web.urls["news"].rstrip("/")
    sources = tmp_path / "sources"
    # zero items: a page with no item links for this source
    source_file(sources, "empty", [f"{news}/"], items="['/nothing-\\d+\\.html']")
    # error rate: every start URL answers 404
    source_file(sources, "broken", [f"{news}/gone-{k}.html" for k in range(4)])
    # layout change: the real news site, against seeded runs that found far more items
    source_file(sources, "shrunk", [f"{news}/"], follow="['/news/list-\\d+\\.html']")
    # robots: the start page is disallowed by the site's robots.txt
    source_file(sources, "blocked", [f"{news}/private/index.html"])
    from search.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/rw.db")
    for days in (1, 2, 3, 4):
        store.record_run({"source": "shrunk", "started": iso(NOW - timedelta(days=days)),
                          "finished": iso(NOW - timedelta(days=days) + timedelta(seconds=30)),
                          "pages": 60, "items": 40, "new": 0, "flagged": 5, "errors": {}, "robots_blocked": 0})
    store.close()
    config = write_config(tmp_path / "c.yaml", webhook)
    env = {"REPROWATCH_EVIDENCE_CONFIG": str(config)}
    done = run_crawl(cli_bin, sources, tmp_path, "empty", "broken", "shrunk", "blocked", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    summaries = {s["source"]: s for s in json.loads(done.stdout)}
    assert summaries["shrunk"]["items"] > 0 and summaries["broken"]["errors"]

    kinds = {}
    for line in (tmp_path / "alerts.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        kinds.setdefault(record["source"], set()).add(record["kind"])
    assert kinds == {"empty": {"zero_items"}, "broken": {"zero_items", "error_rate"},
                     "shrunk": {"layout_change"}, "blocked": {"zero_items", "robots_blocked"}}
    assert len(webhook.posts) == 6  # each alert also went out at once
    assert any("错误率 100%" in t and "broken" in t for t in webhook.texts())
    assert any("中位数 40" in t and "shrunk" in t for t in webhook.texts())

    # The daily report lists the same problems and alerts.
    today = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    environ = dict(os.environ, REPROWATCH_DATA=str(tmp_path))
    report = subprocess.run([cli_bin, "--store", f"sqlite:///{tmp_path}/rw.db", "report", "daily", "--date", today,
                             "--out", str(tmp_path / "out"), "--sources", str(sources), "--config", str(config),
                             "--json", "--quiet"], capture_output=True, text=True, env=environ, timeout=120)
    assert report.returncode == 0, report.stderr
    result = json.loads(report.stdout)
    assert result["alerts"] == 6 and result["unhealthy_sources"] == 4
    health = {r[0]: r for r in load_workbook(result["xlsx"])["采集健康"].iter_rows(min_row=2, max_row=5,
                                                                                   values_only=True)}
    assert health["shrunk"][7] == "异常" and "疑似页面改版" in health["shrunk"][8]
    assert health["shrunk"][5] == 40  # the 7-day median, current run included


def test_not_run_when_due_and_failed_runs(tmp_path, cli_bin, webhook):
    sources = tmp_path / "sources"
    start = ["http://127.0.0.1:9/"]
    source_file(sources, "fresh", start, schedule="0 * * * *")       # hourly, ran a minute ago
    source_file(sources, "stale", start, schedule="0 3 * * *")       # daily, last ran 3 days ago
    source_file(sources, "never", start, schedule="30 2 * * 1-5")    # weekdays, never ran
    source_file(sources, "manual", start, schedule="")               # no schedule: never overdue
    source_file(sources, "monthly", start, schedule="0 0 1 * *")     # ran when last due, maybe weeks ago
    from reports.health import last_due
    from search.store import open_store

    store = open_store(f"sqlite:///{tmp_path}/rw.db")
    store.record_run({"source": "fresh", "started": iso(NOW - timedelta(minutes=1)), "finished": iso(NOW),
                      "pages": 3, "items": 3, "errors": {}})
    store.record_run({"source": "stale", "started": iso(NOW - timedelta(days=3)), "finished": iso(NOW - timedelta(days=3)),
                      "pages": 3, "items": 3, "errors": {}})
    monthly_due = last_due("0 0 1 * *", NOW - timedelta(minutes=5))
    store.record_run({"source": "monthly", "started": iso(monthly_due + timedelta(minutes=1)),
                      "finished": iso(monthly_due + timedelta(minutes=2)), "pages": 3, "items": 3, "errors": {}})
    # A crawl subprocess the scheduler recorded as crashed.
    store.record_run({"source": "fresh", "started": iso(NOW - timedelta(minutes=30)), "finished": iso(NOW),
                      "status": "failed", "error": "exit code -9 (killed)", "pages": 0, "items": 0, "errors": {}})
    store.close()
    config = write_config(tmp_path / "c.yaml", webhook, ", due_grace_minutes: 5")
    environ = dict(os.environ, REPROWATCH_DATA=str(tmp_path))
    command = [cli_bin, "--store", f"sqlite:///{tmp_path}/rw.db", "report", "health", "--sources", str(sources),
               "--config", str(config), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=60)
    assert done.returncode == 1, done.stderr
    overdue = {f["source"]: f["message"] for f in json.loads(done.stdout)}
    assert set(overdue) == {"stale", "never"}
    assert "从未运行" in overdue["never"] and "cron '0 3 * * *'" in overdue["stale"]
    assert len(webhook.posts) == 2 and all("未按时运行" in t for t in webhook.texts())
    # The same missed run is not alerted twice.
    again = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=60)
    assert again.returncode == 1 and len(webhook.posts) == 2

    # The report of the day the failed run started (near midnight, Beijing time, not NOW's day).
    today = (NOW - timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    report = subprocess.run([cli_bin, "--store", f"sqlite:///{tmp_path}/rw.db", "report", "daily", "--date", today,
                             "--out", str(tmp_path / "out"), "--sources", str(sources), "--config", str(config),
                             "--json", "--quiet"], capture_output=True, text=True, env=environ, timeout=120)
    assert report.returncode == 0, report.stderr
    health = {r[0]: r for r in load_workbook(json.loads(report.stdout)["xlsx"])["采集健康"].iter_rows(
        min_row=2, max_row=6, values_only=True)}
    assert health["fresh"][7] == "异常" and "抓取失败：抓取进程异常结束：exit code -9 (killed)" in health["fresh"][8]
    assert health["stale"][7] == "异常" and "未按时运行" in health["stale"][8]
    assert health["manual"][7] == "正常" and health["monthly"][7] == "正常"


def test_cron_days_of_week_follow_crontab():
    """crontab's 1 is Monday (APScheduler 3 alone would read it as Tuesday)."""
    from reports.health import last_due

    shanghai = ZoneInfo("Asia/Shanghai")
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=shanghai)
    assert last_due("0 8 * * 1", wednesday) == datetime(2026, 11, 23, 8, 0, tzinfo=shanghai)
    assert last_due("0 8 * * 0", wednesday) == datetime(2026, 11, 22, 8, 0, tzinfo=shanghai)
    assert last_due("0 8 * * 7", wednesday) == datetime(2026, 11, 22, 8, 0, tzinfo=shanghai)
    assert last_due("0 8 * * 1-5", wednesday) == datetime(2026, 11, 25, 8, 0, tzinfo=shanghai)
    assert last_due("0 0 1 * *", wednesday) == datetime(2026, 11, 1, 0, 0, tzinfo=shanghai)
    with pytest.raises(ValueError):
        last_due("0 8 * *", wednesday)
