"""The highlight snippet shown with each search result, the same on both backends.

It is cut from the item's original text (never from index tokens, which are lower-cased,
normalised and re-spaced), around the first place a query word occurs or, without one,
around the first classifier hit, with those words wrapped in 【】.
"""

from __future__ import annotations

import re

from .tokenize import fold, query_tokens

SNIPPET_CHARS = 160  # whole snippet, markers and ellipses included
_BEFORE = 30  # characters of context kept before the first match
_SPACE = re.compile(r"\s+")
OPEN, CLOSE, MORE = "【", "】", "…"


def _folded_with_offsets(text: str) -> tuple[str, list[int] | None]:
    """``fold(text)`` and, only when folding changed the length, each folded char's source index."""
    folded = fold(text)
    if len(folded) == len(text):
        return folded, None
    chars, offsets = [], []
    for i, ch in enumerate(text):
        f = fold(ch)
        chars.append(f)
        offsets.extend([i] * len(f))
    return "".join(chars), offsets


def query_terms(q: str) -> list[str]:
    """What to look for in the text: the query's own words and its tokens, longest first."""
    terms = {t for t in fold(q).split() if t} | set(query_tokens(q))
    return sorted(terms, key=len, reverse=True)


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Merged (start, end) spans in ``text`` where any of ``terms`` occurs, case-insensitively."""
    if not text or not terms:
        return []
    folded, offsets = _folded_with_offsets(text)
    spans = []
    for term in terms:
        start = folded.find(term)
        while start >= 0:
            end = start + len(term)
            if offsets is None:
                spans.append((start, end))
            else:
                spans.append((offsets[start], offsets[end - 1] + 1))
            start = folded.find(term, end)
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _hit_spans(text: str, hits: list[dict]) -> list[tuple[int, int]]:
    spans = []
    for hit in hits or []:
        start, end, word = hit.get("start"), hit.get("end"), hit.get("text") or ""
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text) \
                and (not word or text[start:end] == word):
            spans.append((start, end))
        elif word:
            # Offsets from another version of the text: find the words instead.
            pos = text.find(word)
            if pos >= 0:
                spans.append((pos, pos + len(word)))
    return _merge(spans)


def snippet(text: str, query: str = "", hits: list[dict] | None = None,
            width: int = SNIPPET_CHARS) -> str:
    """At most ``width`` characters of ``text`` around the first match, matches in 【】."""
    text = text or ""
    spans = match_spans(text, query_terms(query)) if query else []
    if not spans:
        spans = _hit_spans(text, hits or [])
    anchor = spans[0][0] if spans else 0
    budget = width
    while True:
        out = _render(text, spans, anchor, budget)
        if len(out) <= width or budget <= 10:
            return out[:width]
        budget -= len(out) - width


def _render(text: str, spans: list[tuple[int, int]], anchor: int, budget: int) -> str:
    start = max(0, anchor - _BEFORE)
    end = min(len(text), start + budget)
    start = max(0, min(start, end - budget))  # near the end: show more before, not less
    parts, pos = [], start
    for s, e in spans:
        s, e = max(s, start), min(e, end)
        if s >= e:
            continue
        parts += [text[pos:s], OPEN, text[s:e], CLOSE]
        pos = e
    parts.append(text[pos:end])
    body = _SPACE.sub(" ", "".join(parts)).strip()
    return (MORE if start > 0 else "") + body + (MORE if end < len(text) else "")
