"""Loading the demo sites' content (``demo/content/*.yaml``): texts are data, not code."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import yaml

CONTENT_DIR = Path(__file__).resolve().parent / "content"
TRUTH_FILE = CONTENT_DIR / "truth.json"
# All demo times are Beijing time; pages print them without a zone, APIs as epoch seconds.
CHINA_TZ = timezone(timedelta(hours=8))


@lru_cache(maxsize=None)
def load(name: str) -> dict:
    """The parsed ``demo/content/<name>.yaml`` (cached: content never changes while running)."""
    path = CONTENT_DIR / f"{name}.yaml"
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def parse_time(text: str) -> datetime:
    """``2024-05-02 09:15`` (Beijing time) as an aware datetime."""
    return datetime.strptime(str(text), "%Y-%m-%d %H:%M").replace(tzinfo=CHINA_TZ)
