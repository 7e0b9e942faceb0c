"""Objects shared by every crawler of a process (``crawl --all`` runs all sources in one).

The worker pool (which holds the near-duplicate index) and Chromium are each made once per
process for a key, counted per user, and handed back by the last user to be closed: one per
crawler would multiply processes and memory, and two copies of the near-duplicate index
saved one after the other would lose the clusters the first copy learnt.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Shared(Generic[T]):
    """A per-process registry: :meth:`acquire` makes or reuses the object for a key;
    :meth:`release` returns it when its last user let go (the caller closes it), else None."""

    def __init__(self, make: Callable[..., T]):
        self.make = make
        self.entries: dict[Hashable, list] = {}  # key → [object, users]

    def acquire(self, key: Hashable, *args, **kwargs) -> T:
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = [self.make(*args, **kwargs), 0]
        entry[1] += 1
        return entry[0]

    def release(self, obj: T) -> T | None:
        for key, entry in list(self.entries.items()):
            if entry[0] is obj:
                entry[1] -= 1
                if entry[1] <= 0:
                    del self.entries[key]
                    return obj
                return None
        return None
