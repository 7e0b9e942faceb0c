"""Takedown recheck: is an ad still online after the deadline of its takedown notice?

For every item in ``notice_sent`` whose ``deadline`` has passed, the page is fetched again
the way its source fetches it — with the source's headers, as a plain HTTP request for
static and API sources, in Chromium for ``render: browser`` sources — and a new evidence
capture is written (evidence/capture.py: a folder of its own, never over an earlier one).
The decision:

- ``removed``: HTTP 404/410/451; the page answers but the ad's text is gone (an empty page,
  a forum floor that is no longer there); or the text is no longer flagged by the classifier
  (the site replaced the ad with "该信息已删除", or redirects to its home page);
- ``still_online``: the page still carries a flagged ad;
- ``undecided``: the site could not be reached, or answered 403/5xx: that says nothing about
  the ad, so the item stays ``notice_sent`` and the next recheck tries again.

Each decision goes into the item's history (user ``recheck``, the reason and the capture
folder in the note) and into the custody log as a ``recheck`` event pinning the capture.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

from crawlers.extract import decode_body, extract_page, extract_posts
from crawlers.sources import Source

# Answers that mean the page itself is gone (451: taken down on legal grounds).
GONE_STATUSES = {404, 410, 451}
MAX_BODY = 8 * 1024 * 1024  # as the crawler's DOWNLOAD_MAXSIZE
TIMEOUT = 20.0              # as the crawler's DOWNLOAD_TIMEOUT
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
REASONS = {
    "http_404": "页面已不存在（HTTP 404）",
    "http_410": "页面已删除（HTTP 410）",
    "http_451": "页面因法律原因不可访问（HTTP 451）",
    "content_gone": "页面仍可访问，但该条广告内容已删除",
    "not_flagged": "页面内容已不再构成违法广告",
    "still_flagged": "广告仍在线",
    "unreachable": "站点无法访问，无法判断",
    "http_error": "站点返回错误，无法判断",
}
DECISION_NAMES = {"removed": "已删除", "still_online": "仍在线", "undecided": "无法判断（状态不变）"}


@dataclass
class Decision:
    """What one recheck found."""

    id: str
    url: str
    source: str
    decision: str               # removed | still_online | undecided
    reason: str                 # a key of REASONS
    http_status: int | None
    labels: list[str]
    score: float
    evidence_dir: str | None
    deadline: str | None
    error: str | None = None
    previous: str = "notice_sent"  # the item's status before the recheck

    @property
    def message(self) -> str:
        """The reason in the officers' words."""
        text = REASONS.get(self.reason, self.reason)
        if self.reason == "still_flagged" and self.labels:
            text += f"（仍命中 {'、'.join(self.labels)}，得分 {self.score:.2f}）"
        if self.error:
            text += f"：{self.error}"
        return text

    def as_dict(self) -> dict:
        return {**self.__dict__, "message": self.message}


# -- which items -------------------------------------------------------------------------------

def _deadline(item: dict, deadline_days: int) -> datetime | None:
    """The item's deadline; for a notice recorded without one, its time plus ``deadline_days``."""
    from search.items import parse_time

    if item.get("deadline"):
        return parse_time(item["deadline"], "deadline")
    notices = [h for h in item.get("history") or [] if h.get("status") == "notice_sent" and h.get("at")]
    if not notices:
        return None
    return parse_time(notices[-1]["at"]) + timedelta(days=deadline_days)


def due_items(store, deadline_days: int, now: datetime | None = None) -> list[dict]:
    """Items in ``notice_sent`` whose deadline has passed, oldest deadline first."""
    from search.store import Query

    now = now or datetime.now(timezone.utc)
    found, offset, page = [], 0, 500
    while True:
        result = store.search(Query(status="notice_sent", include_all=True, limit=page, offset=offset))
        found += result.items
        offset += page
        if offset >= result.total or not result.items:
            break
    due = []
    for item in found:
        when = _deadline(item, deadline_days)
        if when is not None and when <= now:
            item.pop("highlight", None)
            due.append((when, item))
    return [item for _, item in sorted(due, key=lambda pair: pair[0])]


