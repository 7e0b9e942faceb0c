"""How facet counts are presented, so both backends list them the same way."""

from __future__ import annotations

from .store import FACETS


def ordered(name: str, counts: dict[str, int]) -> dict[str, int]:
    """Counts largest first (ties by value); the ``day`` facet newest day first."""
    counts = {k: v for k, v in counts.items() if k and v}
    if name == "day":
        return dict(sorted(counts.items(), reverse=True))
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def empty() -> dict[str, dict[str, int]]:
    """Facets of a search that matched nothing."""
    return {name: {} for name in FACETS}
