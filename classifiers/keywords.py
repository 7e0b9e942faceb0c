"""Search keywords derived from the rule packs, for site-search discovery.

Kept here, next to the rules, so that a new rule's terms reach site search with no second
list to maintain: the first terms of every rule, in Chinese only, strongest rules first.
"""

from __future__ import annotations

import re

from .rulepack import load_rule_packs

_CJK_ONLY = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
# Short stems first: a site search matches substrings or words, so 胎儿性别 finds
# 鉴定胎儿性别, 查胎儿性别 and 胎儿性别鉴定, where the rules' longer phrases find only themselves.
CORE = ("代孕", "助孕", "供卵", "捐卵", "卵子", "捐精", "精子", "试管", "胎儿性别", "性别鉴定", "查男女",
        "生男孩", "出生证", "出生医学证明", "促排", "排卵针", "取卵")


def default_keywords(rules_dir=None, per_rule: int = 4) -> list[str]:
    """Distinct Chinese terms, strongest rules first."""
    packs = load_rule_packs(rules_dir)
    out: list[str] = list(CORE)
    for rule in sorted(packs.rules, key=lambda r: -r.weight):
        # Weak rules' terms (试管, 出生证, 促排) are what an ad must still contain, so they
        # find ads a site search would otherwise hide; the classifier sorts them out after.
        for term in [t for t in rule.terms if _CJK_ONLY.match(t)][:per_rule]:
            if term not in out:
                out.append(term)
    return out
