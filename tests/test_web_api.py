"""The web UI and HTTP API for real: the demo sites crawled with the real CLI (evidence
captured through Chromium) into SQLite, accounts made with `reprowatch user add`, and
`reprowatch serve` answering httpx over 127.0.0.1. One crawl and one server for the module.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import zipfile

import httpx
import pytest
from openpyxl import load_workbook

from web_fixtures import PASSWORDS, crawled_site, payload_items, stop


@pytest.fixture(scope="module")
def site(web, cli_bin, tmp_path_factory):
    s = crawled_site(web, cli_bin, tmp_path_factory, "webapi")
    yield s
    stop(s)


def flagged_ids(site, source=None):
    return sorted(i["id"] for i in site.items.values() if i["flagged"] and (source is None or i["source"] == source))


def audit_entries(site) -> list[dict]:
    done = site.run("audit", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["entries"]


# -- login, sessions, roles ------------------------------------------------------------------

def test_nothing_but_login_and_static_without_login(site):
    with site.client() as anon:
        for path in ("/", "/search?q=代孕", "/queue", "/contacts", "/dashboard", "/audit", "/docs",
                     f"/items/{flagged_ids(site)[0]}", "/search.csv", "/openapi.json"):
            answer = anon.get(path)
            assert answer.status_code in (303, 401), (path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/login?next=")
        for path in ("/api/search", "/api/stats", "/api/contacts", f"/api/items/{flagged_ids(site)[0]}"):
            answer = anon.get(path)
            assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
        assert anon.post("/api/export", json={"ids": flagged_ids(site)[:1]}).status_code == 401
        assert anon.post(f"/items/{flagged_ids(site)[0]}/review", data={"status": "confirmed"}).status_code == 303
        assert anon.get("/login").status_code == 200
        assert anon.get("/static/app.css").status_code == 200 and anon.get("/static/app.js").status_code == 200
    with httpx.Client(base_url=site.url, auth=("admin", "wrong-password")) as bad:
        assert bad.get("/api/stats").status_code == 401


def test_login_sets_a_strict_httponly_session_and_logout_ends_it(site):
    client, csrf = site.session("viewer")
    cookie = next(c for c in client.cookies.jar if c.name == "rw_session")
    raw = client.get("/dashboard")
    assert raw.status_code == 200 and "概览" in raw.text
    # The Set-Cookie flags, from a fresh login.
    form = httpx.get(site.url + "/login")
    answer = httpx.post(site.url + "/login", cookies=form.cookies,
                        data={"name": "viewer", "password": PASSWORDS["viewer"],
                              "csrf": re.search(r'name="csrf" value="([^"]+)"', form.text)[1], "next": "/"})
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=strict" in header and cookie.value
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    client.cookies.delete("rw_session")
    assert client.get("/dashboard").status_code == 303


def test_login_form_needs_its_token_and_wrong_passwords_are_logged(site):
    with site.client() as anon:
        assert anon.post("/login", data={"name": "admin", "password": PASSWORDS["admin"]}).status_code == 403
        form = anon.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
        wrong = anon.post("/login", data={"name": "admin", "password": "nope-nope", "csrf": token})
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    failed = [e for e in audit_entries(site) if e["kind"] == "login_failed"]
    assert failed and failed[-1]["target"] == "admin" and failed[-1]["ip"] == "127.0.0.1"


@pytest.mark.parametrize("target, expected", [
    ("/queue", "/queue"), ("//evil.example.com/x", "/"), ("https://evil.example.com/", "/"),
    ("/\\evil.example.com", "/"), ("javascript:alert(1)", "/"), ("/items/x?y=1", "/items/x?y=1"),
])
def test_login_next_never_leaves_the_site(site, target, expected):
    with site.client() as anon:
        form = anon.get("/login", params={"next": target})
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
        answer = anon.post("/login", data={"name": "rev", "password": PASSWORDS["rev"], "csrf": token, "next": target})
        assert answer.status_code == 303 and answer.headers["location"] == expected


def test_roles_viewer_reads_reviewer_reviews_admin_audits(site):
    item = flagged_ids(site, "demo-forum")[0]
    with site.client("viewer") as viewer, site.client("rev") as rev:
        assert viewer.get("/api/search").status_code == 200
        assert viewer.post(f"/api/items/{item}/review", json={"status": "confirmed"}).status_code == 403
        assert viewer.post("/api/export", json={"ids": [item]}).status_code == 403
        assert viewer.get("/audit").status_code == 403
        assert rev.get("/audit").status_code == 403
    with site.client("admin") as admin:
        assert admin.get("/audit").status_code == 200


def test_every_state_changing_route_needs_the_csrf_token(site):
    from search.web import api, create_app, pages

    app = create_app(site.store, site.data)
    routes = list(app.routes) + list(pages.router.routes) + list(api.router.routes)
    posts = [r.path for r in routes if "POST" in (getattr(r, "methods", None) or ()) and r.path != "/login"]
    assert {"/logout", "/review/bulk", "/export", "/searches", "/api/export", "/users"} <= set(posts)
    client, csrf = site.session("admin")
    item = flagged_ids(site)[0]
    for path in posts:
        path = path.replace("{item_id}", item).replace("{search_id}", "1").replace("{name}", "viewer")
        form = client.post(path, data={"status": "confirmed", "ids": item, "name": "x", "text": "x"})
        assert form.status_code == 403, (path, form.status_code)
        as_json = client.post(path, json={"status": "confirmed", "ids": [item]})
        assert as_json.status_code == 403, (path, as_json.status_code)
    assert client.get(f"/api/items/{item}").json()["status"] == "new"


def test_disabled_and_repassworded_accounts_lose_their_sessions(site):
    done = site.run("user", "add", "temp", "--role", "reviewer", "--password-stdin", input="temp-pass-123\n")
    assert done.returncode == 0
    from web_fixtures import PASSWORDS as P

    P["temp"] = "temp-pass-123"
    client, _ = site.session("temp")
    assert client.get("/queue").status_code == 200
    assert site.run("user", "passwd", "temp", "--password-stdin", input="temp-pass-456\n").returncode == 0
    assert client.get("/queue").status_code == 303  # the old session ended
    P["temp"] = "temp-pass-456"
    client, _ = site.session("temp")
    assert site.run("user", "disable", "temp").returncode == 0
    assert client.get("/queue").status_code == 303
    with httpx.Client(base_url=site.url, auth=("temp", "temp-pass-456")) as basic:
        assert basic.get("/api/stats").status_code == 401
    listed = json.loads(site.run("user", "list", "--json").stdout)
    assert {u["name"]: u["disabled"] for u in listed}["temp"] is True
    assert all("hash" not in u for u in listed)
    changes = [e for e in audit_entries(site) if e["kind"] == "user" and e["target"] == "temp"]
    assert [e["action"] for e in changes] == ["add", "passwd", "disable"]


def test_user_command_errors_are_one_message(site):
    dup = site.run("user", "add", "admin", "--role", "admin", "--password-stdin", input="whatever-123\n")
    assert dup.returncode == 2 and "already exists" in dup.stderr and "Traceback" not in dup.stderr
    short = site.run("user", "add", "shorty", "--role", "viewer", "--password-stdin", input="abc\n")
    assert short.returncode == 2 and "too short" in short.stderr
    missing = site.run("user", "disable", "nobody")
    assert missing.returncode == 2 and "no user" in missing.stderr
    assert site.run("user", "--help").returncode == 0 and site.run("serve", "--help").returncode == 0


def test_login_rate_limit(site):
    assert site.run("user", "add", "limited", "--role", "viewer", "--password-stdin",
                    input="limited-pass-1\n").returncode == 0
    with site.client() as anon:
        for _ in range(5):
            form = anon.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
            assert anon.post("/login", data={"name": "limited", "password": "bad-guess!", "csrf": token}).status_code == 401
        form = anon.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
        blocked = anon.post("/login", data={"name": "limited", "password": "limited-pass-1", "csrf": token})
        assert blocked.status_code == 429 and "15 分钟" in blocked.text
    # Another account from the same address still gets in.
    client, _ = site.session("rev")
    assert client.get("/queue").status_code == 200


# -- search --------------------------------------------------------------------------------

def test_api_search_facets_filter_and_paging(site):
    with site.client("viewer") as c:
        everything = c.get("/api/search", params={"size": 100}).json()
        assert everything["total"] == len(flagged_ids(site))
        category, count = next(iter(everything["facets"]["category"].items()))
        narrowed = c.get("/api/search", params={"category": category, "size": 100}).json()
        assert narrowed["total"] == count and all(category in i["labels"] for i in narrowed["items"])
        source, count = next(iter(everything["facets"]["source"].items()))
        assert c.get("/api/search", params={"source": source}).json()["total"] == count
        pages = [c.get("/api/search", params={"size": 10, "page": p}).json()["items"] for p in (1, 2, 3, 4, 5)]
        ids = [i["id"] for page in pages for i in page]
        assert len(ids) == len(set(ids)) == everything["total"]
        by_score = c.get("/api/search", params={"sort": "score", "size": 100}).json()["items"]
        assert [i["score"] for i in by_score] == sorted((i["score"] for i in by_score), reverse=True)
        text = c.get("/api/search", params={"q": "代孕"}).json()
        assert text["total"] > 0 and all("【" in i["highlight"] for i in text["items"])


@pytest.mark.parametrize("params, field", [
    ({"size": 0}, "size"), ({"size": 1000}, "size"), ({"page": 0}, "page"), ({"status": "approved"}, "status"),
    ({"category": "weapons"}, "category"), ({"since": "last week"}, "since"), ({"sort": "random"}, "sort"),
    ({"since": "2026-11-20", "until": "2026-11-01"}, "until"), ({"q": "代" * 300}, "q"),
])
def test_api_search_validation_names_the_field(site, params, field):
    with site.client("viewer") as c:
        answer = c.get("/api/search", params=params)
    assert answer.status_code == 422
    assert field in [e["field"] for e in answer.json()["detail"]]


@pytest.mark.parametrize("q", ['"', '代孕"', "代孕 OR (", "NEAR(a b", "*", "a:b", "^代孕", "代孕 AND NOT", "'; DROP TABLE items; --",
                               "\\", "%", "{col}:x", "-代孕"])
def test_query_syntax_from_users_is_never_a_500(site, q):
    with site.client("viewer") as c:
        api = c.get("/api/search", params={"q": q})
        page = c.get("/", params={"q": q})
    assert api.status_code == 200 and "total" in api.json()
    assert page.status_code == 200 and "共" in page.text


def test_search_page_facets_highlight_and_bad_dates(site):
    with site.client("viewer") as c:
        page = c.get("/", params={"q": "代孕"})
        assert page.status_code == 200 and "<mark>代孕</mark>" in page.text
        total = int(re.search(r'id="total">(\d+)<', page.text)[1])
        assert total == c.get("/api/search", params={"q": "代孕"}).json()["total"]
        link = re.search(r'href="(\?q=%E4%BB%A3%E5%AD%95&amp;category=[a-z_]+)"', page.text)[1].replace("&amp;", "&")
        narrowed = c.get("/" + link)
        assert narrowed.status_code == 200 and "已选条件" in narrowed.text
        first = c.get("/", params={"size": 10})
        next_link = re.search(r'href="(\?size=10&amp;page=2)" rel="next"', first.text)[1].replace("&amp;", "&")
        second = c.get("/" + next_link)
        ids = lambda html: re.findall(r'href="/items/([0-9a-f]+)"', html)  # noqa: E731
        assert ids(second.text) and not set(ids(first.text)) & set(ids(second.text))
        assert "<strong>2</strong>" in second.text
        bad = c.get("/", params={"since": "2026-13-45"})
        assert bad.status_code == 400 and "日期格式" in bad.text
        day = next(iter(c.get("/api/search").json()["facets"]["day"]))
        by_day = c.get("/", params={"day": day})
        assert int(re.search(r'id="total">(\d+)<', by_day.text)[1]) == c.get("/api/search").json()["facets"]["day"][day]


def test_csv_and_xlsx_exports_hold_the_result_list(site):
    with site.client("viewer") as c:
        total = c.get("/api/search", params={"q": "代孕"}).json()["total"]
        answer = c.get("/search.csv", params={"q": "代孕"})
        assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["编号", "标题", "网址"] and len(rows) == total + 1
        book = load_workbook(io.BytesIO(c.get("/search.xlsx", params={"q": "代孕"}).content))
        sheet = book.active
        assert sheet.max_row == total + 1 and sheet.cell(1, 2).value == "标题"


def test_saved_searches(site):
    client, csrf = site.session("viewer")
    answer = client.post("/searches", data={"csrf": csrf, "name": "代孕-论坛", "params": "?q=代孕&source=demo-forum"})
    assert answer.status_code == 303
    page = client.get("/")
    assert "代孕-论坛" in page.text
    search_id = re.search(r'action="/searches/(\d+)/delete"', page.text)[1]
    assert client.post(f"/searches/{search_id}/delete", data={"csrf": csrf}).status_code == 303
    assert "代孕-论坛" not in client.get("/").text
    # Saved searches are per user.
    other, csrf2 = site.session("rev")
    other.post("/searches", data={"csrf": csrf2, "name": "审核员的检索", "params": "?q=供卵"})
    assert "审核员的检索" not in client.get("/").text


# -- items and review ------------------------------------------------------------------------

def test_item_page_shows_hits_contacts_evidence_and_related(site):
    item_id = next(i for i in flagged_ids(site, "demo-classifieds") if json.loads(site.items[i]["contacts"] or "{}"))
    with site.client("viewer") as c:
        item = c.get(f"/api/items/{item_id}").json()
        page = c.get(f"/items/{item_id}").text
        assert f'<code id="item-url">{item["url"]}</code>' in page
        assert f'href="{item["url"]}"' not in page  # the live ad is not a link
        for hit in item["hits"]:
            assert hit["rule"] in page
        assert page.count("<mark") >= len({(h["start"], h["end"]) for h in item["hits"]})
        for f in item["evidence"]["files"]:
            assert f["sha256"] in page
        assert '<iframe class="capture" sandbox=""' in page and "screenshot.png" in page
        shot = c.get(f"/items/{item_id}/files/screenshot.png")
        assert shot.status_code == 200 and shot.content[:8] == b"\x89PNG\r\n\x1a\n"
        rendered = c.get(f"/items/{item_id}/files/rendered.html", params={"view": 1})
        csp = rendered.headers["content-security-policy"]
        assert rendered.headers["content-type"].startswith("text/html")
        assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
        raw = c.get(f"/items/{item_id}/files/response.html")
        assert raw.headers["content-type"] == "application/octet-stream" and "attachment" in raw.headers["content-disposition"]
        assert c.get(f"/items/{item_id}/files/..%2F..%2Frw.db").status_code == 404
        assert c.get("/items/does-not-exist").status_code == 404
        assert c.get("/api/items/does-not-exist").status_code == 404
    contacts = [v for values in item["contacts"].values() for v in values]
    sharing = [i for i in site.items.values() if i["id"] != item_id and
               any(v in (i["contacts"] or "") for v in contacts)]
    if sharing:
        assert any(f'/items/{o["id"]}"' in page for o in sharing)


def test_review_through_the_api(site):
    item = flagged_ids(site, "demo-portal")[0]
    with site.client("rev") as c:
        assert c.post(f"/api/items/{item}/review", json={"status": "removed"}).status_code == 409
        missing_note = c.post(f"/api/items/{item}/review", json={"status": "dismissed", "note": "  "})
        assert missing_note.status_code == 422 and missing_note.json()["detail"][0]["field"] == "note"
        bad = c.post(f"/api/items/{item}/review", json={"status": "approved"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "status"
        assert c.post("/api/items/nope/review", json={"status": "confirmed"}).status_code == 404
        done = c.post(f"/api/items/{item}/review", json={"status": "confirmed", "note": "核实"})
        assert done.status_code == 200 and done.json()["status"] == "confirmed"
        assert done.json()["history"][-1]["user"] == "rev"
        assert c.post(f"/api/items/{item}/review", json={"status": "notice_sent"}).status_code == 200
        assert c.get(f"/api/items/{item}").json()["status"] == "notice_sent"
    reviews = [e for e in audit_entries(site) if e["kind"] == "review" and e["target"] == item]
    assert [(e["previous"], e["status"], e["actor"]) for e in reviews] == [("new", "confirmed", "rev"),
                                                                            ("confirmed", "notice_sent", "rev")]


def test_review_forms_notes_and_bulk(site):
    client, csrf = site.session("rev")
    ids = flagged_ids(site, "demo-forum")[1:5]
    refused = client.post(f"/items/{ids[0]}/review", data={"csrf": csrf, "status": "dismissed", "note": ""})
    assert refused.status_code == 303 and "msg=note_required" in refused.headers["location"]
    assert client.get(f"/api/items/{ids[0]}").json()["status"] == "new"
    client.post(f"/items/{ids[0]}/notes", data={"csrf": csrf, "text": "电话已核实为空号"})
    assert client.get(f"/api/items/{ids[0]}").json()["notes"][-1]["text"] == "电话已核实为空号"
    assert "电话已核实为空号" in client.get(f"/items/{ids[0]}").text
    client.post(f"/items/{ids[1]}/review", data={"csrf": csrf, "status": "confirmed"})
    bulk = client.post("/review/bulk", data={"csrf": csrf, "status": "dismissed", "note": "批量排除：演示数据",
                                             "ids": ids, "next": "/queue"})
    # ids[1] is confirmed → dismissed is allowed too; all four move.
    assert bulk.status_code == 303 and "bulk_ok=4" in bulk.headers["location"]
    again = client.post("/review/bulk", data={"csrf": csrf, "status": "notice_sent", "ids": ids, "next": "/queue"})
    assert "bulk_ok=0" in again.headers["location"] and "bulk_refused=4" in again.headers["location"]
    page = client.get(again.headers["location"])
    assert "4 条因不符合审核流程被拒绝" in page.text
    for i in ids:
        assert client.get(f"/api/items/{i}").json()["status"] == "dismissed"


def test_queue_is_new_flagged_oldest_first(site):
    with site.client("viewer") as c:
        page = c.get("/queue").text
        shown = re.findall(r'data-id="([0-9a-f]+)"', page)
        total = int(re.search(r"待审核 (\d+) 条", page)[1])
        stats = c.get("/api/stats").json()["stats"]
    assert total == stats["status"]["new"] and shown
    import sqlite3

    db = sqlite3.connect(site.data / "rw.db")
    expected = [r[0] for r in db.execute("SELECT id FROM items WHERE flagged = 1 AND status = 'new' "
                                         "ORDER BY first_seen, id LIMIT 20")]
    db.close()
    assert shown == expected


def test_review_command(site):
    item = flagged_ids(site, "demo-classifieds")[-1]
    assert site.run("review", item, "--status", "removed").returncode == 1
    no_note = site.run("review", item, "--status", "dismissed")
    assert no_note.returncode == 2 and "--note" in no_note.stderr
    assert site.run("review", "nope", "--status", "confirmed").returncode == 2
    done = site.run("review", item, "--status", "confirmed", "--note", "命令行确认", "--user", "张三", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "confirmed"


# -- export ------------------------------------------------------------------------------------

def test_export_package_downloads_and_verifies(site, tmp_path):
    ids = flagged_ids(site, "demo-classifieds")[:2]
    with site.client("rev") as c:
        answer = c.post("/api/export", json={"ids": ids, "operators": ["张三", "李四"], "case": "网页导出", "pdf": False})
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
        assert c.post("/api/export", json={"ids": ["nope"], "operators": ["张三", "李四"]}).status_code == 404
        one = c.post("/api/export", json={"ids": ids[:1], "operators": ["张三"], "pdf": False})
        assert one.status_code == 422 and "operator" in one.text
        assert c.post("/api/export", json={"ids": []}).status_code == 422
    out = tmp_path / "web.zip"
    out.write_bytes(answer.content)
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert sorted(i["id"] for i in manifest["items"]) == sorted(ids) and manifest["case"] == "网页导出"
    verified = site.run("verify", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    export = [e for e in audit_entries(site) if e["kind"] == "export"][-1]
    assert export["actor"] == "rev" and export["ip"] == "127.0.0.1" and sorted(export["items"]) == sorted(ids)
    assert not list(site.data.glob("rw-export-*/*.zip"))  # the temporary copy is gone


# -- contacts, dashboard, audit ----------------------------------------------------------------

def test_contacts_and_stats(site):
    with site.client("viewer") as c:
        rows = c.get("/api/contacts").json()["contacts"]
        assert rows and all(r["kind"] in ("phones", "wechat", "qq") for r in rows)
        assert [r["items"] for r in rows] == sorted((r["items"] for r in rows), reverse=True)
        top = rows[0]
        found = c.get("/api/search", params={"contact": top["value"]}).json()
        assert found["total"] == top["items"]
        wechat = c.get("/api/contacts", params={"kind": "wechat"}).json()["contacts"]
        assert wechat and all(r["kind"] == "wechat" for r in wechat)
        assert c.get("/api/contacts", params={"kind": "fax"}).status_code == 422
        page = c.get("/contacts", params={"kind": "phones"}).text
        assert all(r["value"] in page for r in rows if r["kind"] == "phones")
        stats = c.get("/api/stats").json()
        assert stats["stats"]["flagged"] == len(flagged_ids(site))
        assert stats["stats"]["new_flagged"] == len(flagged_ids(site))  # crawled today
        assert {r["source"] for r in stats["runs"]} == {"demo-classifieds", "demo-forum", "demo-portal"}
        dashboard = c.get("/dashboard").text
        assert "今日新标记" in dashboard and "demo-forum" in dashboard


def test_audit_log_records_and_chains(site):
    with site.client("viewer") as c:
        c.get("/api/search", params={"q": "供卵"})
        c.get(f"/items/{flagged_ids(site)[0]}")
    entries = audit_entries(site)
    kinds = {e["kind"] for e in entries}
    assert {"capture", "search", "view", "login", "login_failed", "user"} <= kinds
    search = [e for e in entries if e["kind"] == "search" and e.get("target") == "供卵"][-1]
    assert search["actor"] == "viewer" and search["ip"] == "127.0.0.1" and search["at"].endswith("Z")
    view = [e for e in entries if e["kind"] == "view"][-1]
    assert view["item"] == flagged_ids(site)[0] and view["via"] == "web"
    assert site.run("audit", "--verify").returncode == 0
    with site.client("admin") as admin:
        page = admin.get("/audit", params={"kind": "search", "target": "供卵"})
        assert page.status_code == 200 and "哈希链完整" in page.text and "供卵" in page.text
        assert "<td>登录失败</td>" not in page.text and "<td>检索</td>" in page.text  # filtered to searches
        assert admin.get("/audit", params={"since": "yesterday"}).status_code == 400


# -- security --------------------------------------------------------------------------------

def test_security_headers(site):
    with site.client("viewer") as c:
        for path in ("/", "/api/search", "/login"):
            headers = c.get(path).headers
            assert headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert "script-src 'self'" in headers["content-security-policy"]
            assert "unsafe-inline" not in headers["content-security-policy"].split("style-src")[0]


def test_injection_payloads_come_back_as_text(site):
    payloads = payload_items(site)
    assert len(payloads) >= 3
    with site.client("admin") as c:
        page = c.get("/", params={"all": "1", "q": "alert", "size": 100})
        assert page.status_code == 200 and int(re.search(r'id="total">(\d+)<', page.text)[1]) >= 3
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        for item in payloads:
            html = c.get(f"/items/{item['id']}").text
            assert "<script>alert" not in html and "<img src=x onerror" not in html
            assert "&lt;script&gt;" in html or "onerror=alert" in html or "javascript:alert" in html
        body = "\n".join(c.get("/", params={"all": "1", "q": q}).text for q in ("script", "onerror", "javascript"))
        assert "<script>alert" not in body and "<img src=x" not in body
        c.get("/", params={"q": "<script>alert(2)</script>"})
        audit = c.get("/audit", params={"kind": "search"}).text
        assert "<script>alert(2)" not in audit and "&lt;script&gt;alert(2)" in audit
        csv_text = c.get("/search.csv", params={"all": "1", "q": "alert"}).content.decode("utf-8-sig")
        assert "<script>alert(1)</script>" in csv_text  # data, as captured; CSV is not HTML


def test_spreadsheet_formulas_from_crawled_text_are_defused(site):
    from search.sqlite_store import SQLiteStore

    store = SQLiteStore(site.data / "rw.db")
    store.upsert({"id": "formula1", "url": "http://x.example.cn/1", "title": '=HYPERLINK("http://evil.example.cn","点我")',
                  "text": "@SUM(1+1) 代孕", "labels": ["surrogacy"], "score": 0.9, "source": "test", "site": "x.example.cn"})
    store.close()
    with site.client("viewer") as c:
        rows = list(csv.reader(io.StringIO(c.get("/search.csv", params={"source": "test"}).content.decode("utf-8-sig"))))
        sheet = load_workbook(io.BytesIO(c.get("/search.xlsx", params={"source": "test"}).content)).active
    assert rows[1][1].startswith("'=HYPERLINK")
    assert sheet.cell(2, 2).value.startswith("'=HYPERLINK") and sheet.cell(2, 2).data_type == "s"


def test_request_size_limits(site):
    client, csrf = site.session("rev")
    item = flagged_ids(site)[0]
    big = client.post(f"/items/{item}/notes", data={"csrf": csrf, "text": "x" * (2 << 20)})
    assert big.status_code == 413
    chunked = client.post(f"/items/{item}/notes", content=iter([b"text=" + b"x" * (1 << 19)] * 4),
                          headers={"content-type": "application/x-www-form-urlencoded", "x-csrf-token": csrf})
    assert chunked.status_code == 413
    assert client.get("/?q=" + "a" * 10000).status_code == 414
    long_note = client.post(f"/items/{item}/notes", data={"csrf": csrf, "text": "x" * 3000})
    assert long_note.status_code == 422


def test_openapi_docs_are_served_offline(site):
    with site.client("viewer") as c:
        spec = c.get("/openapi.json").json()
        docs = c.get("/docs").text
    assert {"/api/search", "/api/items/{item_id}", "/api/items/{item_id}/review", "/api/export", "/api/contacts",
            "/api/stats"} <= set(spec["paths"])
    assert "/api/search" in docs and "cdn" not in docs.lower() and "<script src=\"/static/app.js\"" in docs


def test_admin_manages_accounts_in_the_browser_ui(site):
    client, csrf = site.session("admin")
    assert client.post("/users", data={"csrf": csrf, "name": "网页新建", "role": "viewer",
                                       "password": "web-made-pass"}).status_code == 303
    page = client.get("/users").text
    assert "网页新建" in page and "查看员" in page
    bad = client.post("/users", data={"csrf": csrf, "name": "网页新建", "role": "viewer", "password": "x"})
    assert "error=bad" in bad.headers["location"]
    with httpx.Client(base_url=site.url, auth=("网页新建", "web-made-pass")) as newcomer:
        assert newcomer.get("/api/stats").status_code == 200
        assert client.post("/users/网页新建/disable", data={"csrf": csrf}).status_code == 303
        assert newcomer.get("/api/stats").status_code == 401
    assert "error=self" in client.post("/users/admin/disable", data={"csrf": csrf}).headers["location"]
    changes = [(e["action"], e["actor"]) for e in audit_entries(site) if e["kind"] == "user" and e["target"] == "网页新建"]
    assert changes == [("add", "admin"), ("disable", "admin")]
    with site.client("rev") as rev:
        assert rev.get("/users").status_code == 403
