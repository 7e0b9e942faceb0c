"""The demo web, over real HTTP on 127.0.0.1: every site answers as documented, every trap
springs, and truth.json matches what is served.

One DemoWeb serves the whole module (started on free high ports). Tests that depend on
per-process state (the 500-once page) use pages no other test requests first.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest
import yaml

from demo.server import SITE_OFFSETS, start_demo_sites

ROOT = Path(__file__).resolve().parent.parent
# No proxy: CI machines may set http_proxy, which must not see 127.0.0.1 traffic.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
UA = "reprowatch-test/1.0"


@pytest.fixture(scope="module")
def web():
    """The demo web on the first free block of eight ports from 18101."""
    last_error = None
    for base in (18101, 18201, 18301, 18401, 18501):
        try:
            running = start_demo_sites(base_port=base)
        except OSError as exc:
            last_error = exc
            continue
        yield running
        running.stop()
        return
    raise RuntimeError(f"no free ports for the demo web: {last_error}")


def fetch(url: str, headers: dict | None = None, timeout: float = 10):
    """(status, headers, body bytes) for any status, following redirects."""
    request = urllib.request.Request(url, headers={"User-Agent": UA, **(headers or {})})
    try:
        with OPENER.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def get_text(url: str, headers: dict | None = None) -> str:
    status, _, body = fetch(url, headers)
    assert status == 200, url
    return body.decode("utf-8")


class LinkParser(HTMLParser):
    """Collects every ``<a href>``."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.extend(value for name, value in attrs if name == "href" and value)


def links(url: str) -> list[str]:
    """Absolute URLs of the links on a page."""
    parser = LinkParser()
    parser.feed(get_text(url))
    return [urljoin(url, href) for href in parser.links]


# ---- server basics -------------------------------------------------------------------------


def test_each_site_on_its_own_port(web):
    ports = {name: urlsplit(url).port for name, url in web.urls.items()}
    assert set(ports) == set(SITE_OFFSETS)
    base = ports["classifieds"]
    assert all(ports[name] == base + offset for name, offset in SITE_OFFSETS.items())


def test_robots_txt_and_private_link_on_every_site(web):
    for name, url in web.urls.items():
        status, headers, body = fetch(url + "/robots.txt")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        assert body.decode() == "User-agent: *\nDisallow: /private/\n"
        status, _, body = fetch(url + "/")
        assert status == 200
        assert re.search(rb'href=["\']?/private/', body), f"{name} home has no /private/ link"


def test_request_log_records_requests(web):
    url = web.urls["news"] + "/news/list-2.html?probe=log"
    status, _, _ = fetch(url, {"X-Probe": "yes"})
    assert status == 200
    records = [r for r in web.requests.snapshot() if r.path == "/news/list-2.html?probe=log"]
    assert len(records) == 1
    site, method, path, headers, logged_status = records[0]
    assert (site, method, logged_status) == ("news", "GET", 200)
    assert headers["User-Agent"] == UA and headers["X-Probe"] == "yes"
    fetch(web.urls["news"] + "/no-such-page")
    assert web.requests.for_site("news")[-1].status == 404


def test_concurrent_burst_is_served(web):
    """A crawler opening hundreds of connections at once is queued, not refused."""
    from concurrent.futures import ThreadPoolExecutor

    urls = [f"{web.urls[name]}/robots.txt" for name in SITE_OFFSETS] * 40
    with ThreadPoolExecutor(max_workers=160) as pool:
        statuses = list(pool.map(lambda url: fetch(url)[0], urls))
    assert statuses == [200] * len(urls)


# ---- classifieds ---------------------------------------------------------------------------


