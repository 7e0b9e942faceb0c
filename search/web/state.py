"""What every request handler shares: the store, the accounts, the data folder, the audit log,
and turning request parameters into a store :class:`~search.store.Query`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request

from evidence import custody
from search.store import STATUSES, Query, Store

from .auth import BasicCache, LoginLimiter, Sessions
from .present import CATEGORY_NAMES, day_bounds_utc
from .users import Accounts

PAGE_SIZES = (10, 20, 50, 100)
MAX_QUERY_CHARS = 200  # longer is not a search an officer types; it only costs tokenising
FILTERS = ("q", "category", "site", "source", "status", "contact", "since", "until", "day", "sort", "all", "size")


@dataclass
class Context:
    """The app's shared state (``app.state.ctx``)."""

    store: Store
    accounts: Accounts
    sessions: Sessions
    data: Path
    limiter: LoginLimiter
    basic_cache: BasicCache
    secure_cookies: bool = False
    templates: object = None
    extra: dict = field(default_factory=dict)

    def audit(self, request: Request, kind: str, target: str = "", actor: str | None = None, **fields) -> None:
        """Append a web event to the hash-chained custody log: who (``actor``, else the
        logged-in user), what (``kind``, ``target``, ``fields``), from where (client IP);
        ``at`` is added by the log. Queued in data/ if the store cannot take it now."""
        user = getattr(request.state, "user", None)
        custody.record(self.store, kind, data_dir=self.data, actor=actor or (user.name if user else "-"),
                       target=target, ip=client_ip(request), **fields)


def ctx(request: Request) -> Context:
    """The Context of the app serving ``request``."""
    return request.app.state.ctx


def client_ip(request: Request) -> str:
    """The peer address. X-Forwarded-For is not trusted: `serve` listens on its own, and a
    header anyone can set must not decide whose failed logins are counted or what the log says."""
    return request.client.host if request.client else "-"


class QueryError(ValueError):
    """A search parameter that cannot be used; ``field`` names it."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


def parse_day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD form value as a date, None when blank; QueryError naming the field."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise QueryError(name, f"日期格式应为 YYYY-MM-DD：{value}") from None


def build_query(q: str = "", category: str | None = None, site: str | None = None, source: str | None = None,
                status: str | None = None, contact: str | None = None, since: date | None = None,
                until: date | None = None, page: int = 1, size: int = 20, sort: str = "time",
                include_all: bool = False) -> Query:
    """A store Query from search parameters (days are Beijing days); QueryError naming a bad one."""
    q = (q or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError("q", f"检索词过长（最多 {MAX_QUERY_CHARS} 字）")
    if category and category not in CATEGORY_NAMES:
        raise QueryError("category", f"未知类别：{category}")
    if status and status not in STATUSES:
        raise QueryError("status", f"未知状态：{status}")
    if sort not in ("time", "score"):
        raise QueryError("sort", "排序只能按时间（time）或得分（score）")
    if page < 1 or page > 10_000:
        raise QueryError("page", "页码超出范围")
    if size not in PAGE_SIZES:
        raise QueryError("size", f"每页条数只能是 {', '.join(map(str, PAGE_SIZES))}")
    if since and until and since > until:
        raise QueryError("until", "结束日期早于开始日期")
    return Query(text=q, category=category or None, site=site or None, source=source or None, status=status or None,
                 contact=(contact or "").strip() or None,
                 since=day_bounds_utc(since.isoformat()) if since else None,
                 until=day_bounds_utc(until.isoformat(), end=True) if until else None,
                 include_all=include_all, limit=size, offset=(page - 1) * size, sort=sort)


def query_from_form(params) -> tuple[Query, int]:
    """(Query, page) from a page's query string (a mapping of strings); QueryError when bad."""
    def number(name: str, default: int) -> int:
        value = params.get(name) or ""
        try:
            return int(value) if value else default
        except ValueError:
            raise QueryError(name, f"{name} 应为数字") from None

    page = number("page", 1)
    query = build_query(q=params.get("q", ""), category=params.get("category"), site=params.get("site"),
                        source=params.get("source"), status=params.get("status"), contact=params.get("contact"),
                        since=parse_day(params.get("since"), "since"), until=parse_day(params.get("until"), "until"),
                        page=page, size=number("size", 20), sort=params.get("sort") or "time",
                        include_all=params.get("all") == "1")
    day = parse_day(params.get("day"), "day")
    if day:
        # The day facet counts UTC days (the store's ``day``); its link must select exactly those.
        query.since, query.until = f"{day.isoformat()}T00:00:00Z", f"{day.isoformat()}T23:59:59.999Z"
    return query, page


def link(params, **change) -> str:
    """The search page's query string with some parameters changed (None removes one); paging
    starts again unless ``page`` is given."""
    kept = {k: params.get(k) for k in FILTERS if params.get(k)}
    kept.update({k: v for k, v in change.items()})
    if "page" not in change:
        kept.pop("page", None)
    return "?" + urlencode({k: v for k, v in kept.items() if v not in (None, "")})
