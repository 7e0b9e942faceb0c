"""Worker processes for the CPU-heavy item work: classifying and index tokens.

Scrapy runs spiders, pipelines and the downloader on one thread. Classifying an item and
cutting it into jieba words for the full-text index cost several times what
downloading and parsing the page does, so on that thread they would halve the crawl rate.
Here they run in ``REPROWATCH_WORKERS`` processes (default 1: the crawl itself keeps one
core busy, a machine has two) and the pipelines await the results, so the reactor goes on
downloading meanwhile. ``REPROWATCH_WORKERS = 0`` computes in the crawl process instead.

Every crawler in a process shares one pool (``crawl --all`` runs all sources in one
process); it starts with the first crawler that asks and stops when the last one is done.
Workers are spawned, not forked: a fork would copy the reactor's threads and locks.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from functools import lru_cache

from classifiers import Classifier
from search.tokenize import TokenPool, _jieba


@lru_cache(maxsize=4)
def classifier(rules_dir: str | None) -> Classifier:
    """The compiled classifier of this process (one per rules folder)."""
    return Classifier.load(rules_dir)


def verdict(text: str, rules_dir: str | None) -> dict:
    """The classifier's verdict on ``text`` as the DESIGN.md verdict dict."""
    return classifier(rules_dir).classify(text).as_dict()


def _warm(rules_dir: str | None) -> None:
    # Loaded before the first item arrives, not while items queue behind it.
    _jieba()
    classifier(rules_dir)


class Workers(TokenPool):
    """A pool of worker processes: :meth:`run` awaits one function call in a worker, and as a
    :class:`TokenPool` it tokenises items for ``Store.bulk_upsert``."""

    def __init__(self, processes: int, rules_dir: str | None = None):
        self.processes = max(0, processes)
        self._pool = None
        if self.processes:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ctx.Pool(self.processes, initializer=_warm, initargs=(rules_dir,))

    async def run(self, fn, *args):
        """``fn(*args)`` in a worker (in this process without workers)."""
        if self._pool is None:
            return fn(*args)
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(result):
            loop.call_soon_threadsafe(_settle, future, result, None)

        def failed(exc):
            loop.call_soon_threadsafe(_settle, future, None, exc)

        self._pool.apply_async(fn, args, callback=done, error_callback=failed)
        return await future


def _settle(future: asyncio.Future, result, exc) -> None:
    if future.done():  # cancelled: the crawl was stopped while the call ran
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


_SHARED: dict[tuple, list] = {}


def acquire(settings) -> Workers:
    """The process's pool for these settings; every acquire needs a :func:`release`."""
    key = (settings.getint("REPROWATCH_WORKERS", 1), settings.get("REPROWATCH_RULES") or None)
    entry = _SHARED.get(key)
    if entry is None:
        entry = _SHARED[key] = [Workers(*key), 0]
    entry[1] += 1
    return entry[0]


def release(workers: Workers) -> None:
    """Give the pool back; the last user stops its processes."""
    for key, entry in list(_SHARED.items()):
        if entry[0] is workers:
            entry[1] -= 1
            if entry[1] <= 0:
                del _SHARED[key]
                workers.close()
            return


__all__ = ["Workers", "acquire", "release", "verdict", "classifier"]
