"""Text normalisation for matching, with a map back to the original offsets.

Spammers write 代*孕, 代 孕, ｄａｉ, 試管, 代​孕 (zero-width space) or 代🌸孕 to slip past word
filters. We fold every character through one table, built once from Unicode data and
OpenCC, so that matching sees 代孕/dai/试管:

* NFKC (full-width → half-width, circled ① → 1, compatibility ideographs);
* traditional → simplified, character by character from OpenCC's t2s data — per
  character so that every normalised character still comes from one original position;
* case folding;
* deletion of filler: spaces, punctuation, symbols, emoji, zero-width and other format
  characters, combining marks and private-use characters. Deleting sentence punctuation
  too means 现代。孕妇 reads 现代孕妇; the word-boundary check in the matcher, not this
  module, keeps 代孕 from firing there.
* ``+`` and ``➕`` read as 加 (``➕V`` / ``+微`` mean 加微信).

The table maps a code point to its final string ('' for deleted, several characters for
expansions such as ⒈ → 1). ``str.translate`` applies it at C speed; the offset map is
built only when a caller asks for original offsets, from the few positions whose output
is not exactly one character.
"""

from __future__ import annotations

import bisect
import hashlib
import marshal
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

# Categories of characters that carry no letters: removed wherever they stand.
_FILLER_CATEGORIES = {
    "Zs", "Zl", "Zp", "Cc", "Cf", "Co", "Cs", "Mn", "Me", "Mc",
    "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sk", "So",
}
# Symbols that carry meaning for the rules and are kept (prices, rates).
_KEEP = {"%", "¥", "$"}
# Symbols that stand for a word in ads: ➕V, +微, ＋q.
_AS_WORD = {"+": "加", "➕": "加", "✚": "加"}
_MAX_CODEPOINT = 0x30000  # BMP, emoji planes and CJK extension B; beyond is unused in ads
_TABLE_VERSION = "3"


def _opencc_t2s():
    import opencc

    return opencc.OpenCC("t2s"), getattr(opencc, "__version__", "?")


def _build_table() -> dict[int, str]:
    converter, _ = _opencc_t2s()
    table: dict[int, str] = {}

    def fold_char(ch: str) -> str:
        if ch in _AS_WORD:
            return _AS_WORD[ch]
        if ch in _KEEP:
            return ch
        if unicodedata.category(ch) in _FILLER_CATEGORIES:
            return ""
        return ch.lower()

    for cp in range(_MAX_CODEPOINT):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            table[cp] = ""
            continue
        out = "".join(fold_char(c) for c in unicodedata.normalize("NFKC", ch))
        if len(out) == 1 and ("\u3400" <= out <= "\u9fff" or "\uf900" <= out <= "\ufaff"):
            simple = converter.convert(out)
            if len(simple) == 1:
                out = simple
        if out != ch:
            table[cp] = out
    return table


def _cache_key() -> str:
    _, opencc_version = _opencc_t2s()
    raw = f"{_TABLE_VERSION}|{unicodedata.unidata_version}|{opencc_version}|{sys.version_info[:2]}"
    return hashlib.sha1(raw.encode()).hexdigest()[:12]


def load_table(cache_dir: Path | None) -> dict[int, str]:
    """The folding table, from the cache when it is there (building it takes ~1 s)."""
    if cache_dir is None:
        return _build_table()
    path = Path(cache_dir) / f"fold-{_cache_key()}.marshal"
    try:
        return marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError):
        table = _build_table()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(marshal.dumps(table))
        tmp.replace(path)
        return table


def _char_class(codepoints: list[int]) -> str:
    """A regex character class covering the given sorted code points as ranges."""
    parts = []
    start = prev = codepoints[0]
    for cp in codepoints[1:] + [-1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(re.escape(chr(start)) if start == prev
                     else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
        start = prev = cp
    return "[" + "".join(parts) + "]"


@dataclass
class Normalized:
    """A normalised text and the way back to the original's offsets."""

    original: str
    text: str
    _folder: "Folder" = field(repr=False)
    _norm_bp: list[int] | None = field(default=None, repr=False)
    _orig_bp: list[int] | None = field(default=None, repr=False)
    _lens: list[int] | None = field(default=None, repr=False)

    def _build(self) -> None:
        norm_bp, orig_bp, lens = [], [], []
        table = self._folder.table
        n = last = 0
        for m in self._folder.irregular.finditer(self.original):
            p = m.start()
            n += p - last
            size = len(table.get(ord(self.original[p]), self.original[p]))
            norm_bp.append(n)
            orig_bp.append(p)
            lens.append(size)
            n += size
            last = p + 1
        self._norm_bp, self._orig_bp, self._lens = norm_bp, orig_bp, lens

    def orig_index(self, i: int) -> int:
        """Original index of the character that produced normalised character ``i``."""
        if self._norm_bp is None:
            self._build()
        # The last irregular position at or before i; several deletions may share its
        # normalised index, and the last of them is the one i follows.
        k = bisect.bisect_right(self._norm_bp, i) - 1
        if k < 0:
            return i
        start, orig, size = self._norm_bp[k], self._orig_bp[k], self._lens[k]
        if i < start + size:
            return orig
        return orig + 1 + (i - start - size)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``(start, end)`` of the normalised slice ``text[start:end]``."""
        if end <= start:
            o = self.orig_index(start) if start < len(self.text) else len(self.original)
            return o, o
        return self.orig_index(start), self.orig_index(end - 1) + 1


class Folder:
    """Applies the folding table; build once, use for every text."""

    def __init__(self, cache_dir: Path | None = None):
        self.table = load_table(cache_dir)
        irregular = sorted(cp for cp, out in self.table.items() if len(out) != 1)
        self.irregular = re.compile(_char_class(irregular))

    def fold(self, text: str) -> str:
        """The normalised text alone (no offset map)."""
        return text.translate(self.table)

    def normalize(self, text: str) -> Normalized:
        """The normalised text with its offset map back to ``text``."""
        return Normalized(text, text.translate(self.table), self)
