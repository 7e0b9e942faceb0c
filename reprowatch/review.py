"""Review decisions, one way for the CLI and the web UI: the note rule, the takedown deadline.

A move to ``notice_sent`` always carries a deadline (the takedown recheck acts on it): the one
the officer gives, else now + the office config's ``deadline_days``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from search.store import NotFoundError, check_note

BEIJING = ZoneInfo("Asia/Shanghai")


def parse_deadline(value: str) -> str:
    """An officer's deadline as UTC ISO: a date means the end of that day in Beijing time; a
    time without zone is Beijing time. ValueError naming the value otherwise."""
    value = value.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None and len(value) == 10:
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BEIJING)
        return end.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"deadline: not a date (YYYY-MM-DD) or time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)  # officers write Beijing time
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def default_deadline(data: Path, config_file: str | None = None) -> str:
    """Now + the office config's ``deadline_days``, as UTC ISO (ConfigError for a bad config)."""
    from evidence.config import load_config

    days = load_config(config_file, data).deadline_days
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat(timespec="seconds").replace("+00:00", "Z")


def decide(store, item_id: str, status: str, *, note: str = "", user: str = "", deadline: str | None = None,
           data: Path | None = None, config_file: str | None = None) -> tuple[dict, dict]:
    """Apply one review decision; returns the item (before, after). NotFoundError,
    TransitionError (NoteRequiredError for a dismissal without a note), ValueError for a
    deadline on another status or an unreadable one, ConfigError for a bad office config."""
    note = (note or "").strip()
    check_note(status, note)
    before = store.get(item_id)
    if before is None:
        raise NotFoundError(f"no item with id {item_id!r}")
    if deadline:
        deadline = parse_deadline(deadline)  # the store refuses it on any status but notice_sent
    elif status == "notice_sent":
        from reprowatch.paths import data_dir

        deadline = default_deadline(data or data_dir(), config_file)
    after = store.review(item_id, status, note=note, user=user, deadline=deadline)
    return before, after
