"""The ad classifier: normalisation, contacts, rule packs and verdicts. No Scrapy, no storage."""

from .classifier import Classifier, Hit, Verdict
from .rulepack import CATEGORIES, RuleError

__all__ = ["CATEGORIES", "Classifier", "Hit", "RuleError", "Verdict"]