def test_classifieds_lists_paginate_to_every_listed_post(web):
    base = web.urls["classifieds"]
    data = yaml.safe_load((ROOT / "demo/content/classifieds.yaml").read_text(encoding="utf-8"))
    assert len(data["posts"]) >= 60 and sum(bool(p["labels"]) for p in data["posts"]) >= 20
    seen: set[int] = set()
    for cat in data["categories"]:
        page_url = f"{base}/list/{cat['slug']}?page=1"
        while page_url:
            html = get_text(page_url)
            for link in links(page_url):
                match = re.fullmatch(re.escape(base) + r"/post/(\d+)\.html(\?.*)?", link)
                if match:
                    seen.add(int(match[1]))
            nxt = re.search(r'<a class="next" href="([^"]+)">下一页</a>', html)
            page_url = urljoin(page_url, nxt[1].replace("&amp;", "&")) if nxt else None
    listed = {p["id"] for p in data["posts"] if not p.get("unlisted")}
    assert seen == listed


def test_post_page_has_canonical_title_contact_time(web):
    html = get_text(web.urls["classifieds"] + "/post/3.html?utm_source=x&spm=1")
    assert f'<link rel="canonical" href="{web.urls["classifieds"]}/post/3.html">' in html
    assert '<h1 class="title">高薪诚聘爱心妈妈' in html
    assert 'class="contact"' in html and '<span class="time">2024-05-02 11:02</span>' in html


def test_hot_post_linked_in_mixed_forms_with_tracking(web):
    base = web.urls["classifieds"]
    html = get_text(base + "/")
    host = urlsplit(base).netloc
    assert f'href="//{host}/post/3.html"' in html
    assert 'href="post/3.html?from=index"' in html
    assert "utm_source=home" in html and "spm=" in html
    resolved = {urljoin(base + "/", link).split("?")[0] for link in links(base + "/") if "/post/3.html" in link}
    assert resolved == {base + "/post/3.html"}


