"""The classifier: one Aho–Corasick pass over normalised text, then rules weighed in context.

Flat word lists flag crackdown news as often as ads, because news quotes the ads. Here a
term hit is only a candidate: its score rises with ad signals near it (a real contact,
加微/私聊, prices, guarantees, service words) and falls with report signals (警方, 判处,
记者, legal citations, condemnation) and licensed-provider signals (卫健委批准, 人类精子库).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import ahocorasick_rs

from . import contacts as contacts_mod
from .normalize import Folder
from .rulepack import CATEGORIES, RulePacks, load_rule_packs

# A document this long is scanned whole, but only this many candidate hits are weighed:
# it bounds time and memory on hostile input (a 10 MB page repeating one ad).
MAX_CANDIDATES = 2000
_PATTERN_REACH = 40  # characters around an anchor where its regex may match
_BOUNDARY_REACH = 3  # characters of context segmented around a short term
# Candidates starting in the same bucket share one context window (its edges move by at
# most a bucket, which is small against the window), so a page repeating a term costs one
# context computation per bucket, not per occurrence.
_BUCKET = 64
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class Hit:
    """A rule that fired: offsets are into the original text."""

    rule: str
    category: str
    text: str
    start: int
    end: int

    def as_dict(self) -> dict:
        return {"rule": self.rule, "category": self.category, "text": self.text,
                "start": self.start, "end": self.end}


@dataclass
class Verdict:
    """The result of classifying one text (DESIGN.md verdict contract).

    ``contacts`` may be given as a function of no arguments: for a text without any
    candidate hit the contacts are extracted only when someone reads them.
    """

    flagged: bool
    labels: list[str]
    score: float
    hits: list[Hit]
    _contacts: dict[str, list[str]] | Callable[[], dict[str, list[str]]]
    scores: dict[str, float] = field(default_factory=dict)
    explain: list[dict] | None = None

    @property
    def contacts(self) -> dict[str, list[str]]:
        if callable(self._contacts):
            self._contacts = self._contacts()
        return self._contacts

    def as_dict(self) -> dict:
        out = {"flagged": self.flagged, "labels": self.labels, "score": round(self.score, 4),
               "hits": [h.as_dict() for h in self.hits], "contacts": self.contacts,
               "scores": {k: round(v, 4) for k, v in self.scores.items()}}
        if self.explain is not None:
            out["explain"] = self.explain
        return out


@dataclass
class _Context:
    lo: int
    hi: int
    groups: set[str]
    ad: float
    report: float
    signals: list[str]


@dataclass(slots=True)
class _Candidate:
    rule_index: int
    nstart: int
    nend: int


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _pinyin_variants(term: str) -> list[str]:
    """Code-word spellings of a Chinese term: daiyun, dai孕, 代yun, sandai试管, 出生zhengming.

    The whole term in pinyin, and each two-character chunk (for two-character terms each
    character) in pinyin with the rest kept, as spammers write them.
    """
    from pypinyin import lazy_pinyin

    if not (2 <= len(term) <= 6) or not all(_CJK.match(c) for c in term):
        return []
    syllables = lazy_pinyin(term)
    out = []
    full = "".join(syllables)
    if len(full) >= 5:
        out.append(full)
    size = 1 if len(term) == 2 else 2
    for i in range(0, len(term), size):
        chunk = "".join(syllables[i:i + size])
        if len(chunk) >= 3:
            out.append(term[:i] + chunk + term[i + size:])
    return out


class _Segmenter:
    """jieba's segmentation (no HMM) with our vocabulary, run by rjieba: the Rust port with the
    same dictionary and algorithm cuts identically, loads in a tenth of the time (a crawl's
    worker process loads a classifier per run) and cuts several times faster."""

    def __init__(self, words: set[str]):
        import rjieba

        self._tk = rjieba.Jieba()
        for w in sorted(words):
            if _CJK.search(w):
                # Frequent enough that our term wins against single characters, rarer than
                # common words, so 现代|孕妇 still beats 现|代孕|妇 on probability.
                self._tk.add_word(w, 2000, None)
        self.spans = lru_cache(maxsize=65536)(self._spans)

    def _spans(self, text: str) -> tuple[tuple[int, int, str], ...]:
        out, pos = [], 0
        for tok in self._tk.cut(text, False):
            out.append((pos, pos + len(tok), tok))
            pos += len(tok)
        return tuple(out)


class Classifier:
    """Compiled rule packs; ``classify`` is thread-compatible and allocation-light."""

    def __init__(self, packs: RulePacks, cache_dir: Path | None = None):
        self.packs = packs
        self.scoring = packs.scoring
        self.folder = Folder(cache_dir)
        fold = self.folder.fold
        # Every literal we look for, folded the way the text is, with what it stands for.
        roles: dict[str, list[tuple[str, object]]] = defaultdict(list)
        self._pattern_list: list[tuple[str, object, object]] = []  # (kind, owner, Pattern)

        def add(literal: str, role: tuple[str, object]):
            folded = fold(literal)
            if folded:
                roles[folded].append(role)

        variants = [(fold(k), [fold(x) for x in v]) for k, v in packs.variants.items()]
        for i, rule in enumerate(packs.rules):
            for term in rule.terms:
                add(term, ("rule", i))
                folded = fold(term)
                # Homophone spellings (context.yaml `variants`) of every term: 式管 for 试管 …
                for canon, alternatives in variants:
                    if canon in folded:
                        for alt in alternatives:
                            add(folded.replace(canon, alt), ("rule", i))
                if rule.pinyin:
                    for variant in _pinyin_variants(folded):
                        add(variant, ("rule", i))
            for p in rule.patterns:
                self._pattern_list.append(("rule", i, p))
        for name, group in packs.groups.items():
            for term in group.terms:
                add(term, ("group", name))
            for p in group.patterns:
                self._pattern_list.append(("group", name, p))
        for b in packs.blockers:
            add(b, ("blocker", None))
        for k, (_, _, p) in enumerate(self._pattern_list):
            for a in p.anchors:
                add(a, ("anchor", k))
        # Two automatons: what can make a candidate (rule terms, anchors, blockers) and
        # context words. Words a rule's `with`/`requires`/`excludes` name are looked for with
        # str.find in the candidate's window only, since many are single characters. Most texts have no candidate, and then the
        # far more frequent context words are never scanned for.
        standard = ahocorasick_rs.MatchKind.Standard
        self._requires = [[r.split("+") for r in rule.requires] for rule in packs.rules]
        self._folded_refs = {ref: fold(ref) for rule in packs.rules
                             for ref in [p for r in rule.requires for p in r.split("+")] + rule.excludes + rule.with_terms}
        self._literals = [lit for lit, rs in roles.items() if any(k != "group" for k, _ in rs)]
        self._roles = [[r for r in roles[lit] if r[0] != "group"] for lit in self._literals]
        self._ac = ahocorasick_rs.AhoCorasick(self._literals, matchkind=standard)
        self._rule_roles = [[ref for k, ref in rs if k == "rule"] for rs in self._roles]
        self._anchor_roles = [[ref for k, ref in rs if k == "anchor"] for rs in self._roles]
        self._blocker_roles = [any(k == "blocker" for k, _ in rs) for rs in self._roles]
        group_literals = [lit for lit, rs in roles.items() if any(k == "group" for k, _ in rs)]
        self._group_of = [[ref for k, ref in roles[lit] if k == "group"] for lit in group_literals]
        self._ac_groups = ahocorasick_rs.AhoCorasick(group_literals, matchkind=standard)
        self._lexicon = {lit for lit, rs in roles.items() if any(k in ("rule", "group") for k, _ in rs)}
        self._segmenter = _Segmenter(self._lexicon | {fold(b) for b in packs.blockers})

    @classmethod
    def load(cls, rules_dir: Path | str | None = None, cache_dir: Path | str | None = None) -> "Classifier":
        """Load and compile rule packs (bundled ones by default); caches go to ``data/cache``."""
        if cache_dir is None:
            from reprowatch.paths import cache_dir as default_cache

            cache_dir = default_cache()
        return cls(load_rule_packs(rules_dir), Path(cache_dir))

    # -- matching -------------------------------------------------------------------------

    def _boundary_ok(self, t: str, s: int, e: int) -> bool:
        """False when the term is part of a longer ordinary word (现代|生活, 帮助|孕妇)."""
        ws, we = max(0, s - _BOUNDARY_REACH), min(len(t), e + _BOUNDARY_REACH)
        rs, re_ = s - ws, e - ws
        for a, b, tok in self._segmenter.spans(t[ws:we]):
            if b <= rs or a >= re_:
                continue
            crosses = (a < rs < b) or (a < re_ < b)
            contains = a <= rs and b >= re_ and (a, b) != (rs, re_)
            if crosses and not (a <= rs and b >= re_):
                return False
            if contains and tok not in self._lexicon:
                return False
        return True

    def _ascii_boundary_ok(self, original: str, start: int, end: int) -> bool:
        """A Latin code word (daiyun, vx) must not be the inside of a longer Latin word."""
        table = self.folder.table

        def latin(i: int) -> bool:
            if not 0 <= i < len(original):
                return False
            ch = table.get(ord(original[i]), original[i])[:1] or original[i]
            # Underscores join Latin words too: daiyun in the WeChat id daiyun_home77.
            return ch.isascii() and (ch.isalnum() or ch == "_")

        return not ((latin(start) and latin(start - 1)) or (latin(end - 1) and latin(end)))

    def _pattern_matches(self, t: str, anchored):
        """Regex matches near their anchors: ``(pattern index, match)``."""
        for k, positions in anchored:
            regex = self._pattern_list[k][2].regex
            windows: list[list[int]] = []
            for p in sorted(positions):
                lo, hi = max(0, p - _PATTERN_REACH), min(len(t), p + _PATTERN_REACH)
                if windows and lo <= windows[-1][1]:
                    windows[-1][1] = hi
                else:
                    windows.append([lo, hi])
            for lo, hi in windows:
                for m in regex.finditer(t, lo, hi):
                    if m.end() > m.start():
                        yield k, m

    def _conditions(self, rule, rule_index: int, ctx: "_Context", t: str) -> str | None:
        """Why the rule's requires / with / excludes fail in this context, or None."""
        lo = max(0, ctx.lo)

        def holds(ref: str) -> bool:
            if ref.startswith("@"):
                return ref[1:] in ctx.groups
            return t.find(self._folded_refs[ref], lo, ctx.hi) >= 0

        if rule.requires and not any(all(holds(part) for part in r) for r in self._requires[rule_index]):
            return "requires not met"
        if rule.with_terms and not any(holds(w) for w in rule.with_terms):
            return "with not met"
        if rule.excludes and any(holds(x) for x in rule.excludes):
            return "excluded: " + ",".join(x for x in rule.excludes if holds(x))
        return None

    def _cheap_veto(self, c: "_Candidate", t: str, text: str, norm, blocked) -> str | None:
        """Why this term occurrence is not a use of the term (cheap checks), or None."""
        if any(bs < c.nend and c.nstart < be for bs, be in blocked):
            return "blocker word"
        matched = t[c.nstart:c.nend]
        if matched.isascii():
            ostart, oend = norm.span(c.nstart, c.nend)
            if not self._ascii_boundary_ok(text, ostart, oend):
                return "inside a Latin word"
        return None

    def _inside_word_ok(self, rule, c: "_Candidate", t: str) -> bool:
        """False when a short Chinese term is part of a longer ordinary word."""
        matched = t[c.nstart:c.nend]
        if matched.isascii() or not rule.boundary or len(matched) > 3:
            return True
        return self._boundary_ok(t, c.nstart, c.nend)

    def _context(self, lo: int, hi: int, found_groups, contact_pos) -> "_Context":
        """Ad and report evidence in normalised range [lo, hi).

        ``found_groups`` holds, per group present in the text, its sorted positions and the
        matching word ids in the same order.
        """
        sc = self.scoring
        i = bisect.bisect_left(contact_pos, lo)
        has_contact = i < len(contact_pos) and contact_pos[i] < hi
        ad, report = (sc.contact_weight if has_contact else 0.0), 0.0
        groups, signals = set(), (["contact"] if has_contact else [])
        if has_contact:
            groups.add("contact")
        repeat = sc.repeat_factor
        for g, positions, ids in found_groups:
            if g.scope == "document":
                n = len(set(ids))
            else:
                i = bisect.bisect_left(positions, lo)
                j = bisect.bisect_left(positions, hi, i)
                if i == j:
                    continue
                n = 1 if j - i == 1 else len(set(ids[i:j]))
            groups.add(g.name)
            signals.append(g.name if n == 1 else f"{g.name}×{n}")
            # Several different words of one kind say more than one word repeated, with
            # diminishing returns: 1, 1.5, 2 times the weight for 1, 2, 3+ words.
            contribution = g.weight * (1 + repeat * (min(n, 3) - 1))
            if g.weight > 0:
                ad += contribution
            else:
                report += contribution
        report = max(report, sc.report_cap)
        # A report quotes the ad it reports on (its price, 加微, 包成功), so ad signals count
        # for less the more report-like the surroundings are.
        ad = min(ad, sc.ad_cap) * max(sc.quote_floor, 1 + report / sc.quote_scale)
        return _Context(lo, hi, groups, ad, report, signals)

    def classify(self, text: str, explain: bool = False) -> Verdict:
        """Classify one text; hits carry offsets into ``text`` itself.

        With ``explain`` the verdict also lists every candidate hit, the context signals
        found near it and its logit, or why it was dropped.
        """
        notes: list[dict] | None = [] if explain else None
        empty = Verdict(False, [], 0.0, [], {k: [] for k in contacts_mod.CONTACT_KINDS})
        if not text or not text.strip():
            return empty
        norm = self.folder.normalize(text)
        t = norm.text
        rules = self.packs.rules
        cands: list[_Candidate] = []
        group_what: dict[str, list[tuple[int, int]]] = defaultdict(list)  # (position, literal id)
        anchor_pos: dict[int, list[int]] = defaultdict(list)
        blocked: list[tuple[int, int]] = []
        rule_roles, anchor_roles, blocker_roles = self._rule_roles, self._anchor_roles, self._blocker_roles
        for pid, s, e in self._ac.find_matches_as_indexes(t, overlapping=True):
            for ref in rule_roles[pid]:
                if len(cands) < MAX_CANDIDATES:
                    cands.append(_Candidate(ref, s, e))
            for ref in anchor_roles[pid]:
                anchor_pos[ref].append(s)
            if blocker_roles[pid]:
                blocked.append((s, e))
        rule_patterns = [(k, ps) for k, ps in anchor_pos.items() if self._pattern_list[k][0] == "rule"]
        for k, m in self._pattern_matches(t, rule_patterns):
            if len(cands) < MAX_CANDIDATES:
                cands.append(_Candidate(self._pattern_list[k][1], m.start(), m.end()))
        if not cands:
            return Verdict(False, [], 0.0, [], lambda: contacts_mod.extract(text).as_dict(), {}, notes)
        group_of = self._group_of
        # A context word inside a longer context phrase is part of that phrase: 精子库 in
        # 不走精子库 is no sign of the licensed sperm bank. Longest match wins.
        matches = sorted(self._ac_groups.find_matches_as_indexes(t, overlapping=True), key=lambda m: (m[1], -m[2]))
        reach = -1
        for pid, s, e in matches:
            if e <= reach:
                continue
            reach = e
            for name in group_of[pid]:
                group_what[name].append((s, pid))
        group_patterns = [(k, ps) for k, ps in anchor_pos.items() if self._pattern_list[k][0] == "group"]
        for k, m in self._pattern_matches(t, group_patterns):
            group_what[self._pattern_list[k][1]].append((m.start(), -1 - k))
        found_groups = []
        for g in self.packs.groups.values():
            found = group_what.get(g.name)
            if found:
                found.sort()
                found_groups.append((g, [p for p, _ in found], [w for _, w in found]))
        found_contacts = contacts_mod.extract(text)
        contact_pos = sorted(norm.norm_index(sp.start) for sp in found_contacts.spans)
        sc = self.scoring
        whole = len(t) <= 2 * sc.window + _BUCKET
        contexts: dict[int, _Context] = {}

        def context(bucket: int) -> _Context:
            """Signals near candidates starting in this bucket (computed once per bucket)."""
            if bucket not in contexts:
                lo, hi = (0, len(t)) if whole else (bucket * _BUCKET - sc.window,
                                                    (bucket + 1) * _BUCKET + sc.window)
                contexts[bucket] = self._context(lo, hi, found_groups, contact_pos)
            return contexts[bucket]

        # Cheap checks first (blockers, Latin word edges, context conditions); the word
        # boundary check segments text with jieba, so it runs lazily below, only for the
        # candidates that can still decide a verdict or become a reported hit.
        survivors: dict[str, list[tuple[float, _Candidate]]] = defaultdict(list)
        decided: dict[tuple[int, int], str | None] = {}
        seen_spans: set[tuple[int, int, int]] = set()
        for c in cands:
            key = (c.rule_index, c.nstart, c.nend)
            if key in seen_spans:
                continue
            seen_spans.add(key)
            rule = rules[c.rule_index]
            matched = t[c.nstart:c.nend]
            reason = self._cheap_veto(c, t, text, norm, blocked)
            ctx = None
            if reason is None:
                bucket = 0 if whole else c.nstart // _BUCKET
                ctx = context(bucket)
                # The context conditions depend only on the rule and the bucket's window.
                key = (c.rule_index, bucket)
                if key not in decided:
                    decided[key] = self._conditions(rule, c.rule_index, ctx, t)
                reason = decided[key]
            if reason is None and notes is not None and not self._inside_word_ok(rule, c, t):
                reason = "inside another word"
            if reason is not None:
                if notes is not None:
                    notes.append({"rule": rule.id, "text": matched, "dropped": reason})
                continue
            z = _logit(rule.weight) + ctx.ad + ctx.report
            if notes is not None:
                notes.append({"rule": rule.id, "text": matched, "z": round(z, 3), "signals": ctx.signals})
            survivors[rule.category].append((z, c))

        checked: dict[int, bool] = {}

        def valid(c: _Candidate) -> bool:
            if id(c) not in checked:
                checked[id(c)] = self._inside_word_ok(rules[c.rule_index], c, t)
            return checked[id(c)]

        scores: dict[str, float] = {}
        kept: list[_Candidate] = []
        for cat, found in survivors.items():
            found.sort(key=lambda zc: -zc[0])
            best_z, positive_rules = None, set()
            for z, c in found:
                if best_z is not None and z <= 0:
                    break  # can change neither the maximum nor the bonus
                rule_id = rules[c.rule_index].id
                if best_z is not None and rule_id in positive_rules:
                    continue
                if not valid(c):
                    continue
                if best_z is None:
                    best_z = z
                if z > 0:
                    positive_rules.add(rule_id)
            if best_z is None:
                continue
            extra = len(positive_rules) - 1
            z = best_z + min(max(extra, 0) * sc.extra_rule_bonus, sc.extra_rule_cap)
            scores[cat] = _sigmoid(sc.scale * z + sc.offset)
            if scores[cat] >= sc.threshold:
                kept += [c for _, c in found if valid(c)]
        labels = [cat for cat in CATEGORIES if scores.get(cat, 0.0) >= sc.threshold]
        hits = []
        for c in kept:
            rule = rules[c.rule_index]
            s, e = norm.span(c.nstart, c.nend)
            hits.append(Hit(rule.id, rule.category, text[s:e], s, e))
        hits = _drop_nested(hits)
        return Verdict(bool(labels), labels, max(scores.values(), default=0.0), hits,
                       found_contacts.as_dict(), scores, notes)


def _drop_nested(hits: list[Hit]) -> list[Hit]:
    """A hit inside a longer hit of the same rule is dropped (代孕 inside 代孕妈妈)."""
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    out: list[Hit] = []
    for h in hits:
        if any(o.rule == h.rule and o.start <= h.start and h.end <= o.end for o in out[-8:]):
            continue
        out.append(h)
    return out
