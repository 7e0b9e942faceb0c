"""Where reprowatch keeps its data: one folder, `data/` under the working directory by default."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The data folder: `$REPROWATCH_DATA` if set, else `./data`; created on first use."""
    path = Path(os.environ.get("REPROWATCH_DATA") or "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Derived, rebuildable files (jieba's dictionary model, normalisation tables)."""
    path = data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
