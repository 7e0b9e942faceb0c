"""Daily report and monthly 汇总表 on a real crawl of the demo web: the numbers equal independent
queries of the store (SQL on the SQLite file, the store's own facets), the XLSX files read back
with openpyxl, the HTML escapes hostile content and renders in Chromium, and mail reaches a
real aiosmtpd server (and waits in the outbox while the server is down)."""

import json
import os
import socket
import sqlite3
import subprocess
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from conftest import run_crawl, write_sources
from test_store_contract import elasticsearch  # noqa: F401 — the same Elasticsearch (or osmem-server) fixture

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAYLOAD_TITLE = '<img src=x onerror="window.__pwned=1">代孕包成功 "=HYPERLINK(1)'
PAYLOAD_TEXT = '</td><script>window.__pwned=2</script>专业代孕，包成功，加微信 seed_dy2026，电话 13912345678'
NOW = datetime.now(timezone.utc)
TODAY = NOW.astimezone(SHANGHAI).date()


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def day_window(day: date) -> tuple[str, str]:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return iso(start), iso(start + timedelta(days=1))


def seed_item(n: int, *, labels, first_seen: datetime, status="new", history=(), site="seed.example", **extra):
    return {"id": f"seed{n:04d}", "url": f"http://{site}/ad/{n}.html", "source": "seed", "site": site,
            "title": f"种子广告 {n}", "text": f"专业代孕 包成功 {n}", "labels": list(labels), "score": 0.9,
            "flagged": True, "status": status, "fetched_at": iso(first_seen), "first_seen": iso(first_seen),
            "last_seen": iso(first_seen), "history": list(history), **extra}


@pytest.fixture(scope="module")
def world(web, tmp_path_factory, cli_bin):
    """The demo web crawled with the real CLI into a fresh store, plus seeded history: items first
    seen on earlier days (trends) and items along the takedown workflow."""
    data = tmp_path_factory.mktemp("reports-data")
    sources = write_sources(web, data / "sources")
    done = run_crawl(cli_bin, sources, data, "--all")
    assert done.returncode == 0, done.stderr[-2000:]
    from search.store import open_store

    store = open_store(f"sqlite:///{data}/rw.db")
    ago = lambda days: NOW - timedelta(days=days)  # noqa: E731
    h = lambda status, moment: {"at": iso(moment), "status": status, "note": "", "user": "测试"}  # noqa: E731
    seeded = [
        seed_item(1, labels=["surrogacy"], first_seen=ago(2)),
        seed_item(2, labels=["surrogacy", "gamete_trade"], first_seen=ago(2), site="other.example"),
        seed_item(3, labels=["gamete_trade"], first_seen=ago(12)),
        # takedown follow-up: two overdue, one pending (notice sent today), one removed today, one still online
        seed_item(10, labels=["sex_selection"], first_seen=ago(9), status="notice_sent",
                  history=[h("confirmed", ago(6)), h("notice_sent", ago(5))], deadline=iso(ago(2))),
        seed_item(11, labels=["birth_certificate"], first_seen=ago(9), status="notice_sent",
                  history=[h("confirmed", ago(6)), h("notice_sent", ago(6))]),  # no deadline: notice + 3 days
        seed_item(12, labels=["surrogacy"], first_seen=ago(9), status="notice_sent",
                  history=[h("confirmed", NOW - timedelta(minutes=2)), h("notice_sent", NOW - timedelta(minutes=1))],
                  deadline=iso(NOW + timedelta(days=3))),
        seed_item(13, labels=["unlicensed_art"], first_seen=ago(9), status="removed",
                  history=[h("confirmed", ago(5)), h("notice_sent", ago(5)), h("removed", NOW - timedelta(minutes=1))]),
        {**seed_item(14, labels=["fertility_drugs"], first_seen=ago(9), status="still_online",
                     history=[h("confirmed", ago(5)), h("notice_sent", ago(5)),
                              h("still_online", NOW - timedelta(minutes=1))]),
         "url": "javascript:window.__pwned=4", "title": PAYLOAD_TITLE, "text": PAYLOAD_TEXT},  # listed in the HTML
        # hostile content, flagged today
        {**seed_item(20, labels=["surrogacy"], first_seen=NOW - timedelta(minutes=1), site="evil.example"),
         "url": "javascript:window.__pwned=3", "title": PAYLOAD_TITLE, "text": PAYLOAD_TEXT,
         "contacts": {"phones": ["13912345678"], "wechat": ["seed_dy2026"]}},
    ]
    for item in seeded:
        store.upsert(item)
    # Confirm a few crawled items now, so the month has confirmed/notice counts from the workflow.
    from search.store import Query

    crawled = store.search(Query(source="demo-classifieds", limit=3)).items
    for item in crawled:
        store.review(item["id"], "confirmed", user="测试")
    store.review(crawled[0]["id"], "notice_sent", user="测试")
    store.close()
    config = data / "office.yaml"
    config.write_text("office: 某某省通信管理局\n"
                      "summary_table: {region: 江城区, province: 某某省, filler: 张三, phone: 010-12345678}\n",
                      encoding="utf-8")
    return {"data": data, "sources": sources, "db": data / "rw.db", "config": config,
            "env": dict(os.environ, REPROWATCH_DATA=str(data)), "store": f"sqlite:///{data}/rw.db"}


