"""Item records as both backends store them: defaults, hashes, times, and re-crawl merging.

Keeping the upsert rules here, not in each backend, is what makes ``new`` / ``changed`` /
``seen`` mean the same on SQLite and Elasticsearch.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

# Set by the classifier on every fetch; a re-crawl of unchanged text still replaces them,
# so an item re-classified with newer rules shows the newer verdict.
VERDICT_FIELDS = ("labels", "score", "flagged", "hits", "contacts")
# Kept from the first time an item was stored, whatever a re-crawl brings.
REVIEW_FIELDS = ("status", "history", "first_seen", "notes")
CONTACT_KINDS = ("phones", "wechat", "qq")


def now_iso() -> str:
    """The current UTC time as ``2026-11-23T08:00:00Z`` (millisecond precision)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def content_hash(text: str) -> str:
    """sha1 of the text, the item's identity for change detection."""
    return hashlib.sha1((text or "").encode("utf-8")).hexdigest()


def parse_time(value: str, name: str = "time") -> datetime:
    """An ISO 8601 date or datetime as an aware UTC datetime (naive means UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        raise ValueError(f"{name}: not an ISO 8601 date or datetime: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def to_ms(value: str | None, name: str = "time") -> int:
    """Milliseconds since the epoch of an ISO time (0 when missing)."""
    if not value:
        return 0
    return int(parse_time(value, name).timestamp() * 1000)


def day_of(value: str | None) -> str:
    """The UTC calendar day (YYYY-MM-DD) of an ISO time, or "" when missing."""
    return parse_time(value).date().isoformat() if value else ""


def time_bounds(since: str | None, until: str | None) -> tuple[int | None, int | None]:
    """Query bounds as epoch ms ``[gte, lt)``; a date-only ``until`` includes that whole day."""
    gte = to_ms(since, "since") if since else None
    lt = None
    if until:
        end = parse_time(until, "until")
        if _is_date_only(until):
            end += timedelta(days=1)
            lt = int(end.timestamp() * 1000)
        else:
            lt = int(end.timestamp() * 1000) + 1
    return gte, lt


def _is_date_only(value: str) -> bool:
    try:
        date.fromisoformat(value.strip())
        return len(value.strip()) == 10
    except ValueError:
        return False


def review_deadline(status: str, deadline: str | None) -> str | None:
    """A review's ``deadline`` as UTC ISO (``…Z``), or None; ValueError when malformed or given
    with a status other than ``notice_sent`` (only a takedown notice has a deadline)."""
    if deadline is None:
        return None
    if status != "notice_sent":
        raise ValueError(f"deadline: only a notice_sent review has a deadline, not {status!r}")
    return parse_time(deadline, "deadline").isoformat(timespec="seconds").replace("+00:00", "Z")


def contact_values(item: dict) -> list[str]:
    """The item's phones, WeChat and QQ ids, lower-cased, for the contact filter."""
    contacts = item.get("contacts") or {}
    values: dict[str, None] = {}
    for kind in CONTACT_KINDS:
        for value in contacts.get(kind) or []:
            if value:
                values.setdefault(str(value).strip().lower(), None)
    return list(values)


def contact_kind(value: str, contacts: dict) -> str:
    """Which of CONTACT_KINDS an item's ``contacts`` file a (lower-cased) value under."""
    for kind in CONTACT_KINDS:
        if any(str(v).strip().lower() == value for v in contacts.get(kind) or []):
            return kind
    return ""


def since_prefix(since: str) -> str:
    """``since`` as a UTC ``YYYY-MM-DDTHH:MM:SS`` prefix, which compares correctly with stored
    times with or without milliseconds."""
    return parse_time(since, "since").strftime("%Y-%m-%dT%H:%M:%S")


def prepare(item: dict, now: str | None = None) -> dict:
    """A copy of an incoming item with every contract field present and normalised."""
    if not isinstance(item, dict) or not item.get("id"):
        raise ValueError("an item needs a non-empty 'id'")
    # A shallow copy: every container field below is copied anew, and nothing nested in one
    # (hit dicts, contact lists) is changed after this; a deep copy cost the crawl's store
    # writer more than the SQLite writes.
    out = dict(item)
    out.pop("highlight", None)  # a search-result decoration, not data
    now = now or now_iso()
    out["id"] = str(out["id"])
    out.setdefault("url", "")
    out.setdefault("source", "")
    if not out.get("site"):
        out["site"] = urlsplit(out["url"]).netloc if out["url"] else ""
    out["title"] = out.get("title") or ""
    out["text"] = out.get("text") or ""
    out.setdefault("published", None)
    out["labels"] = sorted(set(out.get("labels") or []))
    out["score"] = float(out.get("score") or 0.0)
    out["flagged"] = bool(out["flagged"]) if "flagged" in out else bool(out["labels"])
    out["hits"] = list(out.get("hits") or [])
    out["contacts"] = dict(out.get("contacts") or {})
    out["status"] = out.get("status") or "new"
    out["fetched_at"] = out.get("fetched_at") or now
    out["first_seen"] = out.get("first_seen") or out["fetched_at"]
    out["last_seen"] = out.get("last_seen") or out["fetched_at"]
    out["content_hash"] = out.get("content_hash") or content_hash(out["text"])
    out["previous_hashes"] = list(out.get("previous_hashes") or [])
    out.setdefault("cluster", None)
    out["evidence"] = dict(out.get("evidence") or {})
    out["history"] = list(out.get("history") or [])
    out["notes"] = list(out.get("notes") or [])
    for name in ("fetched_at", "first_seen", "last_seen"):
        parse_time(out[name], name)  # reject bad times here, not halfway through a batch
    return out


def merge(old: dict | None, new: dict) -> tuple[dict, str]:
    """The record to store for a prepared ``new`` item given the stored ``old`` one, and the outcome.

    ``new``: nothing stored. ``changed``: the text's hash differs; the new capture replaces the
    old one, whose hash is appended to previous_hashes. ``seen``: same text; only last_seen and
    the verdict fields move. Either way status, history and first_seen stay as reviewed, and
    last_seen never moves backwards (a spool flushed late carries old fetch times).
    """
    if old is None:
        return new, "new"
    seen_at = max(old["last_seen"], new["last_seen"], key=lambda t: to_ms(t))
    if new["content_hash"] != old["content_hash"]:
        merged = dict(new)
        history = [h for h in old.get("previous_hashes") or [] if h != new["content_hash"]]
        merged["previous_hashes"] = history + [old["content_hash"]]
        outcome = "changed"
    else:
        merged = dict(old)
        for name in VERDICT_FIELDS:
            merged[name] = new[name]
        outcome = "seen"
    for name in REVIEW_FIELDS:
        merged[name] = old.get(name, new[name])  # records stored before a field existed lack it
    # The newest capture wins; a fetch without one (not flagged now, capture off) keeps the
    # last capture, whose files stay on disk as evidence of what was online then.
    merged["evidence"] = new.get("evidence") or old.get("evidence") or {}
    merged["last_seen"] = seen_at
    if "deadline" in old:  # the takedown deadline is set by review(), never by a crawl
        merged["deadline"] = old["deadline"]
    return merged, outcome
