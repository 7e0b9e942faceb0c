"""Chinese word tokens for the full-text index and for queries (jieba, no server plugin).

Both backends index the same pre-tokenised text: words separated by single spaces, which
SQLite's FTS5 ``unicode61`` tokenizer and Elasticsearch's ``whitespace`` analyzer split back
into exactly these tokens. Documents are cut in jieba's *search* mode (a long word also
yields its dictionary sub-words: 试管婴儿 → 试管 婴儿 试管婴儿) and queries in *accurate*
mode, so a query word matches wherever the document contains it as a word or sub-word,
while 现代生活 never yields 代孕.

The cutting is jieba's, run by rjieba (jieba-rs, the Rust port with the same dictionary and
algorithm): on our four corpora it gives token for token the same output as Python jieba,
about six times faster. Tokenising was the bottleneck of indexing and of the crawl pipeline;
repeated texts are still cached by hash and bulk indexing can fan out to a :class:`TokenPool`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import re
import threading
import unicodedata
from collections import OrderedDict


# Domain words the stock dictionary lacks or ranks too low. Without them 供卵 is cut 供|卵 and
# a query for it also matches every text that merely has 供 and 卵 as single characters.
# The frequency beats single characters but stays below common words, so 现代|孕妇 still
# wins over 现|代孕|妇.
DOMAIN_WORDS = (
    "代孕", "代孕妈妈", "代妈", "助孕", "供卵", "捐卵", "借卵", "取卵", "卵子", "供精", "捐精",
    "借精", "精子库", "试管婴儿", "三代试管", "第三代试管", "促排卵", "促排", "取卵针",
    "克罗米芬", "来曲唑", "性别鉴定", "胎儿性别", "鉴定性别", "选性别", "包性别", "包男孩",
    "包成功", "出生证明", "出生医学证明", "出生证", "辅助生殖", "人工授精", "私人授精",
    "微信", "加微", "加微信",  # contact words: every ad has one; 微|信 would match anything with both
)
_DOMAIN_FREQ = 2000
# Words are runs of letters and digits; FTS5's unicode61 would split anything else anyway
# (wx_abc → wx abc), so splitting here keeps both backends on identical tokens.
_WORD = re.compile(r"[^\W_]+")
_CACHE_SIZE = 50_000
_CACHE_MAX_TEXT = 20_000  # longer texts are rarely repeated verbatim; don't pin them in memory

_lock = threading.Lock()
_tokenizer = None
_cache: OrderedDict[bytes, str] = OrderedDict()


def _jieba():
    """The shared tokenizer (rjieba), built once per process (about 0.1 s) with the domain words."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import rjieba

                tk = rjieba.Jieba()
                for word in DOMAIN_WORDS:
                    tk.add_word(word, _DOMAIN_FREQ, None)
                _tokenizer = tk
    return _tokenizer


def fold(text: str) -> str:
    """The form both index and query are cut from: NFKC (full-width → half-width), lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def _words(tokens) -> list[str]:
    out = []
    for tok in tokens:
        out.extend(_WORD.findall(tok))
    return out


def _cut_for_index(text: str) -> str:
    # HMM off on both sides: its guesses at unknown words depend on the surrounding text,
    # so the same word could be cut differently in a document and in a query.
    return " ".join(_words(_jieba().cut_for_search(fold(text), False)))


def index_tokens(text: str) -> str:
    """Space-joined search-mode tokens of ``text`` (lower-cased, punctuation dropped)."""
    if not text:
        return ""
    if len(text) > _CACHE_MAX_TEXT:
        return _cut_for_index(text)
    key = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    tokens = _cut_for_index(text)
    with _lock:
        _cache[key] = tokens
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return tokens


def query_tokens(q: str) -> list[str]:
    """The words of a query (accurate mode), each of which a matching item must contain."""
    if not q or not q.strip():
        return []
    seen: dict[str, None] = {}
    for word in _words(_jieba().cut(fold(q), False)):
        seen.setdefault(word, None)
    return list(seen)


def document_tokens(item: dict) -> tuple[str, str]:
    """Index tokens of an item's title and text."""
    return index_tokens(item.get("title") or ""), index_tokens(item.get("text") or "")


class TokenPool:
    """Worker processes that tokenise items for bulk indexing, in order.

    Each worker starts once (an interpreter and the dictionary), so keep one pool for a whole crawl or
    import rather than one per batch. ``processes=1`` tokenises in the calling process.
    """

    def __init__(self, processes: int = 2):
        self.processes = max(1, processes)
        self._pool = None
        if self.processes > 1:
            # fork would copy a half-initialised tokenizer and the parent's locks; spawn is clean.
            ctx = multiprocessing.get_context("spawn")
            self._pool = ctx.Pool(self.processes, initializer=_jieba)

    def map(self, items: list[dict]) -> list[tuple[str, str]]:
        """(title tokens, text tokens) for each item."""
        pairs = [(i.get("title") or "", i.get("text") or "") for i in items]
        if self._pool is None or len(pairs) < 64:
            return [_tokens_pair(p) for p in pairs]
        chunk = max(16, len(pairs) // (self.processes * 8))
        return self._pool.map(_tokens_pair, pairs, chunksize=chunk)

    def map_async(self, items: list[dict]):
        """Start tokenising ``items``; ``.get()`` on the result returns what :meth:`map` would."""
        pairs = [(i.get("title") or "", i.get("text") or "") for i in items]
        if self._pool is None:
            return _Ready([_tokens_pair(p) for p in pairs])
        chunk = max(16, len(pairs) // (self.processes * 8))
        return self._pool.map_async(_tokens_pair, pairs, chunksize=chunk)

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "TokenPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Ready:
    """An already computed result with the AsyncResult ``get`` method."""

    def __init__(self, value):
        self._value = value

    def get(self, timeout=None):
        return self._value


def _tokens_pair(pair: tuple[str, str]) -> tuple[str, str]:
    return index_tokens(pair[0]), index_tokens(pair[1])
