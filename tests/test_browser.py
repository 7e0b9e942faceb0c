"""Rendering `render: browser` sources for real: Debian's Chromium, the demo JS-only app.

The 宝妈圈 app (demo/sites/jsapp.py) serves an empty shell; cards come from /api/list?page=N
behind a 加载更多 button and details render client-side at /#/item/<id>. One crawl of its
source, with the real CLI into a temporary SQLite store, runs once for the module (about
10 s); the tests then check what the server saw and what the store holds.
"""

import json
import math
import re
import sqlite3

import pytest
import scrapy

from conftest import TRUTH, local_server, rewrite_ports, run_crawl, write_sources
from crawlers.canonical import canonical_route_url, canonical_url
from crawlers.fingerprint import RouteFingerprinter
from demo.content_files import load

JSAPP = [e for e in TRUTH["items"] if e["reached_by"] == "browser"]
CONTENT = load("jsapp")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def sources_dir(web, tmp_path_factory):
    return write_sources(web, tmp_path_factory.mktemp("sources"), ["demo-jsapp"])


def crawl(cli_bin, sources_dir, data, env=None):
    return run_crawl(cli_bin, sources_dir, data, "demo-jsapp", env=env, timeout=120)


@pytest.fixture(scope="module")
def crawled(web, sources_dir, cli_bin, tmp_path_factory):
    data = tmp_path_factory.mktemp("browser-data")
    before = len(web.requests)
    proc = crawl(cli_bin, sources_dir, data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    db = sqlite3.connect(data / "rw.db")
    db.row_factory = sqlite3.Row
    items = {r["url"]: dict(r) for r in db.execute("select * from items")}
    return {"summary": json.loads(proc.stdout)[0], "items": items,
            "requests": [r for r in web.requests.snapshot()[before:] if r.site == "jsapp"]}


def truth_url(entry, web) -> str:
    return canonical_url(rewrite_ports(entry["url"], web.urls), keep_fragment=True)


def test_every_item_of_the_js_only_app_is_stored(crawled, web):
    items = crawled["items"]
    assert len(JSAPP) == len(CONTENT["items"]) == 24
    missing = [e["url"] for e in JSAPP if truth_url(e, web) not in items]
    assert not missing
    assert len(items) == 24 and all(i["source"] == "demo-jsapp" for i in items.values())
    summary = crawled["summary"]
    assert summary["items"] == 24 and summary["pages"] == 25 and summary["errors"] == {}


def test_item_text_is_the_rendered_dom(crawled, web):
    by_id = {i["id"]: i for i in CONTENT["items"]}
    for entry in JSAPP:
        item = crawled["items"][truth_url(entry, web)]
        source = by_id[int(entry["path"].rsplit("/", 1)[1])]
        assert CJK.search(item["text"]), item["url"]
        assert item["title"] == source["title"]
        assert source["body"] in item["text"]
        if source["contact"]:
            assert source["contact"] in item["text"]
        assert item["published"].startswith(source["time"].replace(" ", "T"))


def test_ads_are_flagged_as_the_truth_says(crawled, web):
    wrong = [(e["url"], e["ad"]) for e in JSAPP if bool(crawled["items"][truth_url(e, web)]["flagged"]) != e["ad"]]
    assert not wrong
    for entry in JSAPP:
        item = crawled["items"][truth_url(entry, web)]
        assert set(entry["labels"]) <= set(json.loads(item["labels"])), entry["url"]


def test_load_more_was_clicked_until_the_last_page(crawled):
    pages = math.ceil(len(CONTENT["items"]) / CONTENT["per_page"])
    paths = [r.path for r in crawled["requests"]]
    for n in range(1, pages + 1):
        assert f"/api/list?page={n}" in paths, n
    assert f"/api/list?page={pages + 1}" not in paths
    # The list is rendered once: detail routes do not load the list again.
    assert paths.count("/api/list?page=1") == 1


def test_detail_routes_are_rendered_pages_with_their_hash_url(crawled, web):
    details = [u for u in crawled["items"] if re.search(r"/#/item/\d+$", u)]
    assert len(details) == 24
    assert all(u.startswith(web.urls["jsapp"] + "/#/item/") for u in details)
    paths = [r.path for r in crawled["requests"]]
    assert all(paths.count(f"/api/item/{i['id']}") == 1 for i in CONTENT["items"])
    ids = [i["id"] for i in crawled["items"].values()]
    assert len(set(ids)) == 24


def test_robots_txt_is_fetched_and_private_pages_are_not(crawled):
    paths = [r.path for r in crawled["requests"]]
    assert paths.count("/robots.txt") == 1
    assert not [p for p in paths if p.startswith("/private/")]


def run_record(data) -> dict:
    db = sqlite3.connect(data / "rw.db")
    try:
        return json.loads(db.execute("SELECT doc FROM runs ORDER BY rowid DESC LIMIT 1").fetchone()[0])
    finally:
        db.close()


def test_contexts_are_recycled_without_losing_a_page(crawled, sources_dir, cli_bin, tmp_path):
    proc = crawl(cli_bin, sources_dir, tmp_path, env={"REPROWATCH_BROWSER_CONTEXT_PAGES": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    db = sqlite3.connect(tmp_path / "rw.db")
    assert {r[0] for r in db.execute("SELECT url FROM items")} == set(crawled["items"])
    db.close()
    browser = run_record(tmp_path)["browser"]
    assert browser["pages"] >= len(JSAPP)
    # A context every 3 pages, each closed once its last page was done.
    assert browser["contexts_recycled"] >= browser["pages"] // 3 >= 2


def test_missing_chromium_is_a_clear_error(web, sources_dir, cli_bin, tmp_path):
    before = len(web.requests)
    proc = crawl(cli_bin, sources_dir, tmp_path, env={"REPROWATCH_CHROMIUM": str(tmp_path / "no-chromium")})
    assert proc.returncode == 2
    assert "Chromium" in proc.stderr and "Traceback" not in proc.stderr
    assert len(web.requests) == before


def test_routes_are_pages_and_anchors_are_not():
    base = "http://127.0.0.1:8106/"
    assert canonical_route_url(base + "#/item/12") == base + "#/item/12"
    assert canonical_route_url(base + "?b=2&a=1#!/item/3") == base + "?a=1&b=2#!/item/3"
    assert canonical_route_url(base + "post/1.html#comments") == base + "post/1.html"
    fp = RouteFingerprinter().fingerprint
    assert fp(scrapy.Request(base + "#/item/1")) != fp(scrapy.Request(base + "#/item/2"))
    assert fp(scrapy.Request(base + "#/item/1")) != fp(scrapy.Request(base))
    assert fp(scrapy.Request(base + "#top")) == fp(scrapy.Request(base))


FEED = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<div id="feed"></div><button class="more" type="button">加载更多</button>
<script>
  var feed = document.getElementById('feed'), batches = 0;
  function add(n) { for (var i = 0; i < n; i++) { var d = document.createElement('div');
    d.className = 'post'; d.style.height = '300px'; d.textContent = '帖子 ' + feed.children.length;
    feed.appendChild(d); } }
  add(5);
  window.addEventListener('scroll', function () {
    if (batches < 4 && innerHeight + scrollY >= document.body.scrollHeight - 10) {
      batches++; setTimeout(function () { add(5); }, 50); } });
  var clicks = 0, more = document.querySelector('.more');
  more.addEventListener('click', function () { clicks++; setTimeout(function () {
    add(1); if (clicks === 3) { more.remove(); } }, 50); });
</script></body></html>"""


def _render(options: dict, html: str = FEED) -> tuple[dict, int]:
    """Render ``html`` in Chromium with our render step; what it did and the posts shown."""
    import asyncio

    from playwright.async_api import async_playwright

    from crawlers.browser import render
    from crawlers.settings import PLAYWRIGHT_LAUNCH_OPTIONS

    async def go():
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**PLAYWRIGHT_LAUNCH_OPTIONS)
            try:
                page = await browser.new_page()
                await page.set_content(html)
                done = await render(page, {"wait_for": None, "scroll": 0, "click": None, "timeout": 5.0,
                                           **options})
                return done, await page.locator(".post").count()
            finally:
                await browser.close()

    return asyncio.run(go())


def test_render_scrolls_until_nothing_new_and_clicks_by_css():
    done, posts = _render({"wait_for": ".post", "scroll": "auto", "click": "button.more"})
    assert done == {"wait_for": "ok", "scrolls": 5, "clicks": 3}  # 4 loading scrolls + 1 that brought nothing
    assert posts == 5 + 4 * 5 + 3


def test_render_scroll_count_and_wait_for_timeout():
    done, posts = _render({"wait_for": ".never", "scroll": 2, "timeout": 0.5})
    assert done["wait_for"] == "timeout" and done["scrolls"] == 2 and posts == 15


# -- tabs reused across documents ------------------------------------------------------------
# A JavaScript-built site of many documents (/t/0 … /t/29, page n links to 2n+1 and 2n+2):
# the demo app is one document with hash routes, where tabs are never reused. /t/7 also
# shows an image that never arrives: with wait_for, the page is read once its content is
# there, without waiting for the "load" event; /t/3 opens a window on load.

TAB_PAGES = 30
TAB_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head>
<body><div id="app"></div>{img}<script>
var d = {data}, app = document.getElementById('app');
var h = document.createElement('h1'); h.textContent = d.title; app.appendChild(h);
var p = document.createElement('p'); p.className = 'text'; p.textContent = d.text; app.appendChild(p);
d.links.forEach(function (k) {{ var a = document.createElement('a'); a.href = '/t/' + k;
  a.textContent = '第' + k + '页'; app.appendChild(a); }});
</script></body></html>"""


POPUP = """<!DOCTYPE html><html><body>广告<script>
setInterval(function () { fetch('/beacon'); }, 50);</script></body></html>"""


@pytest.fixture(scope="module")
def tab_site():
    import time

    beacons: list[float] = []

    def answer(handler):
        path = handler.path
        if path == "/never.png":
            time.sleep(60)  # longer than the source's browser timeout
            return None
        if path == "/beacon":
            beacons.append(time.monotonic())
            return 200, "text/plain", b"ok"
        if path == "/popup":
            return 200, "text/html; charset=utf-8", POPUP.encode()
        n = int(path[3:]) if path.startswith("/t/") and path[3:].isdigit() else -1
        if not 0 <= n < TAB_PAGES:
            return 404, "text/plain", b"not found"
        data = {"title": f"第{n}页", "text": f"第{n}页的正文，编号{n}号。",
                "links": [k for k in (2 * n + 1, 2 * n + 2) if k < TAB_PAGES]}
        extra = ('<img src="/never.png">' if n == 7 else
                 "<script>window.open('/popup')</script>" if n == 3 else "")
        return 200, "text/html; charset=utf-8", TAB_PAGE.format(
            data=json.dumps(data, ensure_ascii=False), img=extra).encode()

    server = local_server(answer)
    server.beacons = beacons
    yield server
    server.shutdown()


def test_reused_tabs_render_each_page_of_its_own(tab_site, cli_bin, tmp_path):
    base = tab_site.url
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "tabs.yaml").write_text(f"""\
name: tabs
type: html
render: browser
start_urls: ['{base}/t/0']
allowed_domains: [127.0.0.1]
follow: ['/t/\\d+$']
items: ['/t/\\d+$']
selectors: {{title: h1, text: '#app .text'}}
browser: {{wait_for: '#app h1', timeout: 10}}
max_pages: 100
obey_robots: false
""", encoding="utf-8")
    data = tmp_path / "data"
    proc = run_crawl(cli_bin, sources, data, "tabs", timeout=120,
                     env={"REPROWATCH_BROWSER_TAB_USES": "4", "REPROWATCH_BROWSER_CONTEXT_PAGES": "10"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    db = sqlite3.connect(data / "rw.db")
    items = {url: (title, text) for url, title, text in db.execute("SELECT url, title, text FROM items")}
    db.close()
    assert len(items) == TAB_PAGES
    for n in range(TAB_PAGES):
        title, text = items[f"{base}/t/{n}"]
        assert title == f"第{n}页" and f"编号{n}号" in text, (n, title, text)
    browser = run_record(data)["browser"]
    assert browser["pages"] == TAB_PAGES and browser["wait_for_timeout"] == 0
    # Tabs reused (up to 3 times each), and every context of 10 renders closed when done.
    assert browser["tabs_reused"] >= 5
    assert browser["contexts_recycled"] >= 2
    # /t/3 opened a window that calls home every 50 ms for as long as it is open: it was
    # closed at once, not with its context (left open, it called 29 times; closing it takes
    # two round trips to Chromium, which a loaded machine can stretch to a few calls).
    assert browser["popups_closed"] == 1
    assert len(tab_site.beacons) <= 10, len(tab_site.beacons)
