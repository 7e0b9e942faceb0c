"""Every rule's own examples are tests: `flag` examples must flag the rule's category with
that rule among the hits, `ignore` examples must not flag the category."""

import pytest

from classifiers.rulepack import load_rule_packs

PACKS = load_rule_packs()
FLAG = [(r.id, r.category, ex) for r in PACKS.rules for ex in r.flag_examples]
IGNORE = [(r.id, r.category, ex) for r in PACKS.rules for ex in r.ignore_examples]


def test_every_rule_has_examples_of_both_kinds():
    missing = [r.id for r in PACKS.rules if not r.flag_examples or not r.ignore_examples]
    assert not missing, f"rules without flag and ignore examples: {missing}"


@pytest.mark.parametrize("rule_id,category,text", FLAG, ids=[f"{r}:{t[:12]}" for r, _, t in FLAG])
def test_flag_example(classifier, rule_id, category, text):
    verdict = classifier.classify(text)
    assert category in verdict.labels, (text, verdict.as_dict())
    assert rule_id in {h.rule for h in verdict.hits}, (text, verdict.as_dict())
    for h in verdict.hits:
        assert text[h.start:h.end] == h.text


@pytest.mark.parametrize("rule_id,category,text", IGNORE, ids=[f"{r}:{t[:12]}" for r, _, t in IGNORE])
def test_ignore_example(classifier, rule_id, category, text):
    verdict = classifier.classify(text)
    assert category not in verdict.labels, (text, verdict.as_dict())
