"""Takedown recheck on the demo web: pages taken down (404, 410, a "该信息已删除" page, an app
item whose API answers 404) become ``removed``, live ones ``still_online``; each decision is
in the item's history and the custody log, with a new capture folder; a notice whose deadline
has not passed is left alone. Real store, classifier, Chromium, demo sites and CLI; the items
are stored as a crawl stores them (a crawl of the whole site would only add time)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import write_sources


def rw(cli_bin, data, *args, timeout=180):
    env = dict(os.environ, REPROWATCH_DATA=str(data))
    return subprocess.run([cli_bin, "--store", f"sqlite:///{data}/rw.db", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def crawled(web, tmp_path_factory):
    """A data folder with the demo sources and a store."""
    data = tmp_path_factory.mktemp("recheck")
    sources = write_sources(web, data / "sources", names=["demo-classifieds", "demo-jsapp"])
    return data, sources


AD = "专业代孕，包成功，试管婴儿一条龙。联系微信 dy_mama2024"


def stored(data, url: str, source: str, text: str = AD) -> dict:
    """An item as the crawl stores it (id from the canonical URL, the classifier's verdict)."""
    from classifiers import Classifier
    from crawlers.canonical import item_id
    from search.sqlite_store import SQLiteStore

    verdict = Classifier.load().classify(text).as_dict()
    assert verdict["flagged"]
    store = SQLiteStore(data / "rw.db")
    try:
        store.upsert({"id": item_id(url), "url": url, "source": source, "title": text.split("\n")[0],
                      "text": text, **{k: verdict[k] for k in ("flagged", "labels", "score", "hits", "contacts")}})
        return store.get(item_id(url))
    finally:
        store.close()


def send_notice(cli_bin, data, item_id: str, deadline: str) -> None:
    assert rw(cli_bin, data, "review", item_id, "--status", "confirmed").returncode == 0
    done = rw(cli_bin, data, "review", item_id, "--status", "notice_sent", "--note", "已发处置通知",
              "--deadline", deadline, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deadline"]


def test_recheck_static_pages(web, cli_bin, crawled):
    data, sources = crawled
    base = web.urls["classifieds"]
    posts = {"live": 3, "gone404": 5, "notice200": 12, "not_due": 17}
    items = {key: stored(data, f"{base}/post/{n}.html", "demo-classifieds") for key, n in posts.items()}
    for key, item in items.items():
        send_notice(cli_bin, data, item["id"], "2099-12-31" if key == "not_due" else "2026-01-05")
    shown = json.loads(rw(cli_bin, data, "show", items["live"]["id"], "--json").stdout)
    # A date is the end of that day in Beijing time.
    assert shown["status"] == "notice_sent" and shown["deadline"] == "2026-01-05T16:00:00Z"

    web.take_down("classifieds", "/post/5.html", 404)
    web.take_down("classifieds", "/post/12.html", 200)
    try:
        done = rw(cli_bin, data, "recheck", "--sources", str(sources), "--json")
    finally:
        for n in (5, 12):
            web.restore("classifieds", f"/post/{n}.html")
    assert done.returncode == 1, done.stderr  # exit 1: an item is still online
    decisions = {d["id"]: d for d in json.loads(done.stdout)}
    assert set(decisions) == {items[k]["id"] for k in ("live", "gone404", "notice200")}
    expect = {"live": ("still_online", "still_flagged", 200), "gone404": ("removed", "http_404", 404),
              "notice200": ("removed", "not_flagged", 200)}
    for key, (decision, reason, status) in expect.items():
        got = decisions[items[key]["id"]]
        assert (got["decision"], got["reason"], got["http_status"]) == (decision, reason, status), got
    assert "[3/3]" in done.stderr  # progress, one line per item

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
    # The item still online raised one alert (reports/alerts.py: recorded and sent).
    alerts = [json.loads(line) for line in (data / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(a["kind"], a["items"]) for a in alerts] == [("still_online", [items["live"]["id"]])]
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
    from search.sqlite_store import SQLiteStore

    data, sources = crawled
    urls = {n: f"{web.urls['jsapp']}/#/item/{n}" for n in (2, 5)}
    store = SQLiteStore(data / "rw.db")
    for url in urls.values():
        item = stored(data, url, "demo-jsapp")
        store.review(item["id"], "confirmed")
        store.review(item["id"], "notice_sent", deadline="2026-01-01T00:00:00Z")
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
