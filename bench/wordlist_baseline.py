"""A flat word-list filter on the same corpora, for comparison with the classifier.

    .venv/bin/python bench/wordlist_baseline.py tests/data/corpus_check.jsonl

What open Chinese sensitive-word filters do: every term of our rule packs, matched as a
plain substring of the raw text (no normalisation, no context); an item gets the category
of every term it contains. Prints the same metrics as `reprowatch eval`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classifiers.evaluate import Report, read_jsonl  # noqa: E402
from classifiers.rulepack import load_rule_packs  # noqa: E402


class _Verdict:
    def __init__(self, labels):
        self.labels, self.score = labels, 1.0 if labels else 0.0


def main() -> None:
    packs = load_rule_packs()
    terms = [(t, r.category) for r in packs.rules for t in r.terms if len(t) >= 2]
    for path in sys.argv[1:]:
        report = Report()
        for _, rec in read_jsonl(path, require_labels=True):
            text = rec["text"].lower()
            labels = sorted({cat for t, cat in terms if t in text})
            report.add(rec, _Verdict(labels))
        m = report.metrics()
        print(json.dumps({"corpus": path, "macro_f1": m["macro_f1"], "negative_flag_rate": m["negative_flag_rate"],
                          "recall": {c: v["recall"] for c, v in m["categories"].items()}}, ensure_ascii=False))


if __name__ == "__main__":
    main()
