"""Evidence for real: the demo web on 127.0.0.1, the `reprowatch` CLI, Chromium, SQLite.

One crawl for the module (a list page of the classifieds site with its posts and the four-hop
redirect chain, plus the first page of the app API, whose items are captured live from their
share pages) captures evidence of every flagged item; one export packages some of them. The
tests then check the captures, the package, `verify` and `verify.py` against each kind of
tampering, the documents, and the custody log.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, local_server, rewrite_ports, run_crawl
from evidence import custody
from evidence.capture import Renderer, capture, find_icp
from evidence.verify import canonical_manifest, check
from evidence.viewer import marked_text
from test_store_contract import PlainJsonNode, elasticsearch  # noqa: F401 — the fixture, shared

OPERATORS = ["--operator", "张三", "--operator", "李四"]


@pytest.fixture(scope="module")
def env(web, cli_bin, tmp_path_factory):
    """A crawl with evidence capture into a data folder of its own; returns paths and items."""
    data = tmp_path_factory.mktemp("evidence-data")
    sources = tmp_path_factory.mktemp("evidence-sources")
    base = web.urls["classifieds"]
    (sources / "ev-classifieds.yaml").write_text(
        "name: ev-classifieds\ntype: html\nrender: static\n"
        f"start_urls: ['{base}/list/services', '{base}/post/100.html']\n"
        "allowed_domains: [127.0.0.1]\nfollow: []\nitems: ['/post/\\d+\\.html']\n"
        "selectors: {title: h1.title, text: div.content, contact: div.contact, published: div.meta .time}\n"
        "max_pages: 40\nobey_robots: true\n", encoding="utf-8")
    app = rewrite_ports((ROOT / "sources" / "demo-app.yaml").read_text(encoding="utf-8"), web.urls)
    (sources / "demo-app.yaml").write_text(app.replace("max_pages: 100", "max_pages: 1"), encoding="utf-8")
    store = f"sqlite:///{data}/rw.db"
    environ = dict(os.environ, REPROWATCH_DATA=str(data))
    proc = run_crawl(cli_bin, sources, data, "ev-classifieds", "demo-app")
    assert proc.returncode == 0, proc.stderr[-2000:]
    db = sqlite3.connect(data / "rw.db")
    db.row_factory = sqlite3.Row
    items = {r["id"]: dict(r) for r in db.execute("select * from items")}
    db.close()
    for item in items.values():
        item["evidence"] = json.loads(item["evidence"] or "{}")
    return {"data": data, "store": store, "env": environ, "items": items, "cli": cli_bin, "web": web}


def run(env, *args, **kw):
    return subprocess.run([env["cli"], "--store", env["store"], *args], capture_output=True, text=True,
                          env=env["env"], timeout=120, **kw)


def flagged(env, source=None):
    return [i for i in env["items"].values() if i["flagged"] and (source is None or i["source"] == source)]


def capture_dir(env, item) -> Path:
    return env["data"] / item["evidence"]["dir"]


@pytest.fixture(scope="module")
def package(env, tmp_path_factory):
    """One exported package of three classifieds items and one app item."""
    chosen = flagged(env, "ev-classifieds")[:3] + flagged(env, "demo-app")[:1]
    out = tmp_path_factory.mktemp("pkg") / "package.zip"
    proc = run(env, "export", *[i["id"] for i in chosen], "--out", str(out), "--case", "测试案件", *OPERATORS, "--json")
    assert proc.returncode == 0, proc.stderr
    return {"path": out, "items": chosen, "result": json.loads(proc.stdout)}


# -- capture ------------------------------------------------------------------------------

def test_every_flagged_item_has_a_capture_and_others_none(env):
    ads = flagged(env)
    assert len(flagged(env, "ev-classifieds")) >= 3 and flagged(env, "demo-app")
    for item in ads:
        folder = capture_dir(env, item)
        names = {Path(f["path"]).name for f in item["evidence"]["files"]}
        assert {"response.html", "rendered.html", "screenshot.png", "capture.warc.gz", "text.txt",
                "verdict.json", "meta.json"} <= names, (item["url"], names)
        for f in item["evidence"]["files"]:
            body = (env["data"] / f["path"]).read_bytes()
            assert len(body) == f["size"]
            assert __import__("hashlib").sha256(body).hexdigest() == f["sha256"]
        assert folder.parent.name == item["id"]
    assert all(not i["evidence"] for i in env["items"].values() if not i["flagged"])
    # The raw response the spider hands over is never stored.
    assert not any("_response" in (i["extra"] or "") for i in env["items"].values())


def test_response_is_the_bytes_served_and_meta_has_the_facts(env):
    base = env["web"].urls["classifieds"]
    item = next(i for i in flagged(env, "ev-classifieds") if i["url"].endswith("/post/64.html"))
    folder = capture_dir(env, item)
    with urllib.request.urlopen(item["url"]) as answer:
        assert (folder / "response.html").read_bytes() == answer.read()
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["requested_url"] == f"{base}/post/100.html"
    assert meta["final_url"] == f"{base}/post/64.html"
    assert [h["status"] for h in meta["redirects"]] == [301, 302, 307, 302]
    assert meta["http_status"] == 200 and meta["server_ip"] == "127.0.0.1"
    assert meta["dns_answers"] == {"127.0.0.1": ["127.0.0.1"]}
    assert meta["tls_certificate"] is None  # plain http
    assert meta["capture_start"]["utc"].endswith("Z") and meta["capture_start"]["beijing"].endswith("+08:00")
    assert meta["capture_start"]["utc"] <= meta["capture_end"]["utc"]
    assert meta["host"]["hostname"] and meta["clock"]["clocksource"] is not None
    assert meta["versions"]["chromium"] and meta["versions"]["scrapy"] and meta["versions"]["python"]
    assert meta["source"] == "ev-classifieds" and meta["icp"] == []
    assert meta["browser"]["served_from"] == "crawler response" and meta["browser"]["error"] is None
    verdict = json.loads((folder / "verdict.json").read_text(encoding="utf-8"))
    text = (folder / "text.txt").read_text(encoding="utf-8")
    assert verdict["flagged"] and all(text[h["start"]:h["end"]] == h["text"] for h in verdict["hits"])


def test_api_items_are_captured_live_from_their_share_page(env):
    item = flagged(env, "demo-app")[0]
    folder = capture_dir(env, item)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["browser"]["served_from"] == "live" and meta["browser"]["page_url"] == item["url"]
    assert json.loads((folder / "api-response.json").read_bytes())["data"]["items"]
    assert item["title"] in (folder / "rendered.html").read_text(encoding="utf-8")


def test_screenshot_is_a_real_png_of_the_page(env):
    from PIL import Image

    item = next(i for i in flagged(env, "ev-classifieds") if i["url"].endswith("/post/64.html"))
    folder = capture_dir(env, item)
    shot = Image.open(folder / "screenshot.png")
    assert shot.format == "PNG" and shot.width == 1280 and shot.height >= 900
    # Text was drawn: many dark pixels, not a blank page (the CJK glyphs were looked at by eye).
    dark = sum(shot.convert("L").histogram()[:100])
    assert dark > 2000
    assert item["title"] in (folder / "rendered.html").read_text(encoding="utf-8")


def test_warc_is_readable_by_warcio(env):
    from warcio.archiveiterator import ArchiveIterator

    item = flagged(env, "ev-classifieds")[0]
    folder = capture_dir(env, item)
    with open(folder / "capture.warc.gz", "rb") as fh:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
                   for r in ArchiveIterator(fh)]
    kinds = [r[0] for r in records]
    assert kinds == ["warcinfo", "request", "response", "resource"]
    response = records[2]
    assert response[2] == (folder / "response.html").read_bytes()
    assert records[3][1].startswith("urn:rendered-dom:") and records[3][2] == (folder / "rendered.html").read_bytes()
    check_warc = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", str(folder / "capture.warc.gz")],
                                capture_output=True, text=True)
    assert check_warc.returncode == 0, check_warc.stdout + check_warc.stderr


def test_missing_chromium_is_recorded_not_fatal(env, tmp_path):
    item = dict(flagged(env, "ev-classifieds")[0])
    item["id"] = "nochromium000001"
    body = (capture_dir(env, flagged(env, "ev-classifieds")[0]) / "response.html").read_bytes()
    crawler = {"kind": "document", "url": item["url"], "status": 200, "body": body,
               "headers": [("Content-Type", "text/html; charset=utf-8")], "redirects": []}
    item["hits"] = json.loads(item["hits"])

    async def go():
        renderer = Renderer(executable=str(tmp_path / "no-chromium"))
        try:
            return await capture(item, crawler, renderer, tmp_path, source="t")
        finally:
            await renderer.close()

    evidence = asyncio.run(go())
    names = {Path(f["path"]).name for f in evidence["files"]}
    assert "screenshot.png" not in names and {"response.html", "capture.warc.gz", "meta.json"} <= names
    meta = json.loads((tmp_path / evidence["dir"] / "meta.json").read_text(encoding="utf-8"))
    assert "not found" in meta["browser"]["error"]


def test_a_browser_rendered_dom_is_shown_without_asking_the_site_again(web, tmp_path):
    base = web.urls["jsapp"]
    with urllib.request.urlopen(base + "/") as answer:
        shell = answer.read()
    assert b"<script" in shell
    item = {"id": "browserdom000001", "url": base + "/#/item/1", "text": "代孕", "title": "t", "flagged": True,
            "labels": ["surrogacy"], "hits": [], "contacts": {}}
    crawler = {"kind": "browser", "url": base + "/", "status": 200, "body": shell,
               "headers": [("content-type", "text/html; charset=utf-8")], "redirects": []}
    before = len(web.requests)

    async def go():
        renderer = Renderer()
        try:
            return await capture(item, crawler, renderer, tmp_path, source="t")
        finally:
            await renderer.close()

    evidence = asyncio.run(go())
    asked = [r.path for r in web.requests.snapshot()[before:] if r.site == "jsapp"]
    assert not [p for p in asked if p.endswith(".js") or p.startswith("/api/")], asked
    meta = json.loads((tmp_path / evidence["dir"] / "meta.json").read_text(encoding="utf-8"))
    assert meta["browser"]["served_from"] == "crawler DOM, scripts off"
    assert (tmp_path / evidence["dir"] / "response.html").read_bytes() == shell


def test_evidence_commands_have_help(cli_bin):
    for command in ("export", "verify", "audit"):
        proc = subprocess.run([cli_bin, command, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "Usage" in proc.stdout


def test_icp_numbers_are_found():
    page = "<footer>备案号：<a href='#'>京ICP备12345678号-1</a> 粤ICP证B2-20090059号</footer>"
    assert find_icp(page) == ["京ICP备12345678号-1", "粤ICP证B2-20090059号"]


# -- export and verify --------------------------------------------------------------------

def test_package_layout_and_manifest(package):
    with zipfile.ZipFile(package["path"]) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    for item in package["items"]:
        for name in ("response.html", "rendered.html", "screenshot.png", "capture.warc.gz", "text.txt",
                     "verdict.json", "meta.json"):
            assert f"items/{item['id']}/{name}" in names
    assert {"提取笔录.docx", "提取笔录.pdf", "处置通知.docx", "index.html", "verify.py"} <= names
    assert {f["path"] for f in manifest["files"]} == names - {"manifest.json"}
    assert manifest["operators"] == ["张三", "李四"] and manifest["case"] == "测试案件"
    assert manifest["created"]["beijing"].endswith("+08:00") and manifest["tool"]["version"]
    assert manifest["public_key"]["fingerprint"] == package["result"]["fingerprint"]


def test_verify_passes_untouched_with_cli_and_stdlib_verify_py(env, package, tmp_path):
    proc = run(env, "verify", str(package["path"]))
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr
    folder = tmp_path / "x"
    with zipfile.ZipFile(package["path"]) as zf:
        zf.extractall(folder)
    # Debian's own python3, without our virtualenv: the standard library only.
    system_python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    for args in ([str(folder / "verify.py")], [str(folder / "verify.py"), str(package["path"])]):
        proc = subprocess.run([system_python, "-I", *args], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # Without the cryptography package the signature is still checked (RFC 8032 arithmetic).
    no_crypto = ("import sys; sys.modules['cryptography'] = None; sys.argv = ['verify.py']; "
                 f"exec(compile(open({str(folder / 'verify.py')!r}, encoding='utf-8').read(), 'verify.py', 'exec'), "
                 "{'__name__': '__main__', '__file__': " + repr(str(folder / "verify.py")) + "})")
    proc = subprocess.run([system_python, "-I", "-c", no_crypto], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stdout + proc.stderr


def test_stdlib_ed25519_agrees_with_cryptography():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evidence.keys import public_raw
    from evidence.verify import _ed25519_reference

    key = Ed25519PrivateKey.generate()
    message = "证据包清单".encode() * 50
    signature = key.sign(message)
    assert _ed25519_reference(public_raw(key), message, signature)
    assert not _ed25519_reference(public_raw(key), message + b"x", signature)
    assert not _ed25519_reference(public_raw(key), message, _flip(signature))
    assert not _ed25519_reference(public_raw(Ed25519PrivateKey.generate()), message, signature)


def _rewrite(src: Path, dst: Path, change) -> None:
    """Copy a package, letting ``change(members)`` edit the {name: bytes} dict."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    with zipfile.ZipFile(dst, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)