def cli(world, cli_bin, *args, env=None):
    return subprocess.run([cli_bin, "--store", world["store"], *args], capture_output=True, text=True,
                          env=env or world["env"], timeout=120)


def sql(world, query, *args):
    with sqlite3.connect(world["db"]) as conn:
        return conn.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def daily(world, cli_bin):
    out = world["data"] / "out"
    done = cli(world, cli_bin, "report", "daily", "--date", TODAY.isoformat(), "--out", str(out),
               "--sources", str(world["sources"]), "--config", str(world["config"]), "--json")
    assert done.returncode == 0, done.stderr
    assert "读取违法信息" in done.stderr  # progress lines
    return json.loads(done.stdout)


def test_daily_numbers_equal_the_store(world, daily):
    start, end = day_window(TODAY)
    window = "flagged = 1 AND julianday(first_seen) >= julianday(?) AND julianday(first_seen) < julianday(?)"
    assert daily["new_flagged"] == sql(world, f"SELECT count(*) FROM items WHERE {window}", start, end)[0][0]
    assert daily["new_flagged"] > 60  # the demo web's ads plus the seeded one
    by_category = dict(sql(world, f"SELECT category, count(*) FROM items JOIN item_labels ON item = items.rowid "
                                  f"WHERE {window} GROUP BY category", start, end))
    assert daily["by_category"] == by_category
    assert daily["by_site"] == dict(sql(world, f"SELECT site, count(*) FROM items WHERE {window} GROUP BY site",
                                        start, end))
    # The store's own facets over what was fetched today (seeded past items are not) agree.
    from search.store import Query, open_store

    store = open_store(world["store"])
    facets = store.search(Query(since=start, limit=0)).facets  # everything fetched today was first seen today
    assert daily["by_category"] == facets["category"]
    runs = [json.loads(doc) for (doc,) in sql(world, "SELECT doc FROM runs WHERE julianday(started) >= julianday(?) "
                                                     "AND julianday(started) < julianday(?)", start, end)]
    assert daily["runs"] == len(runs) == 8
    assert daily["pages"] == sum(r["pages"] for r in runs)
    assert daily["items"] == sum(r["items"] for r in runs)
    assert daily["errors"] == sum(sum(r["errors"].values()) for r in runs)
    # Takedown follow-up against the seeded workflow.
    # overdue: seed 10 (deadline passed), seed 11 (notice 6 days ago + 3 days); pending: seed 12 and
    # the crawled item whose notice went out today (no deadline: notice + 3 days).
    assert (daily["overdue"], daily["pending"], daily["removed_today"], daily["still_online"]) == (2, 2, 1, 1)
    assert daily["notices_sent"] == 2  # seed 12 and the crawled item reviewed today
    assert daily["removed_total"] == sql(world, "SELECT count(*) FROM items WHERE status = 'removed'")[0][0]
    # Repeat contacts: values on flagged items of two or more sites, by SQL over the contact index.
    repeated = {v for (v,) in sql(world, "SELECT value FROM item_contacts JOIN items ON items.rowid = item "
                                         "WHERE flagged = 1 GROUP BY value HAVING count(DISTINCT site) >= 2")}
    assert daily["repeat_contacts"] == len(repeated) > 5
    store.close()


