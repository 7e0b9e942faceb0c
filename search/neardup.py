"""Near-duplicate grouping of items (reposted ads) with MinHash LSH (datasketch).

Reposts of one ad differ by a phone digit, an emoji, a changed price or a rewritten
sentence; a content hash sees them as different. Measured on the character 3-grams of the
folded text, a repost of a short ad shares 0.4-0.9 of its 3-grams with the original, while
two different ads of the same kind share less than 0.34 in 99.99 % of the 249,000 pairs of
our corpora. So: MinHash LSH (datasketch) with bands tuned to find pairs from about 0.3 up
as candidates, then each candidate's estimated similarity (the share of its 128 MinHash
values equal to the new item's) must reach 0.4. Every item gets a ``cluster``: the id of
the first item of its group. The index is kept in ``data/neardup.pkl`` so that groups span
crawl runs and sources.
"""

from __future__ import annotations

import fcntl
import hashlib
import pickle
import re
from pathlib import Path

import numpy as np

_NUM_PERM = 128
# 42 bands of 3 values: a pair with 3-gram Jaccard 0.4 is a candidate with probability 0.93,
# at 0.46 with 0.99, at 0.1 with 0.04, at 0.05 with 0.005.
_BANDS, _ROWS = 42, 3
_SIMILAR = 0.4  # estimated Jaccard a candidate needs to join a cluster
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def content_hash(text: str) -> str:
    """SHA-1 of the text with whitespace and punctuation removed."""
    return hashlib.sha1(_NOISE.sub("", text).encode("utf-8")).hexdigest()


# Hash functions h_i(g) = (a_i * g + b_i) >> 32 over 64-bit mixed gram keys (multiply-shift,
# a universal family), drawn once from a fixed seed so every process agrees.
_rng = np.random.default_rng(20260101)
_A = (_rng.integers(1, 2**63, _NUM_PERM, dtype=np.uint64) << np.uint64(1)) | np.uint64(1)  # odd
_B = _rng.integers(0, 2**63, _NUM_PERM, dtype=np.uint64)
_SEED = 1
# Bump when signatures change: an index built with other hash functions cannot be queried.
_VERSION = 2


def _mix(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: spreads the gram keys' bits (wraps modulo 2**64)."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def signature(text: str) -> np.ndarray:
    """The MinHash values of the text's character 3-grams (lower-cased, punctuation removed).

    Vectorised: a 3-gram of code points (each < 2**21) is packed exactly into one 63-bit key,
    so the set of keys is the set of 3-grams; hashing a page's thousand grams this way costs
    a twentieth of hashing each gram's bytes with SHA-1 in Python. Plain numpy, so a worker
    process computing signatures need not import datasketch (and SciPy with it)."""
    folded = _NOISE.sub("", text.lower())
    points = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(points) < 3:  # a short text is one gram of itself
        points = np.concatenate([points, np.zeros(3 - len(points), dtype=np.uint64)])
    keys = np.unique((points[:-2] << np.uint64(42)) | (points[1:-1] << np.uint64(21)) | points[2:])
    hashed = _mix(keys)[:, None] * _A + _B  # wraps modulo 2**64, as multiply-shift hashing wants
    return (hashed >> np.uint64(32)).min(axis=0)


class NearDupIndex:
    """Assigns cluster ids; loads ``path`` when it exists, persists with :meth:`save`."""

    def __init__(self, path: Path | None = None):
        from datasketch import MinHashLSH

        self.path = Path(path) if path else None
        self.lsh = MinHashLSH(num_perm=_NUM_PERM, params=(_BANDS, _ROWS))
        self.cluster_of: dict[str, str] = {}
        self.signatures: dict[str, bytes] = {}  # item id → its MinHash values as uint32
        if self.path and self.path.exists():
            try:
                with self.path.open("rb") as fh:
                    fcntl.flock(fh, fcntl.LOCK_SH)
                    saved = pickle.load(fh)
                if len(saved) == 4 and saved[0] == _VERSION:
                    _, self.lsh, self.cluster_of, self.signatures = saved
                else:
                    # Signatures of another version ((lsh, clusters) before versions were
                    # saved): the items keep their clusters, reposts of them start new ones.
                    self.cluster_of = saved[2] if len(saved) >= 3 else saved[1]
            except (OSError, pickle.PickleError, EOFError, ValueError, TypeError, IndexError):
                pass  # a damaged index only costs grouping across runs; rebuilt from now on

    def known(self, item_id: str) -> str | None:
        """The cluster of an item seen before, else None."""
        return self.cluster_of.get(item_id)

    def assign(self, item_id: str, values: np.ndarray) -> str:
        """Cluster an item by its :func:`signature` (computed elsewhere, e.g. in a worker)."""
        from datasketch import LeanMinHash

        if item_id in self.cluster_of:
            return self.cluster_of[item_id]
        m = LeanMinHash(seed=_SEED, hashvalues=values, scheme="legacy")
        mine = np.asarray(values, dtype=np.uint32)
        clusters = []
        for key in self.lsh.query(m):
            theirs = self.signatures.get(key)
            if theirs is None or key not in self.cluster_of:
                continue
            if np.count_nonzero(np.frombuffer(theirs, dtype=np.uint32) == mine) >= _SIMILAR * _NUM_PERM:
                clusters.append(self.cluster_of[key])
        cluster = min(clusters, default=item_id)
        self.lsh.insert(item_id, m)
        self.cluster_of[item_id] = cluster
        self.signatures[item_id] = mine.tobytes()
        return cluster

    def save(self) -> None:
        """Write the index atomically (other crawls may read it at the same time)."""
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump((_VERSION, self.lsh, self.cluster_of, self.signatures), fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self.path)