def _flip(body: bytes) -> bytes:
    i = len(body) // 2
    return body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]


def _both(env, path: Path, fingerprint: str):
    """(reprowatch verify, verify.py) as (exit code, report)."""
    cli = run(env, "verify", "--json", str(path))
    verifier = Path(path).parent / "verify_from_package.py"
    with zipfile.ZipFile(path) as zf:
        if "verify.py" in zf.namelist():
            verifier.write_bytes(zf.read("verify.py"))
    script = subprocess.run([sys.executable, str(verifier), "--json", "--fingerprint", fingerprint, str(path)],
                            capture_output=True, text=True)
    parse = lambda p: json.loads(p.stdout) if p.stdout.strip().startswith("{") else None  # noqa: E731
    return (cli.returncode, parse(cli)), (script.returncode, parse(script))


def test_one_flipped_byte_in_any_file_fails(env, package, tmp_path):
    fp = package["result"]["fingerprint"]
    with zipfile.ZipFile(package["path"]) as zf:
        names = [n for n in zf.namelist() if n != "manifest.json"]
    trusted = [fp]
    for name in names:  # every file, in-process (the same code verify.py runs)
        bad = tmp_path / "flip.zip"
        _rewrite(package["path"], bad, lambda m: m.__setitem__(name, _flip(m[name])))
        report = check(str(bad), trusted)
        assert not report["ok"] and [a["path"] for a in report["altered"]] == [name], name
    # A capture file and a document through both command lines: same verdict, same file named.
    for name in (names[0], "提取笔录.docx"):
        bad = tmp_path / "flip2.zip"
        _rewrite(package["path"], bad, lambda m: m.__setitem__(name, _flip(m[name])))
        (cli_rc, cli), (py_rc, py) = _both(env, bad, fp)
        assert cli_rc == py_rc == 1
        assert [a["path"] for a in cli["altered"]] == [a["path"] for a in py["altered"]] == [name]


