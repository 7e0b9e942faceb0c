"""Takedown recheck on the demo web: pages taken down (404, 410, a "该信息已删除" page, an app
item whose API answers 404) become ``removed``, live ones ``still_online``; each decision is
in the item's history and the custody log, with a new capture folder; a notice whose deadline
has not passed is left alone. Real crawl, store, classifier, Chromium and CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import run_crawl, write_sources


def rw(cli_bin, data, *args, timeout=180):
    env = dict(os.environ, REPROWATCH_DATA=str(data))
    return subprocess.run([cli_bin, "--store", f"sqlite:///{data}/rw.db", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def crawled(web, cli_bin, tmp_path_factory):
    """The classifieds site crawled (without crawl-time evidence, to keep the test short)."""
    data = tmp_path_factory.mktemp("recheck")
    sources = write_sources(web, data / "sources", names=["demo-classifieds", "demo-jsapp"])
    done = run_crawl(cli_bin, sources, data, "demo-classifieds", env={"REPROWATCH_EVIDENCE": "0"})
    assert done.returncode == 0, done.stderr
    return data, sources


def item_at(cli_bin, data, url: str) -> dict:
    found = json.loads(rw(cli_bin, data, "search", "--all", "--source", "demo-classifieds", "--limit", "500",
                          "--json").stdout)["items"]
    return next(i for i in found if i["url"] == url)


def send_notice(cli_bin, data, item_id: str, deadline: str) -> None:
    assert rw(cli_bin, data, "review", item_id, "--status", "confirmed").returncode == 0
    done = rw(cli_bin, data, "review", item_id, "--status", "notice_sent", "--note", "已发处置通知",
              "--deadline", deadline, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deadline"]


def test_recheck_static_pages(web, cli_bin, crawled):
    data, sources = crawled
    base = web.urls["classifieds"]
    posts = {"live": 3, "gone404": 5, "notice200": 12, "gone410": 16, "not_due": 17}
    items = {key: item_at(cli_bin, data, f"{base}/post/{n}.html") for key, n in posts.items()}
    assert all(i["flagged"] for i in items.values())
    for key, item in items.items():
        send_notice(cli_bin, data, item["id"], "2099-12-31" if key == "not_due" else "2026-01-05")
    shown = json.loads(rw(cli_bin, data, "show", items["live"]["id"], "--json").stdout)
    # A date is the end of that day in Beijing time.
    assert shown["status"] == "notice_sent" and shown["deadline"] == "2026-01-05T16:00:00Z"

    web.take_down("classifieds", "/post/5.html", 404)
    web.take_down("classifieds", "/post/12.html", 200)
    web.take_down("classifieds", "/post/16.html", 410)
    try:
        done = rw(cli_bin, data, "recheck", "--sources", str(sources), "--json")
    finally:
        for n in (5, 12, 16):
            web.restore("classifieds", f"/post/{n}.html")
    assert done.returncode == 1, done.stderr  # exit 1: an item is still online
    decisions = {d["id"]: d for d in json.loads(done.stdout)}
    assert set(decisions) == {items[k]["id"] for k in ("live", "gone404", "notice200", "gone410")}
    expect = {"live": ("still_online", "still_flagged", 200), "gone404": ("removed", "http_404", 404),
              "notice200": ("removed", "not_flagged", 200), "gone410": ("removed", "http_410", 410)}
    for key, (decision, reason, status) in expect.items():
        got = decisions[items[key]["id"]]
        assert (got["decision"], got["reason"], got["http_status"]) == (decision, reason, status), got
    assert "[4/4]" in done.stderr  # progress, one line per item

    for key, (decision, _, _) in expect.items():
        item = json.loads(rw(cli_bin, data, "show", items[key]["id"], "--json").stdout)
        assert item["status"] == decision
        last = item["history"][-1]
        assert last["user"] == "recheck" and last["status"] == decision and last["note"].startswith("复查")
        folder = data / decisions[item["id"]]["evidence_dir"]
        assert folder.is_dir() and (folder / "screenshot.png").stat().st_size > 1000
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        assert meta["http_status"] == decisions[item["id"]]["http_status"]
    gone = (data / decisions[items["gone404"]["id"]]["evidence_dir"] / "response.html").read_text(encoding="utf-8")
    assert "404" in gone
    untouched = json.loads(rw(cli_bin, data, "show", items["not_due"]["id"], "--json").stdout)
    assert untouched["status"] == "notice_sent" and untouched["history"][-1]["user"] != "recheck"

    # The custody log holds one recheck event per decision, pinning its capture; the chain holds.
    audit = rw(cli_bin, data, "audit", "--verify", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    events = [e for e in json.loads(audit.stdout)["entries"] if e["kind"] == "recheck"]
    assert {e["item"]: e["decision"] for e in events} == {d["id"]: d["decision"] for d in decisions.values()}
    assert all(e["dir"] and len(e["files_sha256"]) == 64 and e["actor"] == "recheck" for e in events)

    # Rechecking again writes a new capture folder next to the first, never over it.
    again = rw(cli_bin, data, "recheck", "--sources", str(sources), "--item", items["live"]["id"], "--json")
    assert again.returncode == 1, again.stderr
    second = json.loads(again.stdout)[0]["evidence_dir"]
    first = decisions[items["live"]["id"]]["evidence_dir"]
    assert second != first and (data / first / "meta.json").exists() and (data / second / "meta.json").exists()
    assert Path(data / second).parent == Path(data / first).parent

    # Nothing is due any more: exit 0, nothing fetched.
    assert rw(cli_bin, data, "recheck", "--sources", str(sources), "--json").stdout.strip() == "[]"


def test_recheck_browser_source(web, cli_bin, crawled, tmp_path):
    """A render: browser source is rechecked in Chromium: the app's item 2 still shows its ad;
    item 5, whose API answers 404 now, is gone from the page."""
    from crawlers.canonical import item_id
    from search.sqlite_store import SQLiteStore

    data, sources = crawled
    store = SQLiteStore(data / "rw.db")
    urls = {n: f"{web.urls['jsapp']}/#/item/{n}" for n in (2, 5)}
    texts = {2: "高薪招募爱心妈妈\n代孕一次补贴二十五万，包吃住，全程保密。联系方式：V信 aixin_mama520",
             5: "寄血查男女 七周可测\n孕7周寄血香港查男女，准确率99%，三天出结果。联系方式：扣扣 33928817"}
    for n, url in urls.items():
        store.upsert({"id": item_id(url), "url": url, "source": "demo-jsapp", "title": texts[n].split("\n")[0],
                      "text": texts[n], "labels": ["surrogacy"], "flagged": True, "score": 0.9})
        store.review(item_id(url), "confirmed")
        store.review(item_id(url), "notice_sent", deadline="2026-01-01T00:00:00Z")
    store.close()
    web.take_down("jsapp", "/api/item/5", 404)
    try:
        done = rw(cli_bin, data, "recheck", "--sources", str(sources), "--json")
    finally:
        web.restore("jsapp", "/api/item/5")
    decisions = {d["url"]: d for d in json.loads(done.stdout)}
    assert decisions[urls[2]]["decision"] == "still_online", json.dumps(decisions, ensure_ascii=False)
    assert decisions[urls[5]]["decision"] == "removed" and decisions[urls[5]]["reason"] in ("content_gone", "not_flagged")
    rendered = (data / decisions[urls[2]]["evidence_dir"] / "rendered.html").read_text(encoding="utf-8")
    assert "aixin_mama520" in rendered  # the DOM Chromium rendered, not the empty app shell
    # The page was loaded by Chromium: the app's API was asked for both items.
    api_paths = [r.path for r in web.requests.for_site("jsapp")]
    assert "/api/item/2" in api_paths and "/api/item/5" in api_paths
