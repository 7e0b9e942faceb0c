"""Worker processes for the CPU-heavy item work: dedup, classifying, and storing.

Scrapy runs spiders, pipelines and the downloader on one thread. Classifying an item and
cutting it into jieba words for the full-text index cost several times what
downloading and parsing the page does, so on that thread they would halve the crawl rate.
Here they run in ``REPROWATCH_WORKERS`` processes (default 1: the crawl itself keeps one
core busy, a machine has two) and the pipelines await the results, so the reactor goes on
downloading meanwhile. The near-duplicate index lives in the first worker
(:func:`dedup_batch`), and the store is written from it too (:func:`store_batch`): the
index's lookups, the store's tokens and its transactions then never take the crawl
process's CPU or interpreter lock.
``REPROWATCH_WORKERS = 0`` does all of it in one thread of the crawl process instead.

Every crawler in a process shares one pool (``crawl --all`` runs all sources in one
process); it starts with the first crawler that asks and stops when the last one is done.
Workers are spawned, not forked: a fork would copy the reactor's threads and locks.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from pipelines.shared import Shared
from search.neardup import NearDupIndex, content_hash, signature
from search.store import Store, StoreError, open_store
from search.tokenize import _jieba


@lru_cache(maxsize=4)
def classifier(rules_dir: str | None):
    """The compiled classifier of this process (one per rules folder; imported here, so the
    crawl's own process, which only sends texts, does not load the classifier's modules)."""
    from classifiers import Classifier

    return Classifier.load(rules_dir)


def verdicts(texts: list[str], rules_dir: str | None) -> list[dict]:
    """The classifier's verdict (DESIGN.md verdict dict) on each text: one worker call a batch."""
    clf = classifier(rules_dir)
    return [clf.classify(t).as_dict() for t in texts]


_INDEXES: dict[str, NearDupIndex] = {}


def dedup_batch(items: list[tuple[str, str]], index_path: str) -> list[tuple[str, str]]:
    """(content hash, cluster) of each (item id, text). A new item is clustered in the
    near-duplicate index at ``index_path`` (loaded once per process and kept until
    :func:`finish`), one item at a time, so two reposts in one batch cannot both start a
    cluster of their own. Always called in the same worker (``Workers.run(first=True)``)."""
    index = _INDEXES.get(index_path)
    if index is None:
        index = _INDEXES[index_path] = NearDupIndex(Path(index_path))
    out = []
    for item_id, text in items:
        cluster = index.known(item_id)
        if cluster is None:
            cluster = index.assign(item_id, signature(text))
        out.append((content_hash(text), cluster))
    return out


_STORES: dict[str, Store] = {}


def store_batch(items: list[dict], url: str) -> list:
    """Upsert ``items`` into the store at ``url`` (opened once per process): each item's
    outcome (new, seen, changed), or the ValueError of a malformed item, which does not fail
    its batch. StoreError (store down) propagates; the next call opens the store again.
    Always called in the same worker, the store's one writer, so batches land in order."""
    store = _STORES.get(url)
    try:
        if store is None:
            store = _STORES[url] = open_store(url)
        try:
            return [r.outcome for r in store.bulk_upsert(items)]
        except ValueError:
            outcomes = []
            for item in items:
                try:
                    outcomes.append(store.upsert(item).outcome)
                except ValueError as exc:
                    outcomes.append(exc)
            return outcomes
    except StoreError:
        if _STORES.pop(url, None) is not None:
            store.close()
        raise


def finish() -> None:
    """Save the near-duplicate indexes and close the stores of this worker."""
    try:
        while _INDEXES:
            _INDEXES.popitem()[1].save()
    finally:
        while _STORES:
            _STORES.popitem()[1].close()


def _warm(rules_dir: str | None) -> None:
    # Loaded before the first item arrives, not while items queue behind it.
    _jieba()
    classifier(rules_dir)


