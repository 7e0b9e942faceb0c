"""The HTML pages: search, item, review queue, contacts, dashboard, audit log, and the forms
they post (review, bulk review, notes, saved searches, exports)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from evidence import custody
from reprowatch.review import decide
from search.items import contact_values
from search.store import (NOTE_REQUIRED, TRANSITIONS, NoteRequiredError, NotFoundError, Query, TransitionError)

from .access import need
from .app import render
from .auth import safe_next
from .downloads import EXPORT_ROWS, download_name, evidence_package, result_csv, result_xlsx
from .present import day_bounds_utc, today_start_utc
from .state import FILTERS, QueryError, ctx, link, parse_day, query_from_form

router = APIRouter(include_in_schema=False)
EVIDENCE_CSP = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
                "frame-ancestors 'self'")
QUEUE_PAGE = 20
AUDIT_PAGE = 100
MESSAGES = {  # fixed texts for ?msg=, so a link cannot put words in the page's mouth
    "reviewed": "已更新状态。", "noted": "已添加备注。", "saved": "已保存检索。", "deleted": "已删除保存的检索。",
    "note_required": "排除（误报）必须填写理由。", "transition": "该状态变更不符合审核流程，已拒绝。",
    "empty": "内容不能为空。", "none_selected": "请先勾选条目。",
}


def _flash(request: Request) -> dict:
    params = request.query_params
    out = {"message": MESSAGES.get(params.get("msg", ""), "")}
    if params.get("bulk_ok") or params.get("bulk_refused"):
        out["bulk"] = {"ok": _int(params.get("bulk_ok")), "refused": _int(params.get("bulk_refused"))}
    return out


def _int(value, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _back(target: str, **params) -> RedirectResponse:
    target = safe_next(target)
    path, _, query = target.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query) if k not in ("msg", "bulk_ok", "bulk_refused")]
    kept += [(k, str(v)) for k, v in params.items()]
    return RedirectResponse(path + ("?" + urlencode(kept) if kept else ""), status_code=303)


# -- search ----------------------------------------------------------------------------------

@router.get("/")
@router.get("/search")
def search_page(request: Request):
    """The search page: query, facets, highlighted results, paging, exports, saved searches."""
    c = ctx(request)
    params = request.query_params
    error, result, page, query = "", None, 1, None
    try:
        query, page = query_from_form(params)
        result = c.store.search(query)
    except (QueryError, ValueError) as exc:
        error = str(exc)
    c.audit(request, "search", target=params.get("q", "")[:200],
            filters={k: params[k] for k in FILTERS if params.get(k) and k != "q"}, page=page,
            total=result.total if result else None)
    pages = max(1, -(-result.total // query.limit)) if result and query.limit else 1
    return render(request, "search.html", status=400 if error else 200, params=params, result=result, error=error,
                  page=page, pages=pages, query=query, link=lambda **kw: link(params, **kw),
                  saved=c.accounts.searches(request.state.user.name), **_flash(request))


def _result_list(request: Request) -> list[dict]:
    c = ctx(request)
    try:
        query, _ = query_from_form(request.query_params)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    query.offset, query.limit = 0, EXPORT_ROWS
    items = c.store.search(query).items
    c.audit(request, "search", target=request.query_params.get("q", "")[:200], download=True, rows=len(items))
    return items


@router.get("/search.csv")
def search_csv(request: Request):
    """The result list (up to EXPORT_ROWS) as CSV."""
    body = result_csv(_result_list(request))
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": _attachment(download_name("检索结果", "csv"))})


@router.get("/search.xlsx")
def search_xlsx(request: Request):
    """The result list (up to EXPORT_ROWS) as XLSX."""
    body = result_xlsx(_result_list(request))
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": _attachment(download_name("检索结果", "xlsx"))})


def _attachment(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename=\"export.{name.rsplit('.', 1)[-1]}\"; filename*=UTF-8''{quote(name)}"


@router.post("/searches")
def save_search(request: Request, name: str = Form(..., max_length=100), params: str = Form("", max_length=2000),
                user=Depends(need("viewer"))):
    """Keep the current search under a name."""
    name = name.strip()
    if not name:
        return _back("/?" + params, msg="empty")
    kept = dict(parse_qsl(params.lstrip("?")))
    try:
        query_from_form(kept)
    except QueryError as exc:
        raise HTTPException(400, str(exc)) from None
    ctx(request).accounts.save_search(user.name, name, link(kept))
    return _back("/" + link(kept), msg="saved")


@router.post("/searches/{search_id}/delete")
def delete_search(request: Request, search_id: int, user=Depends(need("viewer"))):
    """Forget one of the user's saved searches."""
    ctx(request).accounts.delete_search(user.name, search_id)
    return _back("/", msg="deleted")