# -- fetching as the source does ---------------------------------------------------------------

class _Hops(urllib.request.HTTPRedirectHandler):
    """Follows redirects like the crawler, remembering each hop for meta.json."""

    def __init__(self):
        self.hops: list[dict] = []

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.hops.append({"url": req.full_url, "status": code})
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, headers: dict[str, str]) -> dict:
    """GET ``url`` with ``headers`` (and the crawler's User-Agent); the answer in the shape of
    the spider's ``_response`` (what evidence capture takes), error pages included. OSError
    when the site cannot be reached."""
    from crawlers.settings import USER_AGENT

    url = url.split("#", 1)[0]
    sent = {"User-Agent": USER_AGENT, "Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8",
            "Accept-Language": "zh-CN,zh;q=0.9", **headers}
    request = urllib.request.Request(url)
    for name, value in sent.items():
        # Bytes: http.client would encode str as Latin-1, and our User-Agent is partly Chinese.
        request.add_header(name, value.encode("utf-8"))
    hops = _Hops()
    opener = urllib.request.build_opener(hops)
    try:
        answer = opener.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        answer = exc  # a 404 page is evidence too
    with answer:
        body = answer.read(MAX_BODY + 1)[:MAX_BODY]
        return {"kind": "document", "url": answer.geturl(), "status": answer.status if hasattr(answer, "status")
                else answer.code, "headers": list(answer.headers.items()), "body": body, "method": "GET",
                "request_headers": list(sent.items()), "redirects": hops.hops, "ip": None, "protocol": "HTTP/1.1",
                "certificate": None}


def page_text(body: bytes, content_type: str | None, url: str, source: Source | None, api_id: str | None
              ) -> str:
    """The item's text in the page as the crawl would extract it ("" when the item is gone)."""
    if source is not None and source.type == "api" and _is_json(body):
        return _api_text(body, source, api_id or urlsplit(url).fragment)
    html, _ = decode_body(body, content_type)
    selectors = source.selectors if source is not None and source.type == "html" else None
    fragment = urlsplit(url).fragment
    if selectors is not None and selectors.post and fragment:
        posts = dict(extract_posts(html, selectors.post, selectors))
        text = posts[fragment].text if fragment in posts else ""
    else:
        text = extract_page(html, url, selectors).text
    # As pipelines/clean.py cleans what the crawl stored.
    return re.sub(r"\n{3,}", "\n\n", _CONTROL.sub("", text)).strip()


def _is_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")


def _api_text(body: bytes, source: Source, api_id: str) -> str:
    """An API item's text, found by its id in the listing the URL answers ("" when not there)."""
    import jmespath

    try:
        data = json.loads(body)
    except ValueError:
        return ""
    fields = source.api.fields
    for entry in jmespath.search(source.api.items, data) or []:
        if str(jmespath.search(fields.id, entry)) == api_id:
            parts = [jmespath.search(expr, entry) for expr in (fields.title, fields.text, fields.contact) if expr]
            return "\n".join(str(p) for p in parts if p)
    return ""


def decide(http_status: int | None, text: str, flagged: bool) -> tuple[str, str]:
    """``(decision, reason)`` from what the page answered now."""
    if http_status is None:
        return "undecided", "unreachable"
    if http_status in GONE_STATUSES:
        return "removed", f"http_{http_status}"
    if http_status >= 400:
        return "undecided", "http_error"
    if not text:
        return "removed", "content_gone"
    if not flagged:
        return "removed", "not_flagged"
    return "still_online", "still_flagged"


# -- one recheck run ---------------------------------------------------------------------------