class Workers:
    """Worker processes, each a one-process ``concurrent.futures`` pool: :meth:`run` awaits
    one function call in the least busy worker, or always in the first with ``first=True``
    (calls that need one process's state: the near-duplicate index, the store's writer);
    :meth:`batched` gathers single calls into one.

    ``concurrent.futures``, not ``multiprocessing.Pool``: the latter wakes its
    worker-maintenance thread on every task, which on a crawl's thousands of small calls cost
    the reactor's process more than the calls themselves."""

    def __init__(self, processes: int, rules_dir: str | None = None):
        self.processes = max(0, processes)
        if self.processes:
            spawn = multiprocessing.get_context("spawn")
            self._lanes = [ProcessPoolExecutor(1, mp_context=spawn, initializer=_warm, initargs=(rules_dir,))
                           for _ in range(self.processes)]
        else:
            self._lanes = [ThreadPoolExecutor(1, thread_name_prefix="reprowatch-worker")]
        self._busy = [0] * len(self._lanes)  # calls sent to each and not answered yet

    async def run(self, fn, *args, first: bool = False):
        """``fn(*args)`` in a worker (in a thread of this process without worker processes)."""
        lane = 0 if first else min(range(len(self._lanes)), key=self._busy.__getitem__)
        self._busy[lane] += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._lanes[lane], fn, *args)
        finally:
            self._busy[lane] -= 1

    def batched(self, fn_many, *extra, size: int = 32, delay: float = 0.1, first: bool = False) -> Batcher:
        """A per-item coroutine that sends items to ``fn_many(list, *extra)`` in a worker, in batches."""
        async def run_batch(args: list) -> list:
            return await self.run(fn_many, args, *extra, first=first)

        return Batcher(run_batch, size, delay)

    def close(self) -> None:
        """Save the near-duplicate indexes, close the stores, stop the workers."""
        lanes, self._lanes = self._lanes, []
        try:
            if lanes:
                lanes[0].submit(finish).result()
        finally:
            # Nothing is left to wait for but the worker interpreters exiting (0.2 s with the
            # classifier loaded); the executors reap them in the background, and the crawl's
            # process waits for that only at its own exit.
            for lane in lanes:
                lane.shutdown(wait=False)


class Batcher:
    """Collects single calls and hands them to ``run_batch`` (a coroutine function: list of
    arguments → list of results, in order) in one go: when ``size`` calls wait, when the
    first has waited ``delay`` seconds, or when no call came for ``quiet`` seconds (the
    crawl has paused or ended, so waiting longer would only delay its last items). A
    process-pool task or a store transaction costs about as much as classifying or storing
    one short page, so one per page would spend the crawl's CPU on the overhead. A result
    that is an exception is raised to its caller alone."""

    def __init__(self, run_batch, size: int, delay: float, quiet: float = 0.02):
        self.run_batch, self.size, self.delay = run_batch, max(1, size), delay
        self.quiet = min(quiet, delay)
        self.pending: list[tuple[object, asyncio.Future]] = []
        self.timer = None
        self.first = self.last = 0.0  # loop times of the first and the latest pending call
        self.running: set[asyncio.Future] = set()

    async def __call__(self, arg):
        loop = asyncio.get_running_loop()
        result = loop.create_future()
        self.pending.append((arg, result))
        self.last = loop.time()
        if len(self.pending) >= self.size:
            self._flush()
        elif self.timer is None:
            self.first = self.last
            self.timer = loop.call_later(self.quiet, self._tick)
        return await result

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self.last >= self.quiet or now - self.first >= self.delay:
            self.timer = None
            self._flush()
        else:
            self.timer = loop.call_later(min(self.last + self.quiet, self.first + self.delay) - now, self._tick)

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            task = asyncio.ensure_future(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def drain(self) -> None:
        """Send what is waiting and wait until every batch is done."""
        self._flush()
        while self.running:
            await asyncio.gather(*list(self.running), return_exceptions=True)

    async def _run(self, batch) -> None:
        try:
            results = await self.run_batch([arg for arg, _ in batch])
        except Exception as exc:  # noqa: BLE001 — every caller of the batch gets the error
            results = [exc] * len(batch)
        for (_, future), value in zip(batch, results):
            if future.done():
                continue
            if isinstance(value, Exception):
                future.set_exception(value)
            else:
                future.set_result(value)


_POOLS: Shared[Workers] = Shared(Workers)


def acquire(settings) -> Workers:
    """The process's pool for these settings; every acquire needs a :func:`release`."""
    key = (settings.getint("REPROWATCH_WORKERS", 1), settings.get("REPROWATCH_RULES") or None)
    return _POOLS.acquire(key, *key)


def release(workers: Workers) -> None:
    """Give the pool back; the last user stops its processes."""
    if _POOLS.release(workers) is not None:
        workers.close()


__all__ = ["Batcher", "Workers", "acquire", "classifier", "dedup_batch", "finish", "release", "store_batch", "verdicts"]