def test_injection_payload_escaped_on_classifieds(web):
    html = get_text(web.urls["classifieds"] + "/post/45.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html


def test_error_once_page(web):
    url = web.urls["classifieds"] + "/post/17.html"
    assert fetch(url)[0] == 500
    status, _, body = fetch(url)
    assert status == 200 and "寄血香港" in body.decode()


def test_redirect_chain_has_four_hops_to_an_ad(web):
    netloc = urlsplit(web.urls["classifieds"]).netloc
    path, hops = "/post/100.html", []
    while True:
        conn = http.client.HTTPConnection(netloc, timeout=5)
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        conn.close()
        if response.status not in (301, 302, 303, 307, 308):
            break
        hops.append(response.status)
        path = response.getheader("Location")
    assert hops == [301, 302, 307, 302]
    assert path == "/post/64.html" and response.status == 200


def test_dead_link_and_infinite_calendar(web):
    base = web.urls["classifieds"]
    assert 'href="/post/9999.html"' in get_text(base + "/")
    assert fetch(base + "/post/9999.html")[0] == 404
    url = base + "/calendar?date=2024-05-01"
    for _ in range(3):  # every day links the next one, forever
        html = get_text(url)
        assert "暂无活动" in html
        nxt = re.search(r'href="(/calendar\?date=[\d-]+)">后一天', html)[1]
        url = base + nxt
    assert url.endswith("2024-05-04")


def test_huge_page_has_ad_at_the_very_end(web):
    status, _, body = fetch(web.urls["classifieds"] + "/post/33.html")
    assert status == 200 and len(body) >= 2_000_000
    main = body.decode("utf-8").rsplit("</main>", 1)[0]
    assert "daiyun_home77" in main[-800:] and "daiyun_home77" not in main[:-800]


def test_slow_page(web):
    started = time.monotonic()
    status, _, body = fetch(web.urls["classifieds"] + "/post/27.html")
    assert status == 200 and "包生男孩" in body.decode()
    assert time.monotonic() - started >= 4.4


# ---- forum ---------------------------------------------------------------------------------


def test_forum_floors_markup_and_paging(web):
    base = web.urls["forum"]
    data = yaml.safe_load((ROOT / "demo/content/forum.yaml").read_text(encoding="utf-8"))
    assert len(data["threads"]) >= 8 and sum(len(t["floors"]) for t in data["threads"]) >= 80
    html = get_text(base + "/thread-101-2.html")
    floors = re.findall(r'<div class="post" id="pid(\d+)" data-floor="(\d+)">', html)
    assert floors == [(str(10100 + k), str(k)) for k in range(6, 11)]
    assert 'href="thread-101-3.html">下一页' in html
    assert '<a href="javascript:alert(1)">' in get_text(base + "/thread-110-1.html")
    assert fetch(base + "/thread-999-1.html")[0] == 404
    assert 'href="thread-999-1.html"' in get_text(base + "/forum-7-1.html")


# ---- GBK portal ----------------------------------------------------------------------------


def test_gbk_page_without_any_charset_decodes_exactly(web):
    status, headers, body = fetch(web.urls["portal"] + "/news_show.asp?id=16")
    assert status == 200 and headers["Content-Type"] == "text/html"
    assert b"charset" not in body.lower()
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    title = re.search(rb"<TITLE>(.*?)</TITLE>", body)[1]
    assert title.decode("gbk") == "助孕好消息！代孕包成功包男孩-江城便民信息港"


def test_gbk_declarations_vary_by_page(web):
    base = web.urls["portal"]
    status, headers, body = fetch(base + "/index.asp")
    assert headers["Content-Type"] == "text/html; charset=gbk" and b"charset" not in body.lower()
    _, headers, body = fetch(base + "/list.asp?classid=3&page=2")
    assert headers["Content-Type"] == "text/html" and b"charset=gbk" in body
    assert b"list.asp?classid=3&page=1" in body
    _, headers, body = fetch(base + "/news_show.asp?id=14")  # labelled gb2312, carries 喆
    assert b'<meta charset="gb2312">' in body
    assert "刘喆教授" in body.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("gb2312")


def test_portal_content_is_gbk_encodable():
    data = yaml.safe_load((ROOT / "demo/content/portal.yaml").read_text(encoding="utf-8"))
    for article in data["articles"]:
        (article["title"] + article["body"]).encode("gbk")


# ---- app API -------------------------------------------------------------------------------


def test_api_needs_app_header(web):
    url = web.urls["app"] + "/api/v2/feed"
    status, _, body = fetch(url)
    assert status == 403 and json.loads(body) == {"code": 403, "msg": "missing app header"}
    status, _, body = fetch(url, {"X-App-Key": "demo-app-key"})
    assert status == 200 and json.loads(body)["code"] == 0


def test_api_cursor_paging_reaches_all_items(web):
    key = {"X-App-Key": "demo-app-key"}
    url, ids, pages = web.urls["app"] + "/api/v2/feed", [], 0
    while url:
        status, _, body = fetch(url, key)
        doc = json.loads(body)
        assert status == 200 and doc["code"] == 0 and doc["msg"] == "ok"
        pages += 1
        for item in doc["data"]["items"]:
            assert set(item) == {"id", "title", "desc", "contact", "share_url", "ts"}
            ids.append(item["id"])
        cursor = doc["data"]["next_cursor"]
        url = f"{web.urls['app']}/api/v2/feed?cursor={quote(cursor)}" if cursor else None
    assert pages >= 4 and len(ids) >= 40 and len(set(ids)) == len(ids)
    data = yaml.safe_load((ROOT / "demo/content/app.yaml").read_text(encoding="utf-8"))
    assert set(ids) == {item["id"] for item in data["items"]}
    assert "爱心妈妈" in get_text(f"{web.urls['app']}/share/20002")


def test_api_invalid_cursor(web):
    for cursor in ("not-a-cursor", "eyJ2IjoyLCJhZnRlciI6MX0", "%%%"):
        status, _, body = fetch(f"{web.urls['app']}/api/v2/feed?cursor={quote(cursor)}",
                                {"X-App-Key": "demo-app-key"})
        assert status == 200 and json.loads(body) == {"code": 40001, "msg": "invalid cursor"}


# ---- yellow pages --------------------------------------------------------------------------


def test_ads_only_reachable_through_search(web):
    base = web.urls["yellowpages"]
    browsed = set(links(base + "/"))
    for link in list(browsed):
        if "/cat/" in link:
            browsed.update(links(link))
    browsed_biz = {link for link in browsed if "/biz/" in link}
    assert browsed_biz and f"{base}/biz/101" not in browsed_biz
    html = get_text(f"{base}/s?q={quote('代孕')}")
    assert 'href="/biz/101"' in html and "好孕之家" in html
    assert "共找到 0 条" in get_text(f"{base}/s?q=%D3%C3")  # GBK bytes: not UTF-8, no match


def test_search_results_are_paged_by_ten(web):
    base = web.urls["yellowpages"]
    first = get_text(f"{base}/s?q={quote('服务')}")
    total = int(re.search(r"共找到 (\d+) 条", first)[1])
    assert total > 10 and first.count('class="biz"') == 10
    assert f'href="/s?q={quote("服务")}&amp;page=2"' in first
    last_page = -(-total // 10)
    last = get_text(f"{base}/s?q={quote('服务')}&page={last_page}")
    assert last.count('class="biz"') == total - 10 * (last_page - 1)


# ---- JS app, news, hospital ----------------------------------------------------------------


def test_js_app_shell_and_api(web):
    base = web.urls["jsapp"]
    shell = get_text(base + "/")
    assert '<div id="app"></div>' in shell and '<script src="/static/app.js">' in shell
    status, headers, script = fetch(base + "/static/app.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert b"/api/list?page=" in script and "加载更多".encode() in script
    ids, page = [], 1
    while True:
        doc = json.loads(get_text(f"{base}/api/list?page={page}"))
        ids += [item["id"] for item in doc["items"]]
        if not doc["has_more"]:
            break
        page += 1
    assert len(ids) >= 20 and page >= 2
    item = json.loads(get_text(f"{base}/api/item/2"))
    assert "代孕" in item["body"] and item["contact"]


def test_news_links_to_hospital(web):
    html = get_text(web.urls["news"] + "/news/1001.html")
    assert f'href="{web.urls["hospital"]}/notice/anti-fraud.html"' in html
    assert "139****0716" in html


# ---- ground truth --------------------------------------------------------------------------


def test_truth_json_is_current():
    from demo.truth import build_truth, load_truth

    assert load_truth() == build_truth(), "run: python -m demo.truth"


def test_every_truth_item_is_served(web):
    from demo.truth import build_truth

    truth = build_truth()
    skip = {t["path"] for t in truth["traps"] if t["trap"] in ("slow", "error_once")}
    assert truth["summary"]["ads"] >= 60
    assert all(truth["summary"]["ads_by_category"][c] >= 5 for c in truth["categories"])
    assert sum("near_duplicate_of" in item for item in truth["items"]) >= 5
    for item in truth["items"]:
        if item["path"] in skip:
            continue
        base = web.urls[item["site"]]
        if item["kind"] == "js_item":
            status, _, body = fetch(base + item["api"])
            assert status == 200 and json.loads(body)["title"] == item["title"]
            continue
        page, _, fragment = item["path"].partition("#")
        status, _, body = fetch(base + page)
        assert status == 200, item["url"]
        if item["kind"] == "floor":
            assert f'id="{fragment}"'.encode() in body


# ---- foreground runner ---------------------------------------------------------------------


def test_server_main_runs_until_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "demo.server", "--base-port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in SITE_OFFSETS]
        urls = dict(line.split() for line in lines)
        assert set(urls) == set(SITE_OFFSETS)
        assert fetch(urls["hospital"] + "robots.txt")[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
