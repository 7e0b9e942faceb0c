"""Evaluation of the classifier on a labelled JSON-lines corpus."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .rulepack import CATEGORIES


class CorpusError(ValueError):
    """A corpus or batch file is malformed; the message names file and line."""


def read_jsonl(path: Path | str, require_labels: bool = False, lines: Iterable[str] | None = None
               ) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, record)`` from a JSON-lines file, validating each record."""
    name = str(path)
    source = lines if lines is not None else Path(path).open(encoding="utf-8", errors="strict")
    try:
        for n, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{name}: line {n}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise CorpusError(f"{name}: line {n}: expected a JSON object")
            if "id" not in rec:
                raise CorpusError(f"{name}: line {n}: field 'id' is missing")
            if not isinstance(rec.get("text"), str):
                raise CorpusError(f"{name}: line {n}: field 'text' is missing or not a string")
            if require_labels:
                labels = rec.get("labels")
                if not isinstance(labels, list) or any(lab not in CATEGORIES for lab in labels):
                    raise CorpusError(f"{name}: line {n}: field 'labels' must be a list of "
                                      f"category ids ({', '.join(CATEGORIES)})")
            yield n, rec
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    finally:
        if lines is None:
            source.close()


@dataclass
class Report:
    """Per-category counts and the derived metrics."""

    tp: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    fp: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    fn: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    support: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CATEGORIES})
    items: int = 0
    negatives: int = 0
    negatives_flagged: int = 0
    errors: list[dict] = field(default_factory=list)

    def add(self, rec: dict, verdict) -> None:
        gold, pred = set(rec["labels"]), set(verdict.labels)
        self.items += 1
        if not gold:
            self.negatives += 1
            self.negatives_flagged += bool(pred)
        for c in CATEGORIES:
            self.support[c] += c in gold
            self.tp[c] += c in gold and c in pred
            self.fp[c] += c not in gold and c in pred
            self.fn[c] += c in gold and c not in pred
        if gold != pred:
            self.errors.append({"id": rec["id"], "gold": sorted(gold), "predicted": sorted(pred),
                                "score": round(verdict.score, 3), "text": rec["text"]})

    def metrics(self) -> dict:
        """Precision, recall, F1 per category, macro-F1 and share of negatives flagged."""
        per = {}
        for c in CATEGORIES:
            tp, fp, fn = self.tp[c], self.fp[c], self.fn[c]
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            f = 2 * p * r / (p + r) if p + r else 0.0
            per[c] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                      "support": self.support[c]}
        macro = sum(v["f1"] for v in per.values()) / len(per)
        return {"items": self.items, "categories": per, "macro_f1": round(macro, 4),
                "negatives": self.negatives,
                "negatives_flagged": self.negatives_flagged,
                "negative_flag_rate": round(self.negatives_flagged / self.negatives, 4) if self.negatives else 0.0}


def evaluate(classifier, records: Iterable[dict]) -> Report:
    """Classify every record and count agreements with its gold labels."""
    report = Report()
    for rec in records:
        report.add(rec, classifier.classify(rec["text"]))
    return report
