"""The store contract, run against every backend: SQLite always, Elasticsearch too.

Elasticsearch is the cluster at ``$ELASTICSEARCH_URL`` when set; otherwise ``osmem-server``
(an in-memory OpenSearch-compatible server from PyPI), started here on a free 127.0.0.1
port. If it cannot be started these tests fail: a skipped backend is an untested backend.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import uuid

import pytest
from elastic_transport import Urllib3HttpNode

from search.es_store import ElasticsearchStore
from search.sqlite_store import SQLiteStore
from search.store import (FACETS, NotFoundError, Query, StoreError, TransitionError, open_store)


class PlainJsonNode(Urllib3HttpNode):
    """Test-only transport node: sends the 9.x client's compatibility media type
    (``application/vnd.elasticsearch+json; compatible-with=9``) as plain ``application/json``,
    which osmem-server, like OpenSearch, insists on. Production talks to Elasticsearch unchanged."""

    def perform_request(self, method, target, body=None, headers=None, **kwargs):
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                if "vnd.elasticsearch" in str(headers.get(name, "")):
                    headers[name] = "application/json"
        return super().perform_request(method, target, body=body, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def elasticsearch():
    """(url, client options) of the Elasticsearch to test against, started if need be."""
    url = os.environ.get("ELASTICSEARCH_URL")
    if url:
        yield url, {}
        return
    try:
        from osmem_server import OsmemServer

        server = OsmemServer.start(addr="127.0.0.1:0", japanese=False)
    except Exception as e:  # noqa: BLE001 — any reason is a failure, reported as such
        pytest.fail(f"osmem-server could not be started (pip install osmem-server, or set "
                    f"ELASTICSEARCH_URL): {e}", pytrace=False)
    yield server.url, {"node_class": PlainJsonNode}
    server.close()


@pytest.fixture(params=["sqlite", "elasticsearch"])
def store(request, tmp_path):
    """A fresh, empty store of each backend."""
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "store.db")
        yield s
        s.close()
        return
    url, options = request.getfixturevalue("elasticsearch")
    s = ElasticsearchStore(url, prefix=f"test-{uuid.uuid4().hex[:12]}", **options)
    yield s
    s.client.indices.delete(index=[s.items_index, s.runs_index], ignore_unavailable=True)
    s.close()


def at(day: int, hour: int = 8) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00Z"


def ad(item_id: str, text: str, **fields) -> dict:
    """A flagged item; any field can be overridden."""
    item = {"id": item_id, "url": f"http://ads.example.cn/post/{item_id}.html", "source": "demo-classifieds",
            "site": "ads.example.cn", "title": "", "text": text, "labels": ["surrogacy"], "score": 0.9,
            "flagged": True, "hits": [], "contacts": {}, "fetched_at": at(1)}
    item.update(fields)
    return item


def load(store, items: list[dict]) -> None:
    store.bulk_upsert(items)
    store.refresh()


def ids(result) -> list[str]:
    return [item["id"] for item in result.items]


CORPUS = [
    ad("s1", "专业代孕妈妈，包成功，试管婴儿一站式服务。联系微信 Daiyun888，电话 13800138000。",
       title="代孕中心招募", score=0.97, fetched_at=at(1), contacts={"phones": ["13800138000"], "wechat": ["Daiyun888"]},
       hits=[{"rule": "surrogacy.term", "category": "surrogacy", "text": "代孕", "start": 2, "end": 4}]),
    ad("s2", "高价有偿捐卵，爱心供卵，一对一服务，QQ 123456789。", labels=["gamete_trade"], score=0.91,
       fetched_at=at(2), contacts={"qq": ["123456789"]}, site="forum.example.cn", source="demo-forum"),
    ad("s3", "胎儿性别鉴定，验血查男女，包准，寄血即可。", labels=["sex_selection"], score=0.88, fetched_at=at(3),
       site="forum.example.cn", source="demo-forum"),
    ad("s4", "泰国第三代试管包男孩，代孕套餐，全程陪同。", labels=["surrogacy", "unlicensed_art"], score=0.95,
       fetched_at=at(4), contacts={"phones": ["13900139000"]}),
    ad("n1", "现代生活节奏快，年轻人更注重健康饮食和规律作息。", labels=[], score=0.05, flagged=False, fetched_at=at(5),
       site="news.example.cn", source="demo-news"),
    ad("n2", "警方破获一起非法代孕案，依法判处相关人员。", labels=[], score=0.2, flagged=False, fetched_at=at(6),
       site="news.example.cn", source="demo-news"),
]


# -- upsert and get ------------------------------------------------------------------------

def test_upsert_new_seen_changed(store):
    first = ad("a1", "专业代孕妈妈，包成功。", fetched_at=at(1))
    assert store.upsert(first).outcome == "new"
    item = store.get("a1")
    assert item["text"] == "专业代孕妈妈，包成功。"
    assert item["first_seen"] == item["last_seen"] == at(1)
    assert item["status"] == "new" and item["previous_hashes"] == [] and item["history"] == []
    old_hash = item["content_hash"]

    assert store.upsert(ad("a1", "专业代孕妈妈，包成功。", fetched_at=at(2))).outcome == "seen"
    item = store.get("a1")
    assert item["last_seen"] == at(2) and item["first_seen"] == at(1)
    assert item["previous_hashes"] == []

    store.review("a1", "confirmed", note="广告属实", user="officer1")
    changed = ad("a1", "专业代孕妈妈，包成功，价格面议。", fetched_at=at(3), score=0.99)
    assert store.upsert(changed).outcome == "changed"
    item = store.get("a1")
    assert item["text"] == "专业代孕妈妈，包成功，价格面议。" and item["score"] == 0.99
    assert item["previous_hashes"] == [old_hash]
    assert item["content_hash"] != old_hash
    assert item["last_seen"] == at(3) and item["first_seen"] == at(1)
    assert item["status"] == "confirmed" and [h["status"] for h in item["history"]] == ["confirmed"]

    # A late (spooled) capture of the same text never moves last_seen backwards.
    assert store.upsert(ad("a1", "专业代孕妈妈，包成功，价格面议。", fetched_at=at(2))).outcome == "seen"
    assert store.get("a1")["last_seen"] == at(3)


def test_get_unknown_and_item_fields_round_trip(store):
    assert store.get("nope") is None
    item = ad("r1", "代孕", evidence={"files": [{"path": "a.html", "sha256": "ab" * 32, "size": 3}]},
              published="2026-02-01", cluster="c1", contacts={"phones": ["13800138000"], "urls": ["http://x.cn"]})
    store.upsert(item)
    got = store.get("r1")
    for name in ("url", "source", "site", "title", "text", "labels", "score", "hits", "contacts", "evidence",
                 "published", "cluster", "fetched_at"):
        assert got[name] == item[name], name
    assert got["flagged"] is True and "highlight" not in got


def test_bulk_upsert_outcomes_in_order(store):
    store.upsert(ad("b1", "代孕一", fetched_at=at(1)))
    store.upsert(ad("b2", "代孕二", fetched_at=at(1)))
    results = store.bulk_upsert([
        ad("b1", "代孕一", fetched_at=at(2)),          # same text
        ad("b2", "代孕二改", fetched_at=at(2)),        # new text
        ad("b3", "代孕三", fetched_at=at(2)),          # unknown id
        ad("b3", "代孕三", fetched_at=at(3)),          # the same again, in the same batch
    ])
    assert [(r.id, r.outcome) for r in results] == [("b1", "seen"), ("b2", "changed"), ("b3", "new"), ("b3", "seen")]
    assert store.get("b3")["last_seen"] == at(3) and store.get("b3")["first_seen"] == at(2)
    assert len(store.get("b2")["previous_hashes"]) == 1



def test_recapture_of_unchanged_text_replaces_evidence_and_none_keeps_it(store):
    first = {"dir": "evidence/e1/1", "files": [{"path": "a.html", "sha256": "ab" * 32, "size": 3}]}
    second = {"dir": "evidence/e1/2", "files": [{"path": "a.html", "sha256": "cd" * 32, "size": 3}]}
    store.upsert(ad("e1", "代孕", fetched_at=at(1), evidence=first))
    assert store.upsert(ad("e1", "代孕", fetched_at=at(2), evidence=second)).outcome == "seen"
    assert store.get("e1")["evidence"] == second
    store.upsert(ad("e1", "代孕", fetched_at=at(3)))  # fetched again without a capture
    assert store.get("e1")["evidence"] == second

# -- full text -----------------------------------------------------------------------------

def test_chinese_full_text(store):
    load(store, CORPUS)
    assert set(ids(store.search(Query(text="代孕", include_all=True)))) == {"s1", "s4", "n2"}
    # 现代生活 contains 代 next to nothing like 代孕; a word search must not find it.
    assert "n1" not in ids(store.search(Query(text="代孕", include_all=True)))
    assert ids(store.search(Query(text="现代生活", include_all=True))) == ["n1"]
    # Every word must match: 代孕 and 包男孩 are both only in s4.
    assert ids(store.search(Query(text="代孕 包男孩"))) == ["s4"]
    assert ids(store.search(Query(text="代孕妈妈"))) == ["s1"]
    assert ids(store.search(Query(text="试管"))) == ["s4", "s1"]
    assert ids(store.search(Query(text="捐卵"))) == ["s2"]
    assert ids(store.search(Query(text="招募"))) == ["s1"]  # title only
    assert ids(store.search(Query(text="13800138000"))) == ["s1"]
    assert ids(store.search(Query(text="ＤＡＩＹＵＮ888"))) == ["s1"]  # full-width, any case
    assert store.search(Query(text="克隆羊")).total == 0


def test_highlight_marks_query_words_in_original_text(store):
    long_text = "这是一段很长的开头，" * 20 + "专业代孕妈妈，包成功！" + "结尾的客套话。" * 20
    load(store, CORPUS + [ad("h1", long_text, fetched_at=at(9))])
    result = store.search(Query(text="代孕"))
    by_id = {item["id"]: item["highlight"] for item in result.items}
    assert "专业【代孕】妈妈，包成功，" in by_id["s1"]  # punctuation kept: cut from the original
    assert "【代孕】" in by_id["h1"] and len(by_id["h1"]) <= 160
    assert by_id["h1"].startswith("…") and by_id["h1"].endswith("…")
    both = store.search(Query(text="代孕 试管婴儿")).items[0]["highlight"]
    assert "【代孕】" in both and "【试管婴儿】" in both
    # Without a query the first classifier hit is marked.
    no_query = {i["id"]: i["highlight"] for i in store.search(Query(site="ads.example.cn")).items}
    assert no_query["s1"].startswith("专业【代孕】妈妈")
    assert all(len(h) <= 160 for h in no_query.values())


# -- filters, facets, paging, sorting ------------------------------------------------------

def test_flagged_only_unless_include_all(store):
    load(store, CORPUS)
    assert set(ids(store.search(Query()))) == {"s1", "s2", "s3", "s4"}
    assert store.search(Query(include_all=True)).total == 6
    assert ids(store.search(Query(text="警方"))) == []
    assert ids(store.search(Query(text="警方", include_all=True))) == ["n2"]


@pytest.mark.parametrize("query, expected", [
    (Query(category="surrogacy"), {"s1", "s4"}),
    (Query(category="unlicensed_art"), {"s4"}),
    (Query(category="birth_certificate"), set()),
    (Query(status="new"), {"s1", "s2", "s3", "s4"}),
    (Query(status="confirmed"), set()),
    (Query(site="forum.example.cn"), {"s2", "s3"}),
    (Query(site="nowhere.example.cn"), set()),
    (Query(source="demo-forum"), {"s2", "s3"}),
    (Query(contact="13800138000"), {"s1"}),
    (Query(contact="daiyun888"), {"s1"}),     # WeChat ids compare case-insensitively
    (Query(contact="123456789"), {"s2"}),     # QQ
    (Query(contact="13700000000"), set()),
    (Query(since="2026-03-02", until="2026-03-03"), {"s2", "s3"}),  # dates include the whole day
    (Query(since="2026-03-02T08:00:00Z", until="2026-03-03T07:59:59Z"), {"s2"}),
    (Query(since="2026-03-04"), {"s4"}),
    (Query(until="2026-03-01"), {"s1"}),
    (Query(text="代孕", category="unlicensed_art", site="ads.example.cn"), {"s4"}),
    (Query(source="demo-news", include_all=True), {"n1", "n2"}),
], ids=lambda v: repr(v) if isinstance(v, set) else None)
def test_filters(store, query, expected):
    load(store, CORPUS)
    assert set(ids(store.search(query))) == expected


def test_status_filter_after_review(store):
    load(store, CORPUS)
    store.review("s2", "confirmed")
    store.refresh()
    assert ids(store.search(Query(status="confirmed"))) == ["s2"]
    assert store.search(Query(status="new")).facets["status"] == {"new": 3}


def test_facets_count_all_matches_not_just_the_page(store):
    load(store, CORPUS)
    result = store.search(Query(limit=1, include_all=True))
    assert result.total == 6 and len(result.items) == 1
    assert set(result.facets) == set(FACETS)
    assert result.facets["site"] == {"ads.example.cn": 2, "forum.example.cn": 2, "news.example.cn": 2}
    assert result.facets["source"] == {"demo-classifieds": 2, "demo-forum": 2, "demo-news": 2}
    assert result.facets["category"] == {"surrogacy": 2, "gamete_trade": 1, "sex_selection": 1, "unlicensed_art": 1}
    assert result.facets["status"] == {"new": 6}
    assert list(result.facets["day"]) == [f"2026-03-{d:02d}" for d in (6, 5, 4, 3, 2, 1)]
    assert set(result.facets["day"].values()) == {1}
    filtered = store.search(Query(text="代孕", limit=1))
    assert filtered.total == 2
    assert filtered.facets["category"] == {"surrogacy": 2, "unlicensed_art": 1}
    assert filtered.facets["site"] == {"ads.example.cn": 2}


def test_paging_and_sorts(store):
    items = [ad(f"p{i:02d}", f"代孕广告第{i}条", score=round(0.5 + i / 100, 2), fetched_at=at(1 + i % 9, i % 24))
             for i in range(25)]
    load(store, items)
    by_time = sorted(items, key=lambda i: i["fetched_at"], reverse=True)
    pages = [ids(store.search(Query(limit=10, offset=o))) for o in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    assert sum(pages, []) == [i["id"] for i in by_time]
    by_score = [ids(store.search(Query(text="代孕", sort="score", limit=10, offset=o))) for o in (0, 10, 20)]
    assert sum(by_score, []) == [f"p{i:02d}" for i in range(24, -1, -1)]
    assert store.search(Query(offset=30)).items == []
    assert store.search(Query(offset=30)).total == 25


def test_score_ties_ordered_by_text_relevance(store):
    load(store, [
        ad("t1", "服务说明：本店提供多种家政服务，包括保洁、月嫂、育儿嫂，另有代孕咨询。" * 3, score=0.9, fetched_at=at(3)),
        ad("t2", "代孕代孕，代孕。", score=0.9, fetched_at=at(1)),
        ad("t3", "代孕服务", score=0.95, fetched_at=at(2)),
    ])
    assert ids(store.search(Query(text="代孕", sort="score"))) == ["t3", "t2", "t1"]
    assert ids(store.search(Query(text="代孕", sort="time"))) == ["t1", "t3", "t2"]


def test_bad_queries_are_value_errors(store):
    with pytest.raises(ValueError, match="since"):
        store.search(Query(since="last tuesday"))
    with pytest.raises(ValueError, match="sort"):
        store.search(Query(sort="random"))
    with pytest.raises(ValueError, match="status"):
        store.search(Query(status="approved"))


# -- review and runs -----------------------------------------------------------------------

def test_review_transitions(store):
    load(store, CORPUS)
    item = store.review("s1", "confirmed", note="核实为代孕广告", user="officer1")
    assert item["status"] == "confirmed"
    assert item["history"][-1]["status"] == "confirmed" and item["history"][-1]["note"] == "核实为代孕广告"
    assert item["history"][-1]["user"] == "officer1" and item["history"][-1]["at"].endswith("Z")
    store.review("s1", "notice_sent", note="已发处置通知")
    store.review("s1", "still_online")
    store.review("s1", "removed")
    assert [h["status"] for h in store.get("s1")["history"]] == ["confirmed", "notice_sent", "still_online", "removed"]
    with pytest.raises(TransitionError):
        store.review("s1", "new")
    with pytest.raises(TransitionError):
        store.review("s2", "removed")  # new → removed skips the workflow
    with pytest.raises(TransitionError):
        store.review("s2", "approved")
    with pytest.raises(NotFoundError):
        store.review("missing", "confirmed")
    assert store.get("s2")["status"] == "new" and store.get("s2")["history"] == []


def test_runs_record_and_list(store):
    for source, started in (("demo-forum", at(1)), ("demo-classifieds", at(2)), ("demo-forum", at(3))):
        store.record_run({"source": source, "started": started, "finished": started, "pages": 10, "items": 5,
                          "new": 2, "flagged": 1, "errors": {"timeout": 1}})
    store.refresh()
    runs = store.runs()
    assert [(r["source"], r["started"]) for r in runs] == [("demo-forum", at(3)), ("demo-classifieds", at(2)),
                                                           ("demo-forum", at(1))]
    assert runs[0]["errors"] == {"timeout": 1} and runs[0]["pages"] == 10
    assert [r["started"] for r in store.runs(source="demo-forum")] == [at(3), at(1)]
    assert [r["started"] for r in store.runs(since=at(2))] == [at(3), at(2)]


# -- opening and failures ------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_elasticsearch_is_a_store_error():
    url = f"http://127.0.0.1:{_closed_port()}"
    store = ElasticsearchStore(url, request_timeout=2)
    for call in (lambda: store.search(Query()), lambda: store.upsert(ad("x", "代孕")), lambda: store.get("x")):
        with pytest.raises(StoreError, match=url.replace(".", r"\.")):
            call()


def test_sqlite_open_errors(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(StoreError, match="not a reprowatch SQLite store"):
        SQLiteStore(corrupt)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="SQLite store"):
        SQLiteStore(blocker / "sub" / "store.db")  # a file where the folder should be
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StoreError, match="not a reprowatch store"):
        SQLiteStore(other)


def test_open_store_urls(tmp_path, monkeypatch):
    store = open_store(f"sqlite:///{tmp_path}/via-url.db")
    assert isinstance(store, SQLiteStore) and (tmp_path / "via-url.db").exists()
    store.close()
    monkeypatch.setenv("REPROWATCH_STORE", f"sqlite:///{tmp_path}/via-env.db")
    open_store().close()
    assert (tmp_path / "via-env.db").exists()
    assert isinstance(open_store("http://127.0.0.1:9200"), ElasticsearchStore)
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("mysql://localhost/x")


# -- SQLite: several connections on one file -----------------------------------------------

def test_sqlite_sees_writes_of_another_connection(tmp_path):
    reader, writer = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "shared.db")
    writer.bulk_upsert(CORPUS)
    assert reader.search(Query()).total == 4  # first search loads the columns
    writer.review("s1", "confirmed")
    writer.upsert(ad("late", "新到代孕广告", fetched_at=at(9), site="late.example.cn"))
    result = reader.search(Query(status="new"))
    assert set(ids(result)) == {"s2", "s3", "s4", "late"}
    assert result.facets["site"]["late.example.cn"] == 1
    assert ids(reader.search(Query(status="confirmed"))) == ["s1"]
    reader.close()
    writer.close()


def test_sqlite_store_serves_threads(tmp_path):
    store = SQLiteStore(tmp_path / "threads.db")
    store.bulk_upsert([ad(f"th{i}", f"代孕广告{i}", fetched_at=at(1 + i % 9)) for i in range(200)])
    errors, totals = [], []

    def work(n: int) -> None:
        try:
            for i in range(20):
                if n == 0:
                    store.upsert(ad(f"new{i}", "代孕新广告", fetched_at=at(9)))
                totals.append(store.search(Query(text="代孕", limit=5)).total)
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert min(totals) >= 200 and store.search(Query(text="代孕")).total == 220
    store.close()


def test_sqlite_tie_relevance_equals_fts5_bm25(tmp_path):
    from search import relevance
    from search.sqlite_store import BM25_WEIGHTS, fts_query
    from search.tokenize import query_tokens

    store = SQLiteStore(tmp_path / "bm25.db")
    store.bulk_upsert(CORPUS + [ad(f"x{i}", "代孕服务" * (i + 1) + "，其他内容" * i, title="代孕" if i % 2 else "")
                                for i in range(8)])
    conn = store._conn()
    terms = query_tokens("代孕 服务")
    expected = dict(conn.execute("SELECT rowid, bm25(items_fts, ?, ?) FROM items_fts WHERE items_fts MATCH ?",
                                 (*BM25_WEIGHTS, fts_query(terms))).fetchall())
    ours = relevance.bm25(conn, "items_fts", terms, list(expected), BM25_WEIGHTS)
    assert ours.keys() == expected.keys()
    for rowid, value in expected.items():
        assert ours[rowid] == pytest.approx(value, rel=1e-9)
    store.close()


def test_review_deadline_kept_across_recrawls(store):
    load(store, CORPUS)
    store.review("s1", "confirmed")
    with pytest.raises(ValueError):
        store.review("s1", "dismissed", deadline="2026-03-05")  # only a notice has a deadline
    with pytest.raises(ValueError):
        store.review("s1", "notice_sent", deadline="next friday")
    assert store.get("s1")["status"] == "confirmed" and "deadline" not in store.get("s1")
    item = store.review("s1", "notice_sent", note="已发处置通知", user="officer1", deadline="2026-03-05T12:00:00+08:00")
    assert item["deadline"] == "2026-03-05T04:00:00Z"
    assert item["history"][-1]["deadline"] == "2026-03-05T04:00:00Z"
    assert store.get("s1")["deadline"] == "2026-03-05T04:00:00Z"
    # A re-crawl, with the same text and with changed text, keeps the deadline and the status.
    original = store.get("s1")
    store.upsert(ad("s1", original["text"], fetched_at=at(6)))
    store.upsert(ad("s1", original["text"] + " 新增联系方式 13800000000", fetched_at=at(7)))
    store.refresh()
    again = store.get("s1")
    assert again["status"] == "notice_sent" and again["deadline"] == "2026-03-05T04:00:00Z"
    assert again["content_hash"] != original["content_hash"]
    # Statuses after the notice keep the deadline for the record; a new notice replaces it.
    store.review("s1", "still_online", user="recheck")
    store.review("s1", "notice_sent", deadline="2026-03-20")
    assert store.get("s1")["deadline"] == "2026-03-20T00:00:00Z"
    hits = store.search(Query(status="notice_sent", include_all=True)).items
    assert [h["id"] for h in hits] == ["s1"] and hits[0]["deadline"] == "2026-03-20T00:00:00Z"


# -- what the web UI needs: notes, clusters, the review queue, contacts, stats -------------

def test_notes_are_kept_across_recrawls(store):
    load(store, CORPUS)
    item = store.add_note("s1", "已电话核实，号码有效", user="officer1")
    assert [(n["user"], n["text"]) for n in item["notes"]] == [("officer1", "已电话核实，号码有效")]
    store.add_note("s1", "第二条备注")
    store.upsert(ad("s1", "专业代孕妈妈，文字已改。", fetched_at=at(9)))  # changed text
    store.refresh()
    got = store.get("s1")
    assert [n["text"] for n in got["notes"]] == ["已电话核实，号码有效", "第二条备注"]
    assert got["notes"][0]["at"].endswith("Z")
    assert store.get("s2")["notes"] == []
    with pytest.raises(NotFoundError):
        store.add_note("missing", "x")


def test_cluster_items_newest_first(store):
    load(store, [ad("c1", "代孕一", cluster="k1", fetched_at=at(1)), ad("c2", "代孕二", cluster="k1", fetched_at=at(3)),
                 ad("c3", "代孕三", cluster="k2", fetched_at=at(2)), ad("c4", "新闻", cluster="k1", fetched_at=at(2),
                                                                     flagged=False, labels=[])])
    assert [i["id"] for i in store.cluster_items("k1")] == ["c2", "c4", "c1"]
    assert [i["id"] for i in store.cluster_items("k1", limit=1)] == ["c2"]
    assert store.cluster_items("nothing") == [] and store.cluster_items("") == []


def test_review_queue_oldest_new_flagged_first(store):
    load(store, CORPUS)
    store.review("s1", "confirmed")
    total, page = store.review_queue(limit=2)
    # s1 is reviewed, n1/n2 are not flagged; s2, s3, s4 by first_seen.
    assert total == 3 and [i["id"] for i in page] == ["s2", "s3"]
    assert [i["id"] for i in store.review_queue(limit=5, offset=2)[1]] == ["s4"]


def test_contacts_aggregate_flagged_items(store):
    load(store, CORPUS + [ad("s5", "代孕，电话 13800138000", fetched_at=at(7), site="forum.example.cn",
                             contacts={"phones": ["13800138000"]}),
                          ad("n3", "电话 13800138000", flagged=False, labels=[], fetched_at=at(8),
                             contacts={"phones": ["13800138000"]})])
    rows = {r["value"]: r for r in store.contacts()}
    phone = rows["13800138000"]
    assert phone["kind"] == "phones" and phone["items"] == 2  # the unflagged n3 does not count
    assert phone["sites"] == ["ads.example.cn", "forum.example.cn"]
    assert phone["first_seen"].startswith("2026-03-01T08:00:00") and phone["last_seen"].startswith("2026-03-07T08:00:00")
    assert rows["daiyun888"]["kind"] == "wechat" and rows["123456789"]["kind"] == "qq"
    assert list(rows)[0] == "13800138000"  # most items first
    assert len(store.contacts(limit=1)) == 1


def test_stats_count_new_flagged_by_category(store):
    load(store, CORPUS)
    store.review("s2", "dismissed", note="误报")
    stats = store.stats(since=at(3))
    assert stats["items"] == 6 and stats["flagged"] == 4
    assert stats["status"] == {"new": 3, "dismissed": 1}
    assert stats["new_flagged"] == 2  # s3 (day 3) and s4 (day 4)
    assert stats["new_by_category"] == {"sex_selection": 1, "surrogacy": 1, "unlicensed_art": 1}
    assert store.stats(since="2027-01-01")["new_flagged"] == 0


def test_a_repeated_search_sees_every_write(store):
    """The same text searched again after a write finds the new item and the new text (the
    SQLite store keeps recent full-text matches until the next write)."""
    load(store, [ad("r1", "代孕广告一号 微信 ab1"), ad("r2", "供卵广告二号")])
    assert ids(store.search(Query(text="代孕"))) == ["r1"]
    assert store.search(Query(text="代孕", site="ads.example.cn")).total == 1
    load(store, [ad("r3", "代孕广告三号", fetched_at=at(2))])
    assert sorted(ids(store.search(Query(text="代孕")))) == ["r1", "r3"]
    load(store, [ad("r1", "这条已改为普通内容", fetched_at=at(3))])  # changed text
    assert ids(store.search(Query(text="代孕"))) == ["r3"]
    store.review("r3", "confirmed")
    store.refresh()
    assert [i["status"] for i in store.search(Query(text="代孕")).items] == ["confirmed"]
