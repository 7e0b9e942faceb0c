"""Standard crontab expressions as APScheduler 3 triggers, in Beijing time.

APScheduler 3's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0, while crontab
numbers them from Sunday = 0 (its issue 286, fixed only in 4.x): ``0 8 * * 1`` would run on
Tuesdays. Officers copy cron lines from crontab habits and documentation, so numeric weekdays
are translated here to weekday names, which both agree on.
"""

from __future__ import annotations

import re

TIMEZONE = "Asia/Shanghai"
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC = re.compile(r"^(\*|\d+)(?:-(\d+))?(?:/(\d+))?$")


def _weekdays(field: str) -> str:
    """A crontab day-of-week field with numbers (0 or 7 = Sunday) turned into names."""
    out = []
    for part in field.lower().split(","):
        m = _NUMERIC.match(part)
        if not m or part == "*":
            out.append(part)  # names (mon-fri) and * mean the same to both
            continue
        start, end, step = m.groups()
        if start == "*":
            first, last = 0, 6
        else:
            first = int(start)
            last = int(end) if end is not None else (6 if step else first)
        if not (0 <= first <= 7 and 0 <= last <= 7) or first > last:
            raise ValueError(f"day of week {part!r}: expected 0-7 (0 and 7 are Sunday)")
        days = range(first, last + 1, int(step or 1))
        out.extend(dict.fromkeys(_DAY_NAMES[d % 7] for d in days))
    return ",".join(dict.fromkeys(out))


def cron_trigger(expr: str, timezone: str = TIMEZONE):
    """The CronTrigger of a five-field crontab line (minute hour day month weekday).

    ValueError with a readable reason when the line is malformed. A line restricting both day
    of month and day of week is refused: crontab runs when *either* matches, APScheduler only
    when both do, and silently picking one meaning would run on the wrong days.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = str(expr or "").split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}: {expr!r}")
    minute, hour, day, month, weekday = fields
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise ValueError(f"{expr!r}: give a day of month or a day of week, not both")
    try:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_weekdays(weekday), timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"{expr!r}: {exc}") from None
