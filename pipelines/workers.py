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
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache

from classifiers import Classifier
from pipelines.shared import Shared
from search.tokenize import _jieba, index_tokens


@lru_cache(maxsize=4)
def classifier(rules_dir: str | None) -> Classifier:
    """The compiled classifier of this process (one per rules folder)."""
    return Classifier.load(rules_dir)


def verdicts(texts: list[str], rules_dir: str | None) -> list[dict]:
    """The classifier's verdict (DESIGN.md verdict dict) on each text: one worker call a batch."""
    clf = classifier(rules_dir)
    return [clf.classify(t).as_dict() for t in texts]


def signatures(texts: list[str]) -> list:
    """The near-duplicate :func:`search.neardup.signature` of each text."""
    from search.neardup import signature

    return [signature(t) for t in texts]


def _warm(rules_dir: str | None) -> None:
    # Loaded before the first item arrives, not while items queue behind it.
    _jieba()
    classifier(rules_dir)


def _tokens_many(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(index_tokens(title), index_tokens(text)) for title, text in pairs]


class _Pending:
    """A batch being tokenised, with the ``get`` of multiprocessing's AsyncResult."""

    def __init__(self, future):
        self._future = future

    def get(self, timeout=None):
        return self._future.result(timeout)


class Workers:
    """Worker processes: :meth:`run` awaits one function call in a worker; :meth:`map` and
    :meth:`map_async` tokenise items for ``Store.bulk_upsert`` (the :class:`TokenPool` protocol).

    A ``concurrent.futures`` process pool, not ``multiprocessing.Pool``: the latter wakes its
    worker-maintenance thread on every task, which on a crawl's thousands of small calls cost
    the reactor's process more than the calls themselves."""

    def __init__(self, processes: int, rules_dir: str | None = None):
        self.processes = max(0, processes)
        self._executor = None
        if self.processes:
            self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_warm, initargs=(rules_dir,))

    async def run(self, fn, *args):
        """``fn(*args)`` in a worker (in this process without workers)."""
        if self._executor is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def map_async(self, items: list[dict]) -> _Pending:
        """Start tokenising ``items`` (title, text) in a worker; ``.get()`` gives the tokens."""
        pairs = [(i.get("title") or "", i.get("text") or "") for i in items]
        if self._executor is None:
            done = Future()
            done.set_result(_tokens_many(pairs))
            return _Pending(done)
        return _Pending(self._executor.submit(_tokens_many, pairs))

    def map(self, items: list[dict]) -> list[tuple[str, str]]:
        """(title tokens, text tokens) for each item."""
        return self.map_async(items).get()

    def batched(self, fn_many, *extra, size: int = 32, delay: float = 0.1) -> "Batcher":
        """A per-item coroutine that sends items to ``fn_many(list, *extra)`` in a worker, in batches."""
        async def run_batch(args: list) -> list:
            return await self.run(fn_many, args, *extra)

        return Batcher(run_batch, size, delay)

    def close(self) -> None:
        """Stop the workers."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


class Batcher:
    """Collects single calls for up to ``delay`` seconds or ``size`` calls and hands them to
    ``run_batch`` (a coroutine function: list of arguments → list of results, in order) in
    one go. A process-pool task or a store transaction costs about as much as classifying or
    storing one short page, so one per page would spend the crawl's CPU on the overhead. A
    result that is an exception is raised to its caller alone."""

    def __init__(self, run_batch, size: int, delay: float):
        self.run_batch, self.size, self.delay = run_batch, max(1, size), delay
        self.pending: list[tuple[object, asyncio.Future]] = []
        self.timer = None
        self.running: set[asyncio.Future] = set()

    async def __call__(self, arg):
        loop = asyncio.get_running_loop()
        result = loop.create_future()
        self.pending.append((arg, result))
        if len(self.pending) >= self.size:
            self._flush()
        elif self.timer is None:
            self.timer = loop.call_later(self.delay, self._flush)
        return await result

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


__all__ = ["Workers", "Batcher", "acquire", "release", "verdicts", "signatures", "classifier"]
