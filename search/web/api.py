"""The JSON API under /api (OpenAPI at /openapi.json, readable at /docs). Same accounts as the
pages: a session cookie, or HTTP Basic for scripts (as Elasticsearch does)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query as Param, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from search.store import STATUSES, NoteRequiredError, NotFoundError, TransitionError

from .access import need
from .downloads import evidence_package
from .pages import apply_review, dashboard_data
from .present import CATEGORY_NAMES
from .state import FILTERS, QueryError, build_query, ctx

router = APIRouter(prefix="/api", tags=["api"])
Category = Literal[tuple(CATEGORY_NAMES)]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field) if field in ("status", "note", "ids", "operators")
                                    else ("query", field), "msg": message, "type": "value_error"}])


class SearchAnswer(BaseModel):
    total: int
    page: int
    size: int
    items: list[dict]
    facets: dict[str, dict[str, int]]


@router.get("/search", response_model=SearchAnswer, summary="检索条目（含分面统计）")
def api_search(request: Request, q: str = Param("", max_length=200), category: Category | None = None,
               site: str | None = Param(None, max_length=300), source: str | None = Param(None, max_length=200),
               status: Status | None = None, contact: str | None = Param(None, max_length=200),
               since: date | None = None, until: date | None = None, page: int = Param(1, ge=1, le=10_000),
               size: int = Param(20, ge=1, le=100), sort: Literal["time", "score"] = "time", all: bool = False):
    """Flagged items (all items with ``all=true``) matching the query and filters; ``since`` and
    ``until`` are Beijing days (YYYY-MM-DD). Each item carries ``highlight`` (matches in 【】)."""
    c = ctx(request)
    try:
        query = build_query(q, category, site, source, status, contact, since, until, page, 20, sort, all)
    except QueryError as exc:
        raise _invalid(exc.field, str(exc)) from None
    query.limit, query.offset = size, (page - 1) * size
    result = c.store.search(query)
    c.audit(request, "search", target=q[:200], via="api", total=result.total,
            filters={k: v for k, v in request.query_params.items() if k in FILTERS and k != "q"})
    return {"total": result.total, "page": page, "size": size, "items": result.items, "facets": result.facets}


@router.get("/items/{item_id}", summary="一个条目的全部信息")
def api_item(request: Request, item_id: str):
    """The item (DESIGN.md item contract, plus notes); 404 if unknown."""
    c = ctx(request)
    item = c.store.get(item_id)
    if item is None:
        raise HTTPException(404, f"没有条目 {item_id}")
    c.audit(request, "view", target=item_id, item=item_id, via="api")
    return item


class ReviewRequest(BaseModel):
    status: Status
    note: str = Field("", max_length=2000)


@router.post("/items/{item_id}/review", summary="审核：变更条目状态")
def api_review(request: Request, item_id: str, body: ReviewRequest, user=Depends(need("reviewer"))):
    """Move the item along ``new → confirmed | dismissed → notice_sent → removed | still_online``.
    422 naming ``note`` for a dismissal without one, 409 for a move the workflow refuses, 404."""
    try:
        return apply_review(request, item_id, body.status, body.note)
    except NoteRequiredError as exc:
        raise _invalid("note", str(exc)) from None
    except TransitionError as exc:
        raise HTTPException(409, str(exc)) from None
    except NotFoundError:
        raise HTTPException(404, f"没有条目 {item_id}") from None


class ExportRequest(BaseModel):
    ids: list[str] = Field(..., min_length=1, max_length=500)
    operators: list[str] = Field(default_factory=list, max_length=10)
    case: str | None = Field(None, max_length=200)
    pdf: bool = True


@router.post("/export", summary="导出证据包（ZIP）",
             responses={200: {"content": {"application/zip": {}}}})
def api_export(request: Request, body: ExportRequest, user=Depends(need("reviewer"))):
    """The evidence package of ``ids`` (as `reprowatch export` makes it); operators default
    to the evidence config's. 404 naming unknown ids."""
    return evidence_package(request, body.ids, body.operators, body.case, pdf=body.pdf)


@router.get("/contacts", summary="联系方式（黑名单）")
def api_contacts(request: Request, kind: Literal["phones", "wechat", "qq"] | None = None,
                 limit: int = Param(1000, ge=1, le=10_000)):
    """Phones, WeChat and QQ ids of flagged items with item counts, sites, first and last seen."""
    rows = ctx(request).store.contacts(limit=limit)
    return {"contacts": [r for r in rows if not kind or r["kind"] == kind]}


@router.get("/stats", summary="概览统计")
def api_stats(request: Request):
    """Counts for the dashboard: items, flagged, by status, flagged today by category, today's
    crawl runs and the sources whose runs had errors."""
    return dashboard_data(ctx(request))
