"""Category ids (DESIGN.md) and the shape of one ground-truth entry in ``truth.json``."""

from __future__ import annotations

CATEGORIES = (
    "surrogacy",
    "gamete_trade",
    "sex_selection",
    "unlicensed_art",
    "birth_certificate",
    "fertility_drugs",
)


def check_labels(labels, where: str) -> list[str]:
    """``labels`` as a list, after checking every id is a DESIGN.md category."""
    labels = list(labels or [])
    unknown = [label for label in labels if label not in CATEGORIES]
    if unknown:
        raise ValueError(f"{where}: unknown category {unknown}; expected one of {CATEGORIES}")
    return labels


def truth_entry(site: str, kind: str, base: str, path: str, title: str, labels, *,
                where: str, **extra) -> dict:
    """One truth.json entry; ``ad`` is true iff the item carries at least one category label.

    ``kind`` says how the item is reached: ``page`` (an HTML page), ``floor`` (one forum
    post inside a thread page, ``path`` ends in ``#pid<N>``), ``api_item`` (a JSON feed item,
    ``path`` is its share page), ``js_item`` (rendered client-side at ``/#/item/<id>``).
    """
    labels = check_labels(labels, where)
    entry = {"site": site, "kind": kind, "path": path, "url": base + path, "title": title,
             "labels": labels, "ad": bool(labels)}
    entry.update({key: value for key, value in extra.items() if value not in (None, [], "")})
    return entry
