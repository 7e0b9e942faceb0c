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
built only when a caller asks for original offsets.
"""

from __future__ import annotations

import bisect
from itertools import accumulate
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
# Symbols that stand for a word in ads: ➕V (加V), 🥚妹 (卵妹), 寄🩸 (寄血), 👦👧鉴定 (男女鉴定),
# 代🤰 (代孕), 🐧 (企鹅, QQ). Emoji that carry no word are filler and deleted.
_AS_WORD = {"+": "加", "➕": "加", "✚": "加", "🥚": "卵", "🩸": "血", "👦": "男", "👧": "女",
            "🚹": "男", "🚺": "女", "♂": "男", "♀": "女", "🤰": "孕", "💉": "针", "💊": "药",
            "📞": "电话", "☎": "电话", "📱": "电话", "🐧": "企鹅", "🛰": "卫星"}
_MAX_CODEPOINT = 0x30000  # BMP, emoji planes and CJK extension B; beyond is unused in ads
_TABLE_VERSION = "5"


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


def _class_regex(codepoints: list[int]) -> re.Pattern:
    """A regex matching one of the code points, fast on BMP text.

    re tests a BMP-only class against a bitmap, but a class with astral ranges is a linear
    list of ranges, so astral characters get the full class only after a cheap range test.
    """
    bmp = [cp for cp in codepoints if cp <= 0xFFFF]
    astral = [cp for cp in codepoints if cp > 0xFFFF]
    parts = [_char_class(bmp)] if bmp else []
    if astral:
        parts.append(f"[\U00010000-\U0010FFFF](?<={_char_class(astral)})")
    return re.compile("|".join(parts))


class CharMap:
    """A per-character mapping applied with one regex pass over the characters it changes.

    For Chinese text this is about twice as fast as ``str.translate``, which allocates an
    integer for every CJK character it looks up, while here only changed characters (a
    few percent) cost any Python work.
    """

    def __init__(self, table: dict[int, str]):
        self.table = table
        self.by_char = {chr(cp): out for cp, out in table.items()}
        self.regex = _class_regex(sorted(table))
        lookup = self.by_char.__getitem__
        self._repl = lambda m: lookup(m.group())

    def apply(self, text: str) -> str:
        """The mapped text."""
        return self.regex.sub(self._repl, text)


@dataclass
class Normalized:
    """A normalised text and the way back to the original's offsets.

    Folding runs in two stages, and the map composes them: filler deletion (most of the
    changed characters) splits the text at C speed and records where it cut; the few
    remaining changes (t2s, case, ⒈ → 1) go through a callback that records expansions.
    """

    original: str
    text: str
    _del_at: list[int] = field(repr=False)   # per deletion: its index in the intermediate text
    _exp_at: list[int] = field(repr=False)   # per expansion: its intermediate index
    _exp_len: list[int] = field(repr=False)  # per expansion: its folded length (0 or >1)
    _exp_norm: list[int] | None = field(default=None, repr=False)
    _exp_shift: list[int] | None = field(default=None, repr=False)

    def _build(self) -> None:
        shift, acc, norm = [0], 0, []
        for at, size in zip(self._exp_at, self._exp_len):
            norm.append(at + acc)
            acc += size - 1
            shift.append(acc)
        self._exp_norm, self._exp_shift = norm, shift

    def _mid_to_orig(self, q: int) -> int:
        # q plus the number of deleted characters before the q-th kept one.
        return q + bisect.bisect_right(self._del_at, q)

    def orig_index(self, i: int) -> int:
        """Original index of the character that produced normalised character ``i``."""
        if self._exp_norm is None:
            self._build()
        k = bisect.bisect_right(self._exp_norm, i) - 1
        if k < 0:
            q = i
        else:
            start, at, size = self._exp_norm[k], self._exp_at[k], self._exp_len[k]
            q = at if i < start + size else at + 1 + (i - start - size)
        return self._mid_to_orig(q)

    def norm_index(self, p: int) -> int:
        """Normalised index of the first character at or after original position ``p``."""
        if self._exp_shift is None:
            self._build()
        # Kept characters before p in the intermediate text, then expansions before that.
        lo, hi = 0, len(self._del_at)
        while lo < hi:  # deletions whose original position (at + index) is below p
            mid = (lo + hi) // 2
            if self._del_at[mid] + mid < p:
                lo = mid + 1
            else:
                hi = mid
        q = p - lo
        return q + self._exp_shift[bisect.bisect_left(self._exp_at, q)]

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
        deleted = sorted(cp for cp, out in self.table.items() if out == "")
        self._delete = _class_regex(deleted)
        self._map = CharMap({cp: out for cp, out in self.table.items() if out != ""})

    def fold(self, text: str) -> str:
        """The normalised text alone (no offset map)."""
        return self._map.apply(self._delete.sub("", text))

    def normalize(self, text: str) -> Normalized:
        """The normalised text with its offset map back to ``text``."""
        parts = self._delete.split(text)
        # Deletion j sits after parts[0..j]; in the intermediate text that is at their length.
        del_at = list(accumulate(map(len, parts[:-1])))
        exp_at: list[int] = []
        exp_len: list[int] = []
        lookup = self._map.by_char.__getitem__

        def repl(m: re.Match) -> str:
            out = lookup(m.group())
            if len(out) != 1:
                exp_at.append(m.start())
                exp_len.append(len(out))
            return out

        folded = self._map.regex.sub(repl, "".join(parts))
        return Normalized(text, folded, del_at, exp_at, exp_len)