def test_daily_xlsx_reads_back(world, daily):
    wb = load_workbook(daily["xlsx"])
    assert wb.sheetnames == ["概况", "采集运行", "新增违法信息", "类别×站点", "采集健康", "处置跟踪"]
    summary = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=5, max_row=19, max_col=2, values_only=True)}
    assert summary["新增违法信息（条）"] == daily["new_flagged"]
    assert summary["逾期未处置"] == 2 and summary["抓取运行（次）"] == 8
    items = wb["新增违法信息"]
    assert items.max_row - 1 == daily["new_flagged"]
    by_id = {items.cell(r, 2).value: r for r in range(2, items.max_row + 1)}
    # Links on the titles point at the item URL; the hostile item's javascript: URL gets no link
    # and its title stays text, not a formula.
    row = next(r for i, r in by_id.items() if i != "seed0020")
    assert items.cell(row, 5).hyperlink.target == items.cell(row, 6).value.strip()
    hostile = by_id["seed0020"]
    assert items.cell(hostile, 5).hyperlink is None
    assert items.cell(hostile, 5).value == PAYLOAD_TITLE and items.cell(hostile, 5).data_type == "s"
    cross = wb["类别×站点"]
    last = cross.max_row
    assert cross.cell(last, 1).value == "合计（条）"
    assert cross.cell(last, cross.max_column).value == daily["new_flagged"]
    # 7-day trend: today's column equals today's figures; two days ago holds the seeded items.
    trend = {r[0]: r for r in wb["概况"].iter_rows(min_row=28, values_only=True) if r[0]}
    assert trend[TODAY.isoformat()][-1] == daily["new_flagged"]
    two_ago = (NOW - timedelta(days=2)).astimezone(SHANGHAI).date()
    start, end = day_window(two_ago)
    expected = sql(world, "SELECT count(*) FROM items WHERE flagged = 1 AND julianday(first_seen) >= julianday(?) "
                          "AND julianday(first_seen) < julianday(?)", start, end)[0][0]
    assert trend[two_ago.isoformat()][-1] == expected == 2
    health = [r for r in wb["采集健康"].iter_rows(min_row=2, values_only=True) if r[0] and r[0].startswith("demo-")]
    assert len(health) == 8