# -- item --------------------------------------------------------------------------------------

def _item_or_404(request: Request, item_id: str) -> dict:
    item = ctx(request).store.get(item_id)
    if item is None:
        raise HTTPException(404, f"没有条目 {item_id}")
    return item


def related(c, item: dict) -> dict:
    """What the item page shows beside the item: near-duplicates, items sharing a contact,
    custody events."""
    cluster = [i for i in c.store.cluster_items(item.get("cluster") or "", limit=21) if i["id"] != item["id"]][:20]
    sharing = {}
    for value in contact_values(item)[:10]:
        found = c.store.search(Query(contact=value, include_all=True, limit=11))
        others = [i for i in found.items if i["id"] != item["id"]][:10]
        if others:
            sharing[value] = {"total": found.total - 1, "items": others}
    return {"cluster": cluster, "sharing": sharing, "events": item_events(c.store, item["id"])[-50:]}


def item_events(store, item_id: str) -> list[dict]:
    """The custody-log entries about one item (captures, exports, views, reviews).

    The log has no index by item: the store finds the entries whose text holds the quoted id
    (inside SQLite on the default backend), and only those are parsed."""
    out = []
    for row in store.custody_search(json.dumps(item_id, ensure_ascii=False)):
        e = json.loads(row["doc"])
        if e.get("item") == item_id or item_id in (e.get("items") or []) or e.get("target") == item_id:
            out.append(e)
    return out


@router.get("/items/{item_id}")
def item_page(request: Request, item_id: str):
    """One item: text with hits explained, contacts, related items, review, notes, evidence."""
    c = ctx(request)
    item = _item_or_404(request, item_id)
    c.audit(request, "view", target=item_id, item=item_id, via="web")
    files = (item.get("evidence") or {}).get("files") or []
    names = {Path(f["path"]).name for f in files}
    return render(request, "item.html", item=item, files=files, has_shot="screenshot.png" in names,
                  has_rendered="rendered.html" in names, transitions=sorted(TRANSITIONS.get(item["status"], ())),
                  note_required=NOTE_REQUIRED, **related(c, item), **_flash(request))


@router.get("/items/{item_id}/files/{name}")
def evidence_file(request: Request, item_id: str, name: str, view: int = 0):
    """One evidence file of the item. Only the capture's own files are served; HTML is served
    as a download, or with ``view=1`` (rendered.html) under a sandbox CSP for the iframe."""
    c = ctx(request)
    item = _item_or_404(request, item_id)
    files = (item.get("evidence") or {}).get("files") or []
    record = next((f for f in files if Path(f["path"]).name == name), None)
    if record is None:
        raise HTTPException(404, f"条目 {item_id} 没有文件 {name}")
    path = (c.data / record["path"]).resolve()
    if not path.is_relative_to(c.data.resolve()) or not path.is_file():
        raise HTTPException(404, f"文件 {name} 不在证据目录中")
    headers = {"Content-Security-Policy": EVIDENCE_CSP, "X-Content-Type-Options": "nosniff"}
    if name == "screenshot.png":
        return FileResponse(path, media_type="image/png", headers=headers)
    if name == "rendered.html" and view:
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=headers)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{item_id}-{name}", headers=headers)


