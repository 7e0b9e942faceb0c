"""Contact extraction: phones, WeChat ids, QQ numbers, URLs and e-mails, also when disguised.

Ads must be reachable, so they carry a contact; spammers disguise it so that a regex for
``1[3-9]\\d{9}`` does not see it: full-width digits, circled ① or ⒈, Chinese numerals
(一三八, 壹叁捌, 幺), digits split by spaces, dots, emoji or a filler word, 薇/V/➕V for WeChat,
扣扣/企鹅 for QQ, 点com/。cn for URLs.

Everything here works on "views" of the text that keep one character per original
character, so a match's offsets are offsets into the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .normalize import CharMap

CONTACT_KINDS = ("phones", "wechat", "qq", "urls", "emails")

_CN_DIGITS = {
    "零": "0", "〇": "0", "洞": "0",
    "一": "1", "幺": "1", "壹": "1",
    "二": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "參": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
}
_MASK_CHARS = "*＊×?？"


def _build_width_table() -> dict[int, str]:
    """NFKC to one ASCII character (full-width, circled digits), lower-cased: 1:1."""
    table: dict[int, str] = {}
    for cp in range(0x20, 0x30000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        out = unicodedata.normalize("NFKC", ch)
        if len(out) > 1 and out[0].isdigit():
            out = "".join(c for c in out if c.isdigit())  # ⒈ → 1, ⑴ → 1, ⒑ → 10
        out = out.lower()
        # Only what the contact patterns read: letters, digits and the few ASCII symbols of
        # addresses. Folding Chinese punctuation (，→ ,) would only cost time.
        if len(out) == 1 and out != ch and out.isascii() and (out.isalnum() or out in "@#./:-_+()[]~="):
            table[cp] = out
    return table


_WIDTH = _build_width_table()
# Digit view: every digit-like character becomes an ASCII digit, every mask character '*'.
_DIGITS = dict(_WIDTH)
_DIGITS.update({ord(k): v for k, v in _CN_DIGITS.items()})
_DIGITS.update({ord(k): "*" for k in _MASK_CHARS})
_WIDTH_MAP = CharMap(_WIDTH)
_DIGIT_MAP = CharMap(_DIGITS)

# A run of at least five digits where consecutive digits are at most two characters apart
# (a filler word such as 加, emoji) or three non-word characters apart (keycaps like 1️⃣
# carry two invisible marks before a dash).
_DIGIT_RUN = re.compile(r"\d(?:(?:[^\w*\n]{0,3}|[^\d*\n]{0,2})\d){4,}")
_MASK_NEAR = re.compile(r"(?:\*|[x×]{2,})")
_MOBILE = re.compile(r"(?:86)?(1[3-9]\d{9})")
_LANDLINE = re.compile(r"(0[1-9]\d{1,2})(\d{7,8})")
_HOTLINE = re.compile(r"(400\d{7}|800\d{7})")

# Marker alternations start the patterns (no look-behind first) so that re can skip ahead
# to a possible first character; "not inside a Latin word" is checked in code.
_WECHAT_MARK = (
    r"(?:微信|威信|薇信|维信|徽信|唯信|卫信|魏信|围信|微心|vx|wx|weixin|wechat|v信|微|薇|威|卫星|"
    r"加v|\+v|➕v|v|🛰)"
)
_SEP = r"[\s:：=＝\-~～_.,，。、()（）\[\]【】「」\"'“”/|❤♥💗💕🌸✨⭐️\u200b-\u200d\ufeff]{0,4}(?:号|号码|是|为|同号)?[\s:：=\-~～]{0,3}"
_WECHAT = re.compile(_WECHAT_MARK + _SEP + r"([a-z][a-z0-9_\-]{5,19})(?![a-z0-9_\-])")
_WECHAT_NUMERIC = re.compile(_WECHAT_MARK + _SEP + r"$")
_QQ_MARK = re.compile(r"(?<![a-z0-9])(?:qq|扣扣|抠抠|蔻蔻|企鹅|球球|q号|秋秋|q|🐧)" + _SEP + r"$")
_URL = re.compile(
    r"(?:https?://[^\s<>\"'，。！？、）)】]+)"
    r"|(?:www\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)+)"
    r"|(?:[a-z0-9][a-z0-9\-]{1,62})(?:\.|点|。|dot| dot )"
    r"(?:com|cn|net|org|top|xyz|vip|cc|info|biz|site|me|shop|club|tw|hk)(?![a-z])"
    r"(?:/[^\s<>\"'，。！？、]*)?"
)
_URL_HINT = re.compile(r"http|www|com|cn|net|org|top|xyz|vip|cc|info|biz|site|me|shop|club|tw|hk")
_EMAIL_HINT = re.compile(r"@|#|\(at\)|\[at\]")
_EMAIL = re.compile(r"[a-z0-9][a-z0-9._+\-]*\s*(?:@|\(at\)|\[at\]|#)\s*[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:com|cn|net|org)")


@dataclass
class ContactSpan:
    """One contact found in the text: kind, normalised value and original offsets."""

    kind: str
    value: str
    start: int
    end: int


@dataclass
class Contacts:
    """Contacts of one text, each kind deduplicated in order of appearance."""

    spans: list[ContactSpan] = field(default_factory=list)

    def add(self, kind: str, value: str, start: int, end: int) -> None:
        self.spans.append(ContactSpan(kind, value, start, end))

    def as_dict(self) -> dict[str, list[str]]:
        """The verdict's ``contacts`` object."""
        out: dict[str, list[str]] = {k: [] for k in CONTACT_KINDS}
        for span in self.spans:
            if span.value not in out[span.kind]:
                out[span.kind].append(span.value)
        return out

    def __bool__(self) -> bool:
        return bool(self.spans)


