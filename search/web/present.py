"""How stored values are shown to officers: Chinese names, Beijing time, marked text.

Everything crawled is hostile: these helpers return escaped markup (``markupsafe.Markup``)
built from escaped text, and templates autoescape everything else.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from evidence.documents import CATEGORY_NAMES
from evidence.viewer import marked_text

BEIJING = ZoneInfo("Asia/Shanghai")
STATUS_NAMES = {"new": "待审核", "confirmed": "已确认", "dismissed": "已排除", "notice_sent": "已发处置通知",
                "removed": "已下架", "still_online": "仍在线"}
# What the review buttons say (the action), beside STATUS_NAMES (the state).
ACTION_NAMES = {"confirmed": "确认违法", "dismissed": "排除（误报）", "notice_sent": "已发处置通知",
                "removed": "已下架", "still_online": "仍在线"}
FACET_NAMES = {"category": "类别", "site": "站点", "source": "来源", "status": "状态", "day": "日期"}
CONTACT_NAMES = {"phones": "电话", "wechat": "微信", "qq": "QQ", "urls": "网址", "emails": "邮箱"}
AUDIT_NAMES = {"capture": "采集取证", "export": "导出证据包", "view": "查看条目", "search": "检索", "review": "审核",
               "login": "登录", "login_failed": "登录失败", "logout": "退出", "user": "账号变更"}
ROLE_NAMES = {"viewer": "查看员", "reviewer": "审核员", "admin": "管理员"}
_MARKED = re.compile("【(.*?)】", re.S)


def beijing(value: str | None, seconds: bool = False) -> str:
    """A stored UTC time as Beijing time (``2026-11-23 16:00``), "" when missing."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def today_start_utc(now: datetime | None = None) -> str:
    """Midnight of today in Beijing, as a UTC ISO time (where "today" starts for the dashboard)."""
    now = (now or datetime.now(timezone.utc)).astimezone(BEIJING)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_bounds_utc(day: str, end: bool = False) -> str:
    """A Beijing calendar day (YYYY-MM-DD) as the UTC time where it starts (or, ``end``, where
    it ends): officers pick days in their own time zone."""
    start = datetime.fromisoformat(day).replace(tzinfo=BEIJING)
    if end:
        start += timedelta(days=1) - timedelta(milliseconds=1)
    return start.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def snippet_markup(snippet: str) -> Markup:
    """A search highlight (matches in 【】) as escaped HTML with ``<mark>``."""
    return Markup(_MARKED.sub(lambda m: f"<mark>{m.group(1)}</mark>", str(escape(snippet or ""))))


def text_markup(text: str, hits: list[dict]) -> Markup:
    """The item text escaped, every classifier hit in ``<mark title=rule>`` (the package viewer's)."""
    return Markup(marked_text(text or "", hits or []))


def category(name: str) -> str:
    """A category id as its Chinese name."""
    return CATEGORY_NAMES.get(name, name)


def safe_cell(value) -> str:
    """A value for a CSV or XLSX cell: text a spreadsheet would run as a formula (=, +, -, @,
    tab, CR) gets a leading apostrophe, so a crawled ad cannot plant a formula in an export."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def detail(value) -> str:
    """An audit entry's field as plain text (mappings as k=v, lists joined)."""
    if isinstance(value, dict):
        return "，".join(f"{k}={v}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return "、".join(map(str, value))
    return "" if value is None else str(value)


def schema_text(schema: dict) -> str:
    """An OpenAPI parameter schema in a few words for the /docs page (``string, date``, enums)."""
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if "anyOf" in schema:
        return " | ".join(schema_text(s) for s in schema["anyOf"] if s.get("type") != "null")
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength") if k in schema]
    return ", ".join([schema.get("type", ""), schema.get("format", "")] + bounds).strip(", ").replace(", ,", ",")


def register(env) -> None:
    """Install the filters and names in a Jinja environment."""
    env.filters.update(beijing=beijing, snippet=snippet_markup, category=category, text_markup=text_markup, detail=detail, schema_text=schema_text,
                       status=lambda s: STATUS_NAMES.get(s, s), role=lambda r: ROLE_NAMES.get(r, r),
                       audit_kind=lambda k: AUDIT_NAMES.get(k, k), contact_kind=lambda k: CONTACT_NAMES.get(k, k))
    env.globals.update(CATEGORY_NAMES=CATEGORY_NAMES, STATUS_NAMES=STATUS_NAMES, ACTION_NAMES=ACTION_NAMES,
                       FACET_NAMES=FACET_NAMES, CONTACT_NAMES=CONTACT_NAMES, AUDIT_NAMES=AUDIT_NAMES)