def test_daily_html_escapes_and_renders(world, daily, tmp_path):
    html = Path(daily["html"]).read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert '<img src=x' not in html and "onerror=\"window" not in html
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;代孕包成功" in html
    assert 'href="javascript:' not in html
    assert "http://" not in html.split("<body>")[0]  # no external stylesheet or font
    assert "<svg" in html and "近 30 日新增违法信息" in html
    from playwright.sync_api import sync_playwright

    from crawlers.settings import PLAYWRIGHT_LAUNCH_OPTIONS

    requests, dialogs = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(**PLAYWRIGHT_LAUNCH_OPTIONS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(Path(daily["html"]).as_uri())
        assert page.evaluate("window.__pwned") is None
        assert page.locator("h2").count() == 6
        assert page.locator("svg").count() == 4
        shot = tmp_path / "daily.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert dialogs == []
    assert [u for u in requests if not u.startswith("file:")] == []
    assert shot.stat().st_size > 50_000


def test_daily_bad_input_exits_2(world, cli_bin, tmp_path):
    done = cli(world, cli_bin, "report", "daily", "--date", "2026-02-30", "--out", str(tmp_path))
    assert done.returncode == 2 and "--date" in done.stderr and "Traceback" not in done.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = cli(world, cli_bin, "report", "daily", "--out", str(blocker / "sub"))
    assert done.returncode == 2 and "--out" in done.stderr and "Traceback" not in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("mail: {host: h, from: a@b, to: [], port: 99999}\n", encoding="utf-8")
    done = cli(world, cli_bin, "report", "daily", "--out", str(tmp_path), "--config", str(bad))
    assert done.returncode == 2 and str(bad) in done.stderr and "mail." in done.stderr
    assert "Traceback" not in done.stderr
    done = cli(world, cli_bin, "report", "monthly", "--month", "2026-13", "--out", str(tmp_path / "m.xlsx"))
    assert done.returncode == 2 and "--month" in done.stderr and "Traceback" not in done.stderr


def test_monthly_summary_table(world, cli_bin, tmp_path):
    month = TODAY.strftime("%Y-%m")
    out = tmp_path / "汇总表.xlsx"
    done = cli(world, cli_bin, "report", "monthly", "--month", month, "--out", str(out),
               "--config", str(world["config"]), "--json")
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout)
    ws = load_workbook(out)["汇总表"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A3:A4", "B3:B4", "C3:E3", "F3:F4", "G3:G4", "K3:K4", "L3:L4"} <= merged
    assert (ws["A3"].value, ws["B3"].value, ws["C3"].value) == ("项目", "技术准入机构", "非技术准入机构")
    assert (ws["C4"].value, ws["D4"].value, ws["E4"].value) == ("医疗机构", "其他机构", "合计")
    assert ws["F3"].value == "未配备身份识别设备"
    assert ws["G3"].value == "未经批准开展人类辅助生殖技术" and ws["H3"].value == "非法采供卵、采供精"
    assert ws["I3"].value == "非法开具出生医学证明" and ws["J3"].value == "非法进行性别鉴定"
    assert ws["K3"].value == '涉嫌开展"代孕"' and ws["L3"].value.startswith("查处违法违规发布相关宣传信息、广告")
    labels = [ws.cell(r, 1).value for r in range(5, 16)]
    assert labels == ["检查对象数", "案件数", "责令改正数", "警告数", "罚款户（人）次", "罚款金额（万元）",
                      "没收违法所得（万元）", "责令停业整顿户数", "吊销行政许可资质", "移送相关部门", "移送司法机关"]
    assert "江城区" in ws["A2"].value and "某某省" in ws["A2"].value and ws["A2"].value.startswith("区（县）/ 省")
    assert ws["H2"].value.startswith("填表日期：")
    # Numbers: found this month by category column, independently by SQL.
    first = datetime(TODAY.year, TODAY.month, 1, tzinfo=SHANGHAI)
    nxt = datetime(TODAY.year + (TODAY.month == 12), TODAY.month % 12 + 1, 1, tzinfo=SHANGHAI)
    window = "flagged = 1 AND julianday(first_seen) >= julianday(?) AND julianday(first_seen) < julianday(?)"

    def found(category=None):
        if category is None:
            return sql(world, f"SELECT count(*) FROM items WHERE {window}", iso(first), iso(nxt))[0][0]
        return sql(world, f"SELECT count(*) FROM items JOIN item_labels ON item = items.rowid WHERE {window} "
                          "AND category = ?", iso(first), iso(nxt), category)[0][0]

    assert ws["K5"].value == found("surrogacy") == counts["found"]["surrogacy"]
    assert ws["H5"].value == found("gamete_trade") and ws["J5"].value == found("sex_selection")
    assert ws["G5"].value == found("unlicensed_art") and ws["I5"].value == found("birth_certificate")
    assert ws["L5"].value == found() == counts["found"]["total"]
    # Confirmed (案件数) and notices (责令改正数) in the month: seeded moves today/this month + 3 reviews.
    assert ws["L6"].value == counts["confirmed"]["total"] >= 4
    assert ws["L7"].value == counts["notice_sent"]["total"] >= 2
    assert ws["L5"].comment is not None and "系统自动填写" in ws["L5"].comment.text
    # Enforcement cells stay empty for the officer.
    assert all(ws.cell(r, c).value is None for r in range(5, 16) for c in range(2, 7))
    assert all(ws.cell(r, c).value is None for r in range(8, 16) for c in range(7, 13))
    footer = [ws.cell(r, c).value for r in range(17, ws.max_row + 1) for c in range(1, 13) if ws.cell(r, c).value]
    assert "填表人：张三" in footer and "联系方式：010-12345678" in footer and "单位负责人（签字）：" in footer
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
    assert ws.print_title_rows == "$3:$4"
    assert ws["G5"].border.left.style == "thin" and ws["C3"].border.top.style == "thin"
    # The 明细 sheet lists the items behind each number.
    detail = load_workbook(out)["明细"]
    rows = list(detail.iter_rows(min_row=2, values_only=True))
    assert sum(1 for r in rows if r[0] == "发现违法信息" and r[2] == "代孕") == ws["K5"].value
    assert len({r[4] for r in rows if r[0] == "发现违法信息"}) == ws["L5"].value
    assert len({r[4] for r in rows if r[0] == "审核确认"}) == ws["L6"].value


# -- mail -------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


def smtp_server(port, inbox):
    from aiosmtpd.controller import Controller

    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def test_daily_mail_received_and_retried_from_outbox(world, cli_bin, tmp_path):
    port = free_port()
    config = tmp_path / "mail.yaml"
    config.write_text(f"office: 某某省通信管理局\nmail: {{host: 127.0.0.1, port: {port}, security: none, "
                      f"from: monitor@example.cn, to: [chief@example.cn, duty@example.cn], timeout: 5}}\n",
                      encoding="utf-8")
    data = tmp_path / "maildata"  # own data folder: its own outbox
    env = dict(world["env"], REPROWATCH_DATA=str(data))
    inbox = Inbox()
    server = smtp_server(port, inbox)
    try:
        done = cli(world, cli_bin, "report", "daily", "--date", TODAY.isoformat(), "--out", str(tmp_path / "r"),
                   "--mail", "--config", str(config), "--sources", str(world["sources"]), "--json", env=env)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mailed"] is True
    (rcpts, raw), = inbox.messages
    assert sorted(rcpts) == ["chief@example.cn", "duty@example.cn"]
    msg = message_from_bytes(raw, policy=policy.default)
    assert "监测日报" in msg["Subject"] and str(result["new_flagged"]) in msg["Subject"]
    assert "新增违法信息" in msg.get_body(("html",)).get_content()
    attachments = {a.get_filename(): a.get_content() for a in msg.iter_attachments()}
    name = f"日报-{TODAY.isoformat()}"
    assert set(attachments) == {f"{name}.html", f"{name}.xlsx"}
    assert attachments[f"{name}.xlsx"] == Path(result["xlsx"]).read_bytes()

    # Server down: the report is still written, the mail waits in the outbox (exit 1) ...
    done = cli(world, cli_bin, "report", "daily", "--date", TODAY.isoformat(), "--out", str(tmp_path / "r2"),
               "--mail", "--config", str(config), "--sources", str(world["sources"]), "--quiet", env=env)
    assert done.returncode == 1, done.stderr
    assert (tmp_path / "r2" / f"{name}.html").is_file() and (tmp_path / "r2" / f"{name}.xlsx").is_file()
    assert len(list((data / "outbox").glob("*.json"))) == 1
    # ... and goes out once the server is back.
    inbox2 = Inbox()
    server = smtp_server(port, inbox2)
    try:
        done = cli(world, cli_bin, "report", "outbox", "--config", str(config), "--json", env=env)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"sent": 1, "pending": 0}
    (_, raw), = inbox2.messages
    again = message_from_bytes(raw, policy=policy.default)
    assert {a.get_filename() for a in again.iter_attachments()} == {f"{name}.html", f"{name}.xlsx"}
    assert list((data / "outbox").glob("*.json")) == []