def _classify_digits(digits: str) -> tuple[str, str] | None:
    """(kind, value) for a digit string that is a whole phone number, else None."""
    if m := _MOBILE.fullmatch(digits):
        return "phones", m.group(1)
    if m := _HOTLINE.fullmatch(digits):
        return "phones", m.group(1)
    if (m := _LANDLINE.fullmatch(digits)) and len(digits) in (10, 11, 12):
        return "phones", digits
    return None


def extract(text: str) -> Contacts:
    """All contacts in ``text``; masked numbers such as 139****0716 are not contacts."""
    found = Contacts()
    if not text:
        return found
    # One view for every pattern: width-folded, lower-cased, digit-like characters as ASCII
    # digits and mask characters as '*' (a WeChat id written 一二三 is then read as 123 too).
    digit_view = _DIGIT_MAP.apply(text)
    width = digit_view
    claimed: list[tuple[int, int]] = []

    for m in _DIGIT_RUN.finditer(digit_view):
        start, end = m.span()
        before = digit_view[max(0, start - 3):start]
        after = digit_view[end:end + 3]
        # A run next to a mask is part of a masked number, shown on purpose as unusable.
        if _MASK_NEAR.search(before) or _MASK_NEAR.search(after) or "*" in m.group():
            continue
        digits = re.sub(r"\D", "", m.group())
        head = width[max(0, start - 12):start]
        if _QQ_MARK.search(head) and 5 <= len(digits) <= 11 and not _MOBILE.fullmatch(digits):
            found.add("qq", digits, start, end)
            claimed.append((start, end))
            continue
        kind_value = _classify_digits(digits)
        if kind_value is None:
            continue
        found.add(*kind_value, start, end)
        claimed.append((start, end))
        if kind_value[1].startswith("1") and _WECHAT_NUMERIC.search(head):
            found.add("wechat", kind_value[1], start, end)

    def latin_before(pos: int) -> bool:
        return pos > 0 and width[pos - 1].isascii() and (width[pos - 1].isalnum() or width[pos - 1] in "@.-")

    for m in _WECHAT.finditer(width):
        value = m.group(1)
        if value.isdigit() or (width[m.start()].isascii() and latin_before(m.start())):
            continue
        found.add("wechat", value, m.start(1), m.end(1))
    # Cheap literal searches decide whether the costlier e-mail and URL patterns run at all.
    emails = _EMAIL.finditer(width) if _EMAIL_HINT.search(width) else ()
    urls = _URL.finditer(width) if _URL_HINT.search(width) else ()
    for m in emails:
        raw = _WIDTH_MAP.apply(text[m.start():m.end()])
        value = re.sub(r"\s*(?:\(at\)|\[at\]|#)\s*", "@", raw).replace(" ", "")
        found.add("emails", value, m.start(), m.end())
        claimed.append(m.span())
    for m in urls:
        if any(s <= m.start() < e for s, e in claimed) or latin_before(m.start()):
            continue
        raw = _WIDTH_MAP.apply(text[m.start():m.end()])
        value = re.sub(r"(?:点|。| dot |dot)(?=[a-z]+(?:/|$))", ".", raw.rstrip(".,"))
        found.add("urls", value, m.start(), m.end())
    found.spans.sort(key=lambda s: s.start)
    return found
