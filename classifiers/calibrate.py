"""Calibration of the score: fit Platt scaling on a labelled corpus and show reliability.

    python -m classifiers.calibrate tests/data/corpus_dev.jsonl [--write]

The rule weights give a logit per category; Platt scaling (``scoring.scale`` and
``scoring.offset`` in ``rules/context.yaml``) maps it to a probability that matches how
often such scores are right. The fit is one-dimensional logistic regression over every
(item, category) pair that had a candidate hit, so it cannot overfit the corpus the way
tuning individual rules could. ``--write`` stores the fitted values in context.yaml.
"""

from __future__ import annotations

import argparse
import math
import re
import sys

from .classifier import Classifier
from .evaluate import read_jsonl
from .rulepack import DEFAULT_RULES_DIR


def _pairs(classifier: Classifier, records) -> list[tuple[float, int]]:
    """(uncalibrated logit, label) for every category with a surviving candidate."""
    sc = classifier.scoring
    scale, offset = sc.scale, sc.offset
    out = []
    for rec in records:
        verdict = classifier.classify(rec["text"])
        for cat, p in verdict.scores.items():
            p = min(max(p, 1e-12), 1 - 1e-12)
            z = (math.log(p / (1 - p)) - offset) / scale
            out.append((z, int(cat in rec["labels"])))
    return out


def fit_platt(pairs: list[tuple[float, int]], iterations: int = 2000) -> tuple[float, float]:
    """Scale and offset minimising log loss of sigmoid(scale*z + offset) (Newton's method)."""
    a, b = 1.0, 0.0
    # Platt's smoothed targets keep the fit finite when the classes separate perfectly.
    pos = sum(y for _, y in pairs)
    neg = len(pairs) - pos
    hi, lo = (pos + 1) / (pos + 2), 1 / (neg + 2)
    targets = [(z, hi if y else lo) for z, y in pairs]
    for _ in range(iterations):
        g_a = g_b = h_aa = h_ab = h_bb = 0.0
        for z, t in targets:
            p = 1 / (1 + math.exp(-(a * z + b)))
            d = p - t
            w = p * (1 - p)
            g_a += d * z
            g_b += d
            h_aa += w * z * z
            h_ab += w * z
            h_bb += w
        det = h_aa * h_bb - h_ab * h_ab
        if abs(det) < 1e-12:
            break
        da = (h_bb * g_a - h_ab * g_b) / det
        db = (h_aa * g_b - h_ab * g_a) / det
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-9:
            break
    return a, b


def reliability(pairs, scale: float, offset: float, bins: int = 5) -> list[tuple[str, int, float, float]]:
    """(bin, count, mean predicted, observed rate) per probability bin."""
    rows = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        sel = [(1 / (1 + math.exp(-(scale * z + offset))), y) for z, y in pairs]
        sel = [(p, y) for p, y in sel if lo <= p < hi or (k == bins - 1 and p == 1.0)]
        if sel:
            rows.append((f"{lo:.1f}-{hi:.1f}", len(sel), sum(p for p, _ in sel) / len(sel),
                         sum(y for _, y in sel) / len(sel)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--write", action="store_true", help="store scale/offset in rules/context.yaml")
    args = parser.parse_args(argv)
    classifier = Classifier.load()
    records = [rec for _, rec in read_jsonl(args.corpus, require_labels=True)]
    pairs = _pairs(classifier, records)
    sc = classifier.scoring
    print(f"pairs: {len(pairs)}  current scale={sc.scale:.3f} offset={sc.offset:.3f}")
    for row in reliability(pairs, sc.scale, sc.offset):
        print("  current  bin %s  n=%4d  predicted %.2f  observed %.2f" % row)
    scale, offset = fit_platt(pairs)
    print(f"fitted scale={scale:.3f} offset={offset:.3f}")
    for row in reliability(pairs, scale, offset):
        print("  fitted   bin %s  n=%4d  predicted %.2f  observed %.2f" % row)
    if args.write:
        path = DEFAULT_RULES_DIR / "context.yaml"
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^(\s*scale:\s*)[-0-9.]+", lambda m: f"{m.group(1)}{scale:.3f}", text)
        text = re.sub(r"(?m)^(\s*offset:\s*)[-0-9.]+", lambda m: f"{m.group(1)}{offset:.3f}", text)
        path.write_text(text, encoding="utf-8")
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