def test_same_figures_on_elasticsearch(world, elasticsearch):
    """The report reads only the Store interface: copied into Elasticsearch, the same items and
    runs give the same daily and monthly figures."""
    import uuid

    from evidence.config import load_config
    from reports.daily import build_daily, iter_items
    from reports.monthly import build_monthly
    from search.es_store import ElasticsearchStore
    from search.store import Query, open_store

    url, options = elasticsearch
    sqlite = open_store(world["store"])
    es = ElasticsearchStore(url, prefix=f"test-{uuid.uuid4().hex[:12]}", **options)
    try:
        items = list(iter_items(sqlite, Query(include_all=True)))
        assert len(items) > 300
        es.bulk_upsert(items)
        for run in sqlite.runs():
            es.record_run(run)
        es.refresh()
        config = load_config(str(world["config"]), world["data"])
        now = datetime.now(timezone.utc)
        figures = [build_daily(s, TODAY, config=config, data=world["data"], now=now).summary() for s in (sqlite, es)]
        assert figures[0] == figures[1]
        assert figures[0]["new_flagged"] > 60 and figures[0]["overdue"] == 2
        months = [build_monthly(s, TODAY.year, TODAY.month).summary() for s in (sqlite, es)]
        assert months[0] == months[1]
    finally:
        es.client.indices.delete(index=[es.items_index, es.runs_index], ignore_unavailable=True)
        es.close()
        sqlite.close()
