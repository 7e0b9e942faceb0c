"""The demo/test web: eight small local sites that mix illegal assisted-reproduction ads with
legitimate look-alikes, served on 127.0.0.1 by one process (standard library only).

``demo.server.start_demo_sites()`` starts them in background threads;
``python -m demo.server`` runs them in the foreground. Content lives in
``demo/content/*.yaml``; the ground truth (which page, floor or API item is an ad of which
category, and where the traps are) in ``demo/content/truth.json``.
"""

from __future__ import annotations

__all__ = ["DemoWeb", "RequestRecord", "SITE_OFFSETS", "start_demo_sites"]


def __getattr__(name: str):
    # Imported lazily so `python -m demo.server` does not find demo.server pre-imported.
    if name in __all__:
        from demo import server

        return getattr(server, name)
    raise AttributeError(f"module 'demo' has no attribute {name!r}")