async def _recheck_one(item: dict, source: Source | None, classifier, renderer, data: Path) -> tuple[Decision, dict | None]:
    from evidence.capture import capture, write_capture

    from search.items import now_iso

    url = item["url"]
    now = now_iso()
    browser = source is not None and source.render == "browser" and source.type == "html"
    error = None
    if browser:
        wait_for = source.browser.wait_for if source.browser else None
        rendered = await renderer.render(url, wait_for=wait_for)
        document = rendered.document
        status = document.status if document is not None else None
        error = rendered.error if document is None else None
        html = rendered.dom or b""
        text = page_text(html, "text/html; charset=utf-8", url, source, item.get("api_id")) if document else ""
        crawler = None
    else:
        try:
            crawler = await asyncio.to_thread(fetch, url, dict(source.headers) if source else {})
        except (OSError, ValueError) as exc:
            crawler, error = None, str(getattr(exc, "reason", exc))
        status = crawler["status"] if crawler else None
        content_type = next((v for k, v in crawler["headers"] if k.lower() == "content-type"), None) if crawler else None
        text = page_text(crawler["body"], content_type, url, source, item.get("api_id")) if crawler else ""
    verdict = classifier.classify(text).as_dict() if text else {"flagged": False, "labels": [], "score": 0.0,
                                                              "hits": [], "contacts": {}}
    decision, reason = decide(status, text, verdict["flagged"])
    if reason == "http_error":
        error = f"HTTP {status}"
    evidence = None
    if status is not None:
        recaptured = {**item, "text": text, "fetched_at": now, **{k: verdict[k] for k in
                                                                  ("flagged", "labels", "score", "hits", "contacts")}}
        recaptured.pop("evidence", None)
        name = source.name if source else item.get("source")
        if browser:
            started = rendered.started or datetime.now(timezone.utc)
            finished = rendered.finished or datetime.now(timezone.utc)
            evidence = await asyncio.to_thread(write_capture, data, recaptured, None, rendered,
                                               {"executable": renderer.executable, "version": renderer.version},
                                               started, finished, name)
        else:
            evidence = await capture(recaptured, crawler, renderer, data, source=name)
    result = Decision(item["id"], url, item.get("source", ""), decision, reason, status, verdict["labels"],
                      verdict["score"], evidence["dir"] if evidence else None, item.get("deadline"), error,
                      item.get("status", "notice_sent"))
    return result, evidence


def _record(store, data: Path, result: Decision, evidence: dict | None) -> None:
    """The decision into the item's history and the custody log."""
    from evidence import custody

    # Undecided changes nothing; an item found as it was (still online, rechecked again) has no
    # workflow move to record, and the custody event below is its record.
    if result.decision not in ("undecided", result.previous):
        note = f"复查：{result.message}" + (f"；证据 {result.evidence_dir}" if result.evidence_dir else "")
        store.review(result.id, result.decision, note=note, user="recheck")
    fields = {"item": result.id, "url": result.url, "decision": result.decision, "reason": result.reason,
              "http_status": result.http_status}
    if evidence:
        fields.update(dir=evidence["dir"], files_sha256=custody.files_digest(evidence["files"]))
    custody.record(store, "recheck", data_dir=data, actor="recheck", **fields)


async def _recheck_all(store, items: list[dict], sources: dict[str, Source], data: Path, progress) -> list[Decision]:
    from classifiers import Classifier
    from crawlers.settings import CHROMIUM, USER_AGENT
    from evidence.capture import Renderer

    classifier = Classifier.load()
    renderer = Renderer(executable=CHROMIUM, concurrency=1, timeout=TIMEOUT, user_agent=USER_AGENT)
    results = []
    try:
        for n, item in enumerate(items, 1):
            result, evidence = await _recheck_one(item, sources.get(item.get("source")), classifier, renderer, data)
            await asyncio.to_thread(_record, store, data, result, evidence)
            results.append(result)
            if progress:
                progress(n, len(items), result)
    finally:
        await renderer.close()
    return results


def run_recheck(store, items: list[dict], sources: dict[str, Source], data: Path, progress=None) -> list[Decision]:
    """Recheck ``items`` (see :func:`due_items`), record every decision, and return them.
    ``progress(n, total, decision)`` is called after each item."""
    if not items:
        return []
    return asyncio.run(_recheck_all(store, items, sources, Path(data), progress))
