"""The web UI in a real browser: Debian's Chromium driven by Playwright against `reprowatch
serve` over a store crawled from the demo sites. Officers' paths end to end — login, search,
facet, item, one-key review in the queue, bulk review, evidence export and `verify` — plus the
roles, and the injection payloads of the demo sites never running.

Screenshots of the main pages go to $REPROWATCH_SCREENSHOTS (default: a temporary folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from crawlers.settings import PLAYWRIGHT_LAUNCH_OPTIONS
from web_fixtures import PASSWORDS, crawled_site, payload_items, stop


@pytest.fixture(scope="module")
def site(web, cli_bin, tmp_path_factory):
    s = crawled_site(web, cli_bin, tmp_path_factory, "webui")
    yield s
    stop(s)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(**PLAYWRIGHT_LAUNCH_OPTIONS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("REPROWATCH_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Officer:
    """One logged-in browser context; every dialog any page opens is recorded (and dismissed)."""

    def __init__(self, browser, site, user: str):
        self.context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", accept_downloads=True,
                                           viewport={"width": 1366, "height": 900})
        self.dialogs: list[str] = []
        self.page = self.context.new_page()
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.site = site
        self.page.goto(site.url + "/")
        expect(self.page).to_have_url(re.compile(r"/login\?next="))
        self.page.fill("input[name=name]", user)
        self.page.fill("input[name=password]", PASSWORDS[user])
        self.page.click("button[type=submit]")
        expect(self.page.locator("header .who")).to_contain_text(user)

    def go(self, path: str):
        self.page.goto(self.site.url + path)
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture()
def officer(browser, site):
    made = []

    def login(user: str) -> Officer:
        o = Officer(browser, site, user)
        made.append(o)
        return o

    yield login
    for o in made:
        o.close()


def total(page) -> int:
    return int(page.locator("#total").inner_text())


def test_login_search_facet_and_item(officer, shots):
    o = officer("rev")
    page = o.page
    page.fill("input[name=q]", "代孕")
    page.press("input[name=q]", "Enter")
    expect(page.locator("ol.hits mark").first).to_have_text("代孕")
    before = total(page)
    assert before > 0
    page.screenshot(path=str(shots / "search.png"))
    facet = page.locator("section.facet[data-facet=source] li a").first
    count = int(page.locator("section.facet[data-facet=source] li .count").first.inner_text())
    facet.click()
    expect(page).to_have_url(re.compile(r"source="))
    assert total(page) == count <= before
    expect(page.locator("a.chip")).to_contain_text("来源")
    title = page.locator("ol.hits a.title").first
    name = title.inner_text()
    title.click()
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator("iframe.capture")).to_have_attribute("sandbox", "")
    assert page.locator("a[href^='http']").count() == 0  # the ad's URL is text, not a link
    page.click("button.copy")
    expect(page.locator("button.copy")).to_have_text("已复制")
    page.screenshot(path=str(shots / "item.png"), full_page=True)
    assert o.dialogs == []


def test_queue_one_key_confirm_dismiss_and_bulk(officer, site, shots):
    o = officer("rev")
    page = o.go("/queue")
    cards = page.locator("li.qcard")
    first, second = cards.nth(0).get_attribute("data-id"), cards.nth(1).get_attribute("data-id")
    page.screenshot(path=str(shots / "queue.png"))
    page.keyboard.press("c")
    expect(cards.nth(0).locator(".result")).to_have_text("已确认违法")
    # The focus moved on: "d" goes to the second card's note; Enter without one is refused.
    page.keyboard.press("d")
    page.keyboard.press("Enter")
    expect(cards.nth(1).locator(".result")).to_have_text("排除必须填写理由")
    page.keyboard.type("误报：正常育儿讨论")
    page.keyboard.press("Enter")
    expect(cards.nth(1).locator(".result")).to_have_text("已排除")
    page.keyboard.press("s")
    expect(cards.nth(2).locator(".result")).to_have_text("已跳过")
    with site.client("viewer") as api:
        one, two = api.get(f"/api/items/{first}").json(), api.get(f"/api/items/{second}").json()
        skipped = api.get(f"/api/items/{cards.nth(2).get_attribute('data-id')}").json()
    assert one["status"] == "confirmed" and one["history"][-1]["user"] == "rev"
    assert two["status"] == "dismissed" and two["history"][-1]["note"] == "误报：正常育儿讨论"
    assert skipped["status"] == "new"
    # Bulk: the page reloads without the two decided items; tick two and confirm both.
    page = o.go("/queue")
    ids = [page.locator("li.qcard").nth(i).get_attribute("data-id") for i in (0, 1)]
    assert first not in ids and second not in ids
    for i in (0, 1):
        page.locator("li.qcard").nth(i).locator("input[name=ids]").check()
    page.select_option("fieldset.bulk select[name=status]", "confirmed")
    page.click("fieldset.bulk button[type=submit]")
    expect(page.locator("p.flash")).to_contain_text("成功 2 条")
    with site.client("viewer") as api:
        assert all(api.get(f"/api/items/{i}").json()["status"] == "confirmed" for i in ids)
    assert o.dialogs == []


def test_item_page_review_and_note(officer, site):
    o = officer("rev")
    with site.client("viewer") as api:
        item = api.get("/api/search", params={"source": "demo-portal", "status": "new"}).json()["items"][0]
    page = o.go(f"/items/{item['id']}")
    page.select_option("form.review-form select[name=status]", "dismissed")
    page.click("form.review-form button[type=submit]")
    expect(page.locator("p.flash")).to_have_text("排除（误报）必须填写理由。")
    page.select_option("form.review-form select[name=status]", "confirmed")
    page.fill("form.review-form textarea[name=note]", "核实为非法代孕广告")
    page.click("form.review-form button[type=submit]")
    expect(page.locator(".review .status")).to_have_text("已确认")
    expect(page.locator("ol.history")).to_contain_text("核实为非法代孕广告")
    page.fill("textarea[name=text]", "已截图存档，待发通知")
    page.click("text=添加备注")
    expect(page.locator("ul.notes")).to_contain_text("已截图存档，待发通知")
    # confirmed → the next choices are the workflow's only.
    options = page.locator("form.review-form select[name=status] option").evaluate_all("els => els.map(e => e.value)")
    assert sorted(options) == ["dismissed", "notice_sent"]


def test_export_download_verifies(officer, site, tmp_path):
    o = officer("rev")
    page = o.go("/?source=demo-classifieds")
    boxes = page.locator("ol.hits input[name=ids]")
    chosen = [boxes.nth(i).get_attribute("value") for i in (0, 1)]
    for i in (0, 1):
        boxes.nth(i).check()
    inputs = page.locator("fieldset.bulk input[name=operator]")
    inputs.nth(0).fill("张三")
    inputs.nth(1).fill("李四")
    with page.expect_download(timeout=120_000) as info:
        page.click("fieldset.bulk button:has-text('导出证据包')")
    out = tmp_path / "from-browser.zip"
    info.value.save_as(out)
    verified = site.run("verify", str(out), "--json")
    assert verified.returncode == 0, verified.stdout[-2000:]
    import json

    report = json.loads(verified.stdout)
    assert report["ok"] and report["signature"]["ok"]
    import zipfile

    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert sorted(i["id"] for i in manifest["items"]) == sorted(chosen) and manifest["operators"] == ["张三", "李四"]


def test_viewer_cannot_review(officer, site):
    o = officer("viewer")
    item = next(i for i in site.items.values() if i["flagged"])
    page = o.go(f"/items/{item['id']}")
    expect(page.locator(".review")).to_contain_text("查看员不能审核")
    assert page.locator("form.review-form").count() == 0
    page = o.go("/queue")
    assert page.locator("button.act").count() == 0 and page.locator("input[name=ids]").count() == 0
    # Even a hand-made request with the session's own CSRF token is refused.
    status = page.evaluate("""async (id) => {
        const r = await fetch('/api/items/' + id + '/review', {method: 'POST', headers: {
            'Content-Type': 'application/json', 'X-CSRF-Token': document.body.dataset.csrf},
            body: JSON.stringify({status: 'confirmed'})});
        return r.status; }""", item["id"])
    assert status == 403
    page = o.go("/audit")
    expect(page.locator("main")).to_contain_text("权限不足")


def test_injection_payloads_do_not_execute(officer, site, shots):
    o = officer("admin")
    page = o.page
    # The listener works: a dialog opened through DevTools (CSP does not apply there) is seen.
    o.go("/dashboard")
    page.evaluate("alert('control')")
    assert o.dialogs == ["control"]
    o.dialogs.clear()
    page = o.go("/?all=1&q=alert&size=100")
    expect(page.locator("ol.hits")).to_contain_text("<script>alert(1)</script>")
    for item in payload_items(site):
        o.go(f"/items/{item['id']}")
        page.wait_for_load_state("load")
    for item in [i for i in site.items.values() if i["flagged"] and i["source"] == "demo-portal"]:
        o.go(f"/items/{item['id']}")  # the careless portal's captures, in the sandboxed iframe
        page.wait_for_load_state("load")
    o.go("/?q=" + "%3Cscript%3Ealert(3)%3C%2Fscript%3E")
    page = o.go("/audit?kind=search")
    expect(page.locator("table.audit-table")).to_contain_text("<script>alert(3)</script>")
    page.wait_for_timeout(300)
    assert o.dialogs == []
    page.screenshot(path=str(shots / "audit.png"))
    o.go("/contacts").screenshot(path=str(shots / "contacts.png"))
    o.go("/dashboard").screenshot(path=str(shots / "dashboard.png"))
    o.go("/docs").screenshot(path=str(shots / "docs.png"))
    assert o.dialogs == []
    for name in ("search", "item", "queue", "audit", "contacts", "dashboard"):
        if (shots / f"{name}.png").exists():
            assert (shots / f"{name}.png").stat().st_size > 10_000