@router.post("/items/{item_id}/review")
def review_form(request: Request, item_id: str, status: str = Form(..., max_length=20),
                note: str = Form("", max_length=2000), next: str = Form(""), user=Depends(need("reviewer"))):
    """A review decision from the item page or the queue (form post, then back)."""
    back = next or f"/items/{item_id}"
    try:
        apply_review(request, item_id, status, note)
    except NoteRequiredError:
        return _back(back, msg="note_required")
    except TransitionError:
        return _back(back, msg="transition")
    return _back(back, msg="reviewed")


def apply_review(request: Request, item_id: str, status: str, note: str) -> dict:
    """Check and apply one review decision, and log it: NotFoundError, TransitionError
    (NoteRequiredError for a dismissal without a note). A notice gets the office's deadline."""
    c = ctx(request)
    before, updated = decide(c.store, item_id, status, note=note, user=request.state.user.name, data=c.data)
    c.audit(request, "review", target=item_id, status=status, previous=before["status"], note=updated["history"][-1]["note"])
    return updated


@router.post("/review/bulk")
def review_bulk(request: Request, status: str = Form(..., max_length=20), note: str = Form("", max_length=2000),
                ids: list[str] = Form(default=[]), next: str = Form("/queue"), user=Depends(need("reviewer"))):
    """One decision for every selected item; those the workflow refuses are counted, not changed."""
    ids = list(dict.fromkeys(i for i in ids if i))[:500]
    if not ids:
        return _back(next, msg="none_selected")
    if status in NOTE_REQUIRED and not note.strip():
        return _back(next, msg="note_required")
    ok = refused = 0
    for item_id in ids:
        try:
            apply_review(request, item_id, status, note)
            ok += 1
        except (TransitionError, NotFoundError):
            refused += 1
    return _back(next, bulk_ok=ok, bulk_refused=refused)


@router.post("/items/{item_id}/notes")
def add_note(request: Request, item_id: str, text: str = Form(..., max_length=2000), user=Depends(need("reviewer"))):
    """Add a note to the item."""
    if not text.strip():
        return _back(f"/items/{item_id}", msg="empty")
    c = ctx(request)
    try:
        c.store.add_note(item_id, text.strip(), user=user.name)
    except NotFoundError:
        raise HTTPException(404, f"没有条目 {item_id}") from None
    c.audit(request, "review", target=item_id, note=text.strip(), action="note")
    return _back(f"/items/{item_id}", msg="noted")


@router.post("/export")
def export_form(request: Request, ids: list[str] = Form(default=[]), operator: list[str] = Form(default=[]),
                case: str = Form("", max_length=200), user=Depends(need("reviewer"))):
    """The selected items' evidence package, as a download."""
    return evidence_package(request, ids, operator, case.strip() or None)


# -- queue, contacts, dashboard, audit --------------------------------------------------------

