"""Near-duplicate grouping of items (reposted ads) with MinHash LSH (datasketch).

Reposts of one ad differ by a phone digit, an emoji or a changed price; MinHash over
character 3-grams of the folded text sees them as ~90% similar, where a content hash sees
them as different. Every item gets a ``cluster``: the id of the first item of its group.
The index is kept in ``data/neardup.pkl`` so that groups span crawl runs and sources.
"""

from __future__ import annotations

import fcntl
import hashlib
import pickle
import re
from functools import lru_cache
from pathlib import Path

from datasketch import LeanMinHash, MinHash, MinHashLSH

_NUM_PERM = 64
_THRESHOLD = 0.7  # Jaccard of 3-gram sets; reposts score > 0.8, different ads < 0.3
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def content_hash(text: str) -> str:
    """SHA-1 of the text with whitespace and punctuation removed."""
    return hashlib.sha1(_NOISE.sub("", text).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _permutations():
    # MinHash draws its permutations anew for every instance; they depend only on the seed.
    template = MinHash(num_perm=_NUM_PERM)
    return template.permutations, template.scheme


def signature(text: str) -> LeanMinHash:
    """The MinHash of the text's character 3-grams (lower-cased, punctuation removed)."""
    folded = _NOISE.sub("", text.lower())
    grams = {folded[i:i + 3] for i in range(max(1, len(folded) - 2))}
    permutations, scheme = _permutations()
    m = MinHash(num_perm=_NUM_PERM, permutations=permutations, scheme=scheme)
    m.update_batch([g.encode("utf-8") for g in grams])
    return LeanMinHash(m)


class NearDupIndex:
    """Assigns cluster ids; load with :meth:`open`, persist with :meth:`save`."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else None
        self.lsh = MinHashLSH(threshold=_THRESHOLD, num_perm=_NUM_PERM)
        self.cluster_of: dict[str, str] = {}
        if self.path and self.path.exists():
            try:
                with self.path.open("rb") as fh:
                    fcntl.flock(fh, fcntl.LOCK_SH)
                    self.lsh, self.cluster_of = pickle.load(fh)
            except (OSError, pickle.PickleError, EOFError, ValueError):
                pass  # a damaged index only costs grouping across runs; rebuilt from now on

    def known(self, item_id: str) -> str | None:
        """The cluster of an item seen before, else None."""
        return self.cluster_of.get(item_id)

    def assign(self, item_id: str, m: LeanMinHash) -> str:
        """Cluster an item by its :func:`signature` (computed elsewhere, e.g. in a worker)."""
        if item_id in self.cluster_of:
            return self.cluster_of[item_id]
        similar = self.lsh.query(m)
        cluster = min((self.cluster_of[k] for k in similar if k in self.cluster_of), default=item_id)
        self.lsh.insert(item_id, m)
        self.cluster_of[item_id] = cluster
        return cluster

    def save(self) -> None:
        """Write the index atomically (other crawls may read it at the same time)."""
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump((self.lsh, self.cluster_of), fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self.path)
