"""Classify every item with the rule classifier."""

from __future__ import annotations

from functools import lru_cache

from classifiers import Classifier


@lru_cache(maxsize=4)
def _classifier(rules_dir: str | None) -> Classifier:
    # One compiled classifier per process, shared by the crawls running in it.
    return Classifier.load(rules_dir)


class ClassifyPipeline:
    """Adds the verdict (labels, score, flagged, hits, contacts) to the item."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier

    @classmethod
    def from_crawler(cls, crawler):
        return cls(_classifier(crawler.settings.get("REPROWATCH_RULES") or None))

    def process_item(self, item, spider):
        verdict = self.classifier.classify(item["text"]).as_dict()
        item.update(flagged=verdict["flagged"], labels=verdict["labels"], score=verdict["score"],
                    hits=verdict["hits"], contacts=verdict["contacts"])
        if verdict["flagged"]:
            spider.crawler.stats.inc_value("reprowatch/flagged")
        return item