@router.get("/queue")
def queue_page(request: Request, page: int = 1):
    """New flagged items, oldest first, for one-key decisions."""
    c = ctx(request)
    page = max(1, min(page, 10_000))
    total, items = c.store.review_queue(limit=QUEUE_PAGE, offset=(page - 1) * QUEUE_PAGE)
    from search.highlight import snippet

    for item in items:
        item["highlight"] = snippet(item.get("text", ""), "", item.get("hits"), width=240)
    return render(request, "queue.html", items=items, total=total, page=page,
                  pages=max(1, -(-total // QUEUE_PAGE)), note_required=NOTE_REQUIRED, **_flash(request))


@router.get("/contacts")
def contacts_page(request: Request, kind: str = "", q: str = ""):
    """The contacts seen in flagged items: the blacklist."""
    rows = ctx(request).store.contacts(limit=2000)
    if kind:
        rows = [r for r in rows if r["kind"] == kind]
    if q.strip():
        rows = [r for r in rows if q.strip().lower() in r["value"]]
    return render(request, "contacts.html", rows=rows, kind=kind, q=q)


def dashboard_data(c) -> dict:
    """Today's (Beijing) crawl runs, newly flagged items by category, sources with errors."""
    since = today_start_utc()
    runs = c.store.runs(since=since)
    failing = {}
    for run in runs:
        errors = {k: v for k, v in (run.get("errors") or {}).items() if v}
        if errors:
            entry = failing.setdefault(run.get("source", ""), {})
            for k, v in errors.items():
                entry[k] = entry.get(k, 0) + v
    return {"since": since, "stats": c.store.stats(since), "runs": runs, "failing": failing}


@router.get("/dashboard")
def dashboard_page(request: Request):
    """The day at a glance."""
    return render(request, "dashboard.html", **dashboard_data(ctx(request)))


@router.get("/audit")
def audit_page(request: Request, kind: str = "", actor: str = "", target: str = "", since: str = "",
               until: str = "", page: int = 1, user=Depends(need("admin"))):
    """The custody / audit log, newest first, filtered; with the hash chain's check."""
    c = ctx(request)
    error = ""
    try:
        start = day_bounds_utc(parse_day(since, "since").isoformat()) if since else ""
        end = day_bounds_utc(parse_day(until, "until").isoformat(), end=True) if until else ""
    except QueryError as exc:
        error, start, end = str(exc), "", ""
    entries = list(custody.entries(c.store))
    check = custody.check_chain(dict(e) for e in entries)
    shown = [e for e in reversed(entries)
             if (not kind or e.get("kind") == kind) and (not actor or actor.lower() in str(e.get("actor", "")).lower())
             and (not target or target.lower() in str(e.get("target") or e.get("item") or "").lower())
             and (not start or str(e.get("at", "")) >= start) and (not end or str(e.get("at", "")) <= end)]
    page = max(1, page)
    rows = shown[(page - 1) * AUDIT_PAGE: page * AUDIT_PAGE]
    filters = {k: v for k, v in (("kind", kind), ("actor", actor), ("target", target), ("since", since),
                                  ("until", until)) if v}
    return render(request, "audit.html", status=400 if error else 200, rows=rows, total=len(shown), check=check,
                  page=page, pages=max(1, -(-len(shown) // AUDIT_PAGE)), filters=filters, error=error,
                  qs=urlencode(filters))


# -- accounts (admin) ----------------------------------------------------------------------------

@router.get("/users")
def users_page(request: Request, error: str = "", user=Depends(need("admin"))):
    """The accounts, with forms to add one and to disable one."""
    return render(request, "users.html", accounts=ctx(request).accounts.all(), error=USER_ERRORS.get(error, ""),
                  **_flash(request))


USER_ERRORS = {"bad": "账号未创建：用户名须为 1–64 个字母、数字、汉字或 _ . @ -，密码至少 8 位，且用户名不能重复。",
               "self": "不能停用自己的账号。", "missing": "没有这个账号。"}


@router.post("/users")
def add_user(request: Request, name: str = Form(..., max_length=64), role: str = Form(..., max_length=20),
             password: str = Form(..., max_length=1024), user=Depends(need("admin"))):
    """Create an account (as `reprowatch user add` does)."""
    from .users import UserError

    c = ctx(request)
    try:
        c.accounts.add(name.strip(), role, password)
    except UserError:
        return RedirectResponse("/users?error=bad", status_code=303)
    c.audit(request, "user", target=name.strip(), action="add", role=role)
    return RedirectResponse("/users?msg=saved", status_code=303)


@router.post("/users/{name}/disable")
def disable_user(request: Request, name: str, user=Depends(need("admin"))):
    """Lock an account out; its sessions end at once."""
    from .users import UserError

    c = ctx(request)
    if name == user.name:
        return RedirectResponse("/users?error=self", status_code=303)
    try:
        c.accounts.disable(name)
    except UserError:
        return RedirectResponse("/users?error=missing", status_code=303)
    c.audit(request, "user", target=name, action="disable")
    return RedirectResponse("/users?msg=saved", status_code=303)