def test_added_and_removed_files_fail(env, package, tmp_path):
    fp = package["result"]["fingerprint"]
    added = tmp_path / "added.zip"
    _rewrite(package["path"], added, lambda m: m.__setitem__("items/extra.txt", b"planted"))
    (cli_rc, cli), (py_rc, py) = _both(env, added, fp)
    assert cli_rc == py_rc == 1 and cli["extra"] == py["extra"] == ["items/extra.txt"]
    removed = tmp_path / "removed.zip"
    victim = f"items/{package['items'][0]['id']}/screenshot.png"
    _rewrite(package["path"], removed, lambda m: m.pop(victim))
    (cli_rc, cli), (py_rc, py) = _both(env, removed, fp)
    assert cli_rc == py_rc == 1 and cli["missing"] == py["missing"] == [victim]
    proc = run(env, "verify", str(removed))
    assert "缺失 missing: " + victim in proc.stdout


def test_manifest_signed_with_another_key_fails(env, package, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from evidence.keys import fingerprint, public_raw

    other = Ed25519PrivateKey.generate()

    def resign(members):
        manifest = json.loads(members["manifest.json"])
        manifest["case"] = "改过的案件"
        raw = public_raw(other)
        manifest["public_key"] = {"algorithm": "Ed25519", "key": base64.b64encode(raw).decode(),
                                  "fingerprint": fingerprint(raw)}
        manifest["signature"]["value"] = base64.b64encode(other.sign(canonical_manifest(manifest))).decode()
        members["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()

    bad = tmp_path / "resigned.zip"
    _rewrite(package["path"], bad, resign)
    (cli_rc, cli), (py_rc, py) = _both(env, bad, package["result"]["fingerprint"])
    assert cli_rc == py_rc == 1
    assert "not the issuer's key" in cli["signature"]["error"] and "not the issuer's key" in py["signature"]["error"]
    assert not cli["altered"] and not cli["missing"]

    # Edited after signing, same key: the signature no longer matches.
    def edit(members):
        manifest = json.loads(members["manifest.json"])
        manifest["case"] = "改过的案件"
        members["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()

    _rewrite(package["path"], bad, edit)
    (cli_rc, cli), (py_rc, py) = _both(env, bad, package["result"]["fingerprint"])
    assert cli_rc == py_rc == 1 and "altered after signing" in cli["signature"]["error"]


def test_not_a_package_exits_2(env, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    assert run(env, "verify", str(junk)).returncode == 2
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("hello.txt", "hi")
    proc = run(env, "verify", str(plain))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert run(env, "verify", str(tmp_path / "absent.zip")).returncode == 2


def test_documents_carry_every_url_and_hash(package):
    import pypdf
    from docx import Document

    with zipfile.ZipFile(package["path"]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        record = Document(io.BytesIO(zf.read("提取笔录.docx")))
        notice = Document(io.BytesIO(zf.read("处置通知.docx")))
        pdf = zf.read("提取笔录.pdf")
        index = zf.read("index.html").decode("utf-8")
        record_xml = zf.read("提取笔录.docx")

    def text_of(doc):
        parts = [p.text for p in doc.paragraphs]
        parts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
        return "\n".join(parts)

    record_text, notice_text = text_of(record), text_of(notice)
    assert pdf.startswith(b"%PDF")
    pdf_text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    item_files = [f for f in manifest["files"] if f["path"].startswith("items/")]
    for item in package["items"]:
        assert item["url"] in record_text and item["url"] in notice_text and item["url"] in index
        assert item["url"] in pdf_text and item["id"] in pdf_text
    for f in item_files:
        assert f["sha256"] in record_text, f["path"]
        assert f["sha256"] in index
        assert f["sha256"] in pdf_text, f["path"]
    assert "网络在线提取笔录" in pdf_text and "电子数据提取固定清单" in pdf_text and "张三、李四" in pdf_text
    assert "网络在线提取笔录" in record_text and "电子数据提取固定清单" in record_text
    assert package["result"]["fingerprint"][:4] in record_text and "张三、李四" in record_text
    assert "送 达 回 证" in notice_text and "《中华人民共和国网络安全法》第四十七条" in notice_text
    styles = zipfile.ZipFile(io.BytesIO(record_xml)).read("word/styles.xml").decode()
    assert 'w:eastAsia="宋体"' in styles and 'w:eastAsia="黑体"' in styles
    assert "<script" not in index.lower() and "Content-Security-Policy" in index and "<mark" in index


def test_index_escapes_crawled_text():
    text = "代孕<script>alert(1)</script>找我"
    out = marked_text(text, [{"start": 0, "end": 2, "rule": "r"}])
    assert out.startswith("<mark") and "<script>" not in out and "&lt;script&gt;" in out


def test_export_refuses_bad_input(env, tmp_path):
    item = flagged(env)[0]
    one = run(env, "export", item["id"], "--out", str(tmp_path / "a.zip"), "--operator", "张三")
    assert one.returncode == 2 and "operators" in one.stderr
    unknown = run(env, "export", "nosuchitem", "--out", str(tmp_path / "b.zip"), *OPERATORS)
    assert unknown.returncode == 2 and "nosuchitem" in unknown.stderr
    bare = next(i for i in env["items"].values() if not i["flagged"])
    proc = run(env, "export", bare["id"], "--out", str(tmp_path / "c.zip"), *OPERATORS)
    assert proc.returncode == 2 and "no evidence" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_export_refuses_evidence_changed_on_disk(env, tmp_path):
    item = flagged(env, "ev-classifieds")[-1]
    text = capture_dir(env, item) / "text.txt"
    original = text.read_bytes()
    try:
        text.write_bytes(original + b" ")
        proc = run(env, "export", item["id"], "--out", str(tmp_path / "d.zip"), *OPERATORS)
        assert proc.returncode == 1 and "no longer matches" in proc.stderr
        assert not list(tmp_path.iterdir())
    finally:
        text.write_bytes(original)


# -- custody ------------------------------------------------------------------------------

def test_custody_log_records_captures_and_exports_and_detects_tampering(env, package, tmp_path):
    proc = run(env, "audit", "--verify", "--json")
    assert proc.returncode == 0, proc.stderr
    log = json.loads(proc.stdout)
    kinds = [e["kind"] for e in log["entries"]]
    assert kinds.count("capture") == len(flagged(env)) and "export" in kinds
    export_entry = next(e for e in log["entries"] if e.get("package_id") == package["result"]["package_id"])
    assert export_entry["zip_sha256"] == package["result"]["sha256"]
    assert log["chain"]["ok"] and log["chain"]["count"] == len(log["entries"])

    # Tamper with a copy of the store: the log refuses changes, and the chain catches a forced one.
    db_path = tmp_path / "copy.db"
    shutil.copy(env["data"] / "rw.db", db_path)
    for suffix in ("-wal", "-shm"):
        if (env["data"] / f"rw.db{suffix}").exists():
            shutil.copy(env["data"] / f"rw.db{suffix}", tmp_path / f"copy.db{suffix}")
    db = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE custody SET doc = doc WHERE seq = 2")
    db.execute("DROP TRIGGER custody_no_update")
    doc = json.loads(db.execute("SELECT doc FROM custody WHERE seq = 2").fetchone()[0])
    doc["actor"] = "someone-else"
    db.execute("UPDATE custody SET doc = ? WHERE seq = 2", (custody.canonical(doc),))
    db.commit()
    db.close()
    copy_env = dict(env, store=f"sqlite:///{db_path}")
    proc = run(copy_env, "audit", "--verify")
    assert proc.returncode == 1 and "第 2 条" in proc.stderr and "altered" in proc.stderr

    # Re-hashing the altered entry only moves the break to the next link.
    db = sqlite3.connect(db_path)
    doc["hash"] = custody.entry_hash(doc)
    db.execute("UPDATE custody SET doc = ? WHERE seq = 2", (custody.canonical(doc),))
    db.commit()
    db.close()
    result = json.loads(run(copy_env, "audit", "--verify", "--json").stdout)["chain"]
    assert not result["ok"] and result["first_bad"] == 3


@pytest.mark.parametrize("backend", ["sqlite", "elasticsearch"])
def test_custody_chain_on_both_backends(backend, tmp_path, request):
    import uuid

    if backend == "sqlite":
        from search.sqlite_store import SQLiteStore

        store = SQLiteStore(tmp_path / "c.db")
    else:
        from search.es_store import ElasticsearchStore

        url, options = request.getfixturevalue("elasticsearch")
        store = ElasticsearchStore(url, prefix=f"test-{uuid.uuid4().hex[:12]}", **options)
    try:
        for i in range(5):
            custody.record(store, "view", item=f"item{i}", via="test")
        assert not store.custody_add(3, "{}")  # a taken place in the chain is refused
        entries = list(custody.entries(store))
        assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
        assert custody.check_chain(iter(entries)).ok
        assert entries[1]["prev"] == entries[0]["hash"]
    finally:
        if backend == "elasticsearch":
            store.client.indices.delete(index=[store.custody_index], ignore_unavailable=True)
        store.close()


# -- https ----------------------------------------------------------------------------------

def _self_signed(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1 (cert file, key file, DER bytes)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ads.example.test"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "某某测试网络科技有限公司")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file, cert.public_bytes(serialization.Encoding.DER)


def test_https_capture_records_the_servers_certificate(cli_bin, tmp_path):
    import hashlib
    import ssl

    cert_file, key_file, der = _self_signed(tmp_path)
    page = ("<html><head><title>助孕服务</title></head><body><h1>专业代孕包成功</h1>"
            "<div class='content'>正规代孕机构，代孕妈妈包生男孩，试管婴儿一条龙，加微信 dy_test_8899 详谈。</div>"
            "<p>ICP备案号：京ICP备12345678号</p></body></html>").encode("utf-8")

    def answer(handler):
        if handler.path == "/post/1.html":
            return 200, "text/html; charset=utf-8", page
        return 200, "text/plain", b"User-agent: *\n"

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = local_server(answer, context)
    try:
        base = server.url
        sources = tmp_path / "sources"
        sources.mkdir()
        (sources / "tls-site.yaml").write_text(
            f"name: tls-site\ntype: html\nrender: static\nstart_urls: ['{base}/post/1.html']\n"
            "allowed_domains: [127.0.0.1]\nfollow: []\nitems: ['/post/\\d+\\.html']\nmax_pages: 5\n", encoding="utf-8")
        data = tmp_path / "data"
        proc = run_crawl(cli_bin, sources, data, "tls-site")
        assert proc.returncode == 0, proc.stderr[-2000:]
    finally:
        server.shutdown()
    db = sqlite3.connect(data / "rw.db")
    (evidence,) = [json.loads(r[0]) for r in db.execute("select evidence from items where flagged")]
    meta = json.loads((data / evidence["dir"] / "meta.json").read_text(encoding="utf-8"))
    tls = meta["tls_certificate"]
    assert tls["sha256_fingerprint"] == hashlib.sha256(der).hexdigest()
    assert "CN=ads.example.test" in tls["subject"] and tls["subject"] == tls["issuer"]
    assert tls["source"] == "the crawler's TLS connection"
    assert tls["not_after"] > meta["capture_start"]["utc"] > tls["not_before"]
    assert meta["icp"] == ["京ICP备12345678号"] and meta["http_status"] == 200
    assert meta["server_ip"] == "127.0.0.1"
