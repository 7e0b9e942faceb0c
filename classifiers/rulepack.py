"""Rule packs: YAML data that officers edit, loaded and validated here.

A rules folder holds one ``<category>.yaml`` per category id and one ``context.yaml``
(signal groups that tell an ad from a report, word-boundary blockers, scoring). Every
mistake is reported as one :class:`RuleError` naming the file, the rule and the field.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # the stdlib regex parser, used to find literal anchors
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CATEGORIES = {
    "surrogacy": "代孕",
    "gamete_trade": "非法采供精、采供卵",
    "sex_selection": "非法鉴定胎儿性别",
    "unlicensed_art": "未经批准开展人类辅助生殖技术",
    "birth_certificate": "伪造、买卖出生医学证明",
    "fertility_drugs": "非法销售辅助生殖药品",
}
DEFAULT_RULES_DIR = Path(__file__).parent / "rules"
_RULE_KEYS = {"id", "description", "terms", "patterns", "anchors", "pinyin", "boundary",
              "requires", "with", "excludes", "weight", "examples"}
_GROUP_KEYS = {"description", "terms", "patterns", "anchors", "weight", "scope", "examples"}
_ID = re.compile(r"^[a-z][a-z0-9_.\-]*$")


class RuleError(ValueError):
    """A rule pack is malformed; the message names file, rule and field."""

    def __init__(self, path: Path | str, rule: str | None, field_name: str | None, message: str):
        where = str(path)
        if rule:
            where += f": rule {rule!r}"
        if field_name:
            where += f", field {field_name!r}"
        super().__init__(f"{where}: {message}")


@dataclass
class Pattern:
    """A regex over normalised text and the literals one of which it cannot match without."""

    source: str
    regex: re.Pattern
    anchors: list[str]


@dataclass
class Rule:
    """One rule of a category pack."""

    id: str
    category: str
    terms: list[str]
    patterns: list[Pattern]
    weight: float
    pinyin: bool = True
    boundary: bool = True
    requires: list[str] = field(default_factory=list)
    with_terms: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    description: str = ""
    flag_examples: list[str] = field(default_factory=list)
    ignore_examples: list[str] = field(default_factory=list)
    path: str = ""


@dataclass
class SignalGroup:
    """Context words that make a text more (weight > 0) or less (< 0) ad-like."""

    name: str
    terms: list[str]
    patterns: list[Pattern]
    weight: float
    scope: str = "window"  # "window": near the hit; "document": anywhere in the text
    description: str = ""


@dataclass
class Scoring:
    """How hit strength and context combine into a calibrated score."""

    threshold: float = 0.5
    window: int = 150
    ad_cap: float = 3.0
    report_cap: float = -4.5
    contact_weight: float = 1.5
    extra_rule_bonus: float = 0.3
    extra_rule_cap: float = 0.9
    repeat_factor: float = 0.5
    quote_scale: float = 6.0
    quote_floor: float = 0.3
    scale: float = 1.0
    offset: float = 0.0


@dataclass
class RulePacks:
    """Everything loaded from one rules folder."""

    rules: list[Rule]
    groups: dict[str, SignalGroup]
    blockers: list[str]
    scoring: Scoring
    files: list[Path]
    variants: dict[str, list[str]] = field(default_factory=dict)


_MAX_ANCHORS = 64


def _exact_item(op, arg) -> set[str] | None:
    """Every string one regex item matches, when that is a small finite set."""
    if op is sre_parse.LITERAL:
        return {chr(arg)}
    if op is sre_parse.IN and all(o is sre_parse.LITERAL for o, _ in arg):
        return {chr(v) for _, v in arg}
    if op is sre_parse.SUBPATTERN:
        return _exact_seq(arg[-1])
    if op is sre_parse.BRANCH:
        out: set[str] = set()
        for branch in arg[1]:
            sub = _exact_seq(branch)
            if sub is None:
                return None
            out |= sub
        return out if len(out) <= _MAX_ANCHORS else None
    return None


def _exact_seq(parsed) -> set[str] | None:
    out = {""}
    for op, arg in parsed:
        item = _exact_item(op, arg)
        if item is None or len(out) * len(item) > _MAX_ANCHORS:
            return None
        out = {a + b for a in out for b in item}
    return out


def _literal_anchors(parsed) -> list[str] | None:
    """Literals one of which every match of ``parsed`` contains, as long as can be found.

    Runs of items with a small finite set of matches combine: (查|验)(男|女) gives the four
    anchors 查男, 查女, 验男, 验女 rather than the one-character 男 or 女, which would make
    the regex run on almost every text.
    """
    best: list[str] | None = None

    def consider(cand) -> None:
        nonlocal best
        cand = sorted(cand) if cand else None
        if cand and all(cand) and (best is None or min(map(len, cand)) > min(map(len, best))):
            best = cand

    product = {""}
    for op, arg in parsed:
        item = _exact_item(op, arg)
        if item is not None and len(product) * len(item) <= _MAX_ANCHORS:
            product = {a + b for a in product for b in item}
            continue
        consider(product if product != {""} else None)
        product = item if item is not None else {""}
        if item is not None:
            continue
        if op is sre_parse.SUBPATTERN:
            consider(_literal_anchors(arg[-1]))
        elif op is sre_parse.BRANCH:
            branches = [_literal_anchors(b) for b in arg[1]]
            if all(branches):
                consider([x for b in branches for x in b])
        elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT) and arg[0] >= 1:
            consider(_literal_anchors(arg[2]))
    consider(product if product != {""} else None)
    return best


def _compile_patterns(path, rule_id, raw, anchors_raw) -> list[Pattern]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise RuleError(path, rule_id, "patterns", "must be a list of non-empty regex strings")
    if anchors_raw is not None and (not isinstance(anchors_raw, list)
                                    or not all(isinstance(a, str) and a for a in anchors_raw)):
        raise RuleError(path, rule_id, "anchors", "must be a list of non-empty strings")
    out = []
    for source in raw:
        try:
            regex = re.compile(source)
            parsed = sre_parse.parse(source)
        except re.error as exc:
            raise RuleError(path, rule_id, "patterns", f"bad regex {source!r}: {exc}") from None
        # `anchors:` from the file wins (its author may know longer ones); otherwise they are
        # derived from the regex.
        anchors = anchors_raw or _literal_anchors(parsed)
        if not anchors:
            raise RuleError(path, rule_id, "patterns",
                            f"regex {source!r} has no literal every match contains; "
                            "add `anchors:` listing words one of which is always there")
        out.append(Pattern(source, regex, [a.lower() for a in anchors]))
    return out


def _terms(path, rule_id, raw, name="terms") -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, str) and t.strip() for t in raw):
        raise RuleError(path, rule_id, name, "must be a list of non-empty strings")
    return [t.strip() for t in raw]


def _weight(path, rule_id, raw, lo, hi) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not lo <= raw <= hi:
        raise RuleError(path, rule_id, "weight", f"must be a number from {lo} to {hi}, got {raw!r}")
    return float(raw)


def _examples(path, rule_id, raw) -> tuple[list[str], list[str]]:
    if raw is None:
        return [], []
    if not isinstance(raw, dict) or set(raw) - {"flag", "ignore"}:
        raise RuleError(path, rule_id, "examples", "must be a mapping with `flag` and/or `ignore` lists")
    flag = _terms(path, rule_id, raw.get("flag"), "examples.flag")
    ignore = _terms(path, rule_id, raw.get("ignore"), "examples.ignore")
    return flag, ignore


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RuleError(path, None, None, f"not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(path, None, None, f"cannot read: {exc}") from None


def _load_category(path: Path, group_names: set[str]) -> list[Rule]:
    category = path.stem
    if category not in CATEGORIES:
        raise RuleError(path, None, None, f"unknown category {category!r}; "
                        f"rule files are named after one of: {', '.join(CATEGORIES)}")
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RuleError(path, None, "rules", "the file must be a mapping with a `rules:` list")
    if doc.get("category", category) != category:
        raise RuleError(path, None, "category",
                        f"says {doc.get('category')!r} but the file is named for {category!r}")
    rules = []
    for n, raw in enumerate(doc["rules"], 1):
        if not isinstance(raw, dict):
            raise RuleError(path, f"#{n}", None, "a rule must be a mapping")
        rule_id = raw.get("id")
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            raise RuleError(path, f"#{n}", "id", "missing or not an id (lower-case letters, digits, . _ -)")
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise RuleError(path, rule_id, sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_RULE_KEYS))}")
        terms = _terms(path, rule_id, raw.get("terms"))
        patterns = _compile_patterns(path, rule_id, raw.get("patterns"), raw.get("anchors"))
        if not terms and not patterns:
            raise RuleError(path, rule_id, "terms", "a rule needs `terms` or `patterns`")
        if "weight" not in raw:
            raise RuleError(path, rule_id, "weight", "missing")
        requires = _terms(path, rule_id, raw.get("requires"), "requires")
        excludes = _terms(path, rule_id, raw.get("excludes"), "excludes")
        # A `requires` entry may join several conditions with + (all of them must hold).
        parts = [p for r in requires for p in r.split("+")]
        for name, refs in (("requires", parts), ("excludes", excludes)):
            for ref in refs:
                if ref.startswith("@") and ref[1:] not in group_names | {"contact"}:
                    raise RuleError(path, rule_id, name, f"unknown signal group {ref!r}; "
                                    f"defined in context.yaml: {', '.join(sorted(group_names))}, contact")
        flag, ignore = _examples(path, rule_id, raw.get("examples"))
        for key in ("pinyin", "boundary"):
            if key in raw and not isinstance(raw[key], bool):
                raise RuleError(path, rule_id, key, "must be true or false")
        rules.append(Rule(
            id=rule_id, category=category, terms=[t.lower() for t in terms], patterns=patterns,
            weight=_weight(path, rule_id, raw["weight"], 0.01, 0.99),
            pinyin=raw.get("pinyin", True), boundary=raw.get("boundary", True),
            requires=[r.lower() for r in requires],
            with_terms=[t.lower() for t in _terms(path, rule_id, raw.get("with"), "with")],
            excludes=[e.lower() for e in excludes], description=str(raw.get("description", "")),
            flag_examples=flag, ignore_examples=ignore, path=str(path),
        ))
    return rules


def _load_context(path: Path):
    doc = _read_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), dict):
        raise RuleError(path, None, "groups", "context.yaml must be a mapping with a `groups:` mapping")
    unknown = set(doc) - {"groups", "blockers", "scoring", "variants"}
    if unknown:
        raise RuleError(path, None, sorted(unknown)[0], "unknown key; allowed: groups, blockers, scoring, variants")
    variants = doc.get("variants") or {}
    if not isinstance(variants, dict) or not all(
            isinstance(k, str) and k and isinstance(v, list) and all(isinstance(x, str) and x for x in v)
            for k, v in variants.items()):
        raise RuleError(path, None, "variants", "must map a word to a list of its variant spellings")
    groups = {}
    for name, raw in doc["groups"].items():
        if not isinstance(name, str) or not _ID.match(name) or name == "contact":
            raise RuleError(path, str(name), None, "group names are ids and `contact` is reserved")
        if not isinstance(raw, dict):
            raise RuleError(path, name, None, "a group must be a mapping")
        unknown = set(raw) - _GROUP_KEYS
        if unknown:
            raise RuleError(path, name, sorted(unknown)[0], f"unknown key; allowed: {', '.join(sorted(_GROUP_KEYS))}")
        terms = _terms(path, name, raw.get("terms"))
        patterns = _compile_patterns(path, name, raw.get("patterns"), raw.get("anchors"))
        if not terms and not patterns:
            raise RuleError(path, name, "terms", "a group needs `terms` or `patterns`")
        if "weight" not in raw:
            raise RuleError(path, name, "weight", "missing")
        scope = raw.get("scope", "window")
        if scope not in ("window", "document"):
            raise RuleError(path, name, "scope", "must be `window` or `document`")
        groups[name] = SignalGroup(name, [t.lower() for t in terms], patterns,
                                   _weight(path, name, raw["weight"], -6, 6), scope,
                                   str(raw.get("description", "")))
    blockers = [b.lower() for b in _terms(path, None, doc.get("blockers"), "blockers")]
    scoring = Scoring()
    raw_scoring = doc.get("scoring") or {}
    if not isinstance(raw_scoring, dict):
        raise RuleError(path, None, "scoring", "must be a mapping")
    for key, value in raw_scoring.items():
        if not hasattr(scoring, key):
            raise RuleError(path, None, f"scoring.{key}", "unknown setting")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RuleError(path, None, f"scoring.{key}", f"must be a number, got {value!r}")
        setattr(scoring, key, type(getattr(scoring, key))(value))
    if not 0 < scoring.threshold < 1:
        raise RuleError(path, None, "scoring.threshold", "must be between 0 and 1")
    return groups, blockers, scoring, {k.lower(): [x.lower() for x in v] for k, v in variants.items()}


def load_rule_packs(rules_dir: Path | str | None = None) -> RulePacks:
    """Load and validate a rules folder (the bundled one by default)."""
    rules_dir = Path(rules_dir) if rules_dir else DEFAULT_RULES_DIR
    if not rules_dir.is_dir():
        raise RuleError(rules_dir, None, None, "rules folder not found")
    context = rules_dir / "context.yaml"
    if not context.exists():
        context = DEFAULT_RULES_DIR / "context.yaml"
    groups, blockers, scoring, variants = _load_context(context)
    files = sorted(p for p in rules_dir.glob("*.yaml") if p.name != "context.yaml")
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for path in files:
        for rule in _load_category(path, set(groups)):
            if rule.id in seen:
                raise RuleError(path, rule.id, "id", f"duplicate; also in {seen[rule.id]}")
            seen[rule.id] = path
            rules.append(rule)
    if not rules:
        raise RuleError(rules_dir, None, None, "no rule files (<category>.yaml) found")
    return RulePacks(rules, groups, blockers, scoring, [context, *files], variants)
