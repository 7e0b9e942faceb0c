"""The development corpus: its make-up, and the classifier's targets on it (issue 3).

Targets: macro-F1 >= 0.95, <= 2% of negatives flagged, every category's recall >= 0.90.
The independent check corpus (written by another author, not used to write rules) must
stay clear of the same floor on negatives and keep macro-F1 >= 0.90; corpus_blind3 (a fourth
author) keeps the dev targets; corpus_blind4 (a fifth) and corpus_blind5 (a sixth) keep
macro-F1 >= 0.90.
"""

import json
from collections import Counter

import pytest

from classifiers import CATEGORIES
from classifiers.evaluate import evaluate, read_jsonl
from conftest import DATA

OBFUSCATIONS = {"fullwidth", "traditional", "filler", "zero_width", "emoji", "homophone", "pinyin",
                "initials", "euphemism", "wechat_variant", "qq_variant", "contact_digits", "url_disguise"}


def load(name):
    return [rec for _, rec in read_jsonl(DATA / name, require_labels=True)]


def test_dev_corpus_make_up():
    recs = load("corpus_dev.jsonl")
    assert len(recs) >= 400
    assert len({r["id"] for r in recs}) == len(recs)
    per = Counter(c for r in recs for c in r["labels"])
    assert all(per[c] >= 40 for c in CATEGORIES), per
    negatives = [r for r in recs if not r["labels"]]
    assert len(negatives) >= 150
    positives = [r for r in recs if r["labels"]]
    obfuscated = [r for r in positives if r.get("obfuscation")]
    assert len(obfuscated) * 2 >= len(positives)
    kinds = Counter(k for r in positives for k in r.get("obfuscation", []))
    assert OBFUSCATIONS <= set(kinds), OBFUSCATIONS - set(kinds)
    assert len({r.get("kind") for r in recs}) >= 10


@pytest.mark.parametrize("name,macro,neg_rate,recall", [
    ("corpus_dev.jsonl", 0.95, 0.02, 0.90),
    ("corpus_check.jsonl", 0.90, 0.02, 0.80),
    # Fourth author, measured blind at macro-F1 0.883 / 4.2 % negatives flagged, then used for
    # general fixes (0.995 / 0.5 % after them).
    ("corpus_blind3.jsonl", 0.95, 0.02, 0.90),
    # Fifth author, measured blind at macro-F1 0.794 / 12.6 % negatives flagged (fiction,
    # notices and warnings, government one-stop services, English ads), then used for general
    # fixes; multi-label agency ads keep some categories' recall lower.
    ("corpus_blind4.jsonl", 0.92, 0.02, 0.80),
    # Sixth author, measured blind at macro-F1 0.841 / 7.3 % negatives flagged (news, platform
    # rules and warnings quoting ad wording, spam complaints; euphemisms without a category
    # word), then used for general fixes (0.936 / 1.6 % after them).
    ("corpus_blind5.jsonl", 0.90, 0.02, 0.75),
])
def test_targets(classifier, name, macro, neg_rate, recall):
    report = evaluate(classifier, load(name))
    m = report.metrics()
    summary = json.dumps(m, ensure_ascii=False)
    assert m["macro_f1"] >= macro, summary
    assert m["negative_flag_rate"] <= neg_rate, summary
    for cat, v in m["categories"].items():
        assert v["recall"] >= recall, (cat, summary)
