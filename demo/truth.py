"""Ground truth of the demo web: which page, forum floor or API item is an ad of which
categories, which are legitimate look-alikes, and where the crawler traps are.

``demo/content/truth.json`` is generated from the content files (labels live next to the
texts, so they cannot drift apart) and committed, so tools that never import this package
can read it. Regenerate with ``python -m demo.truth``; ``--check`` exits 1 when it is stale.
URLs in the file use the default ports (base 8101); entries also carry ``site`` and
``path``, so a test on other ports joins ``DemoWeb.urls[site] + path``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from demo.content_files import TRUTH_FILE, load
from demo.labels import CATEGORIES, truth_entry
from demo.sites import SITES, TRAP_FUNCTIONS, TRUTH_FUNCTIONS

DEFAULT_BASE_PORT = 8101


def site_urls(host: str = "127.0.0.1", base_port: int = DEFAULT_BASE_PORT) -> dict[str, str]:
    """Base URL of every site for a given base port (as ``start_demo_sites`` assigns them)."""
    return {name: f"http://{host}:{base_port + offset}" for name, offset, _ in SITES}


def build_truth(base_port: int = DEFAULT_BASE_PORT) -> dict:
    """The whole truth document for sites on ``base_port``."""
    urls = site_urls(base_port=base_port)
    items: list[dict] = []
    traps: list[dict] = []
    for name, _, _ in SITES:
        items.extend(TRUTH_FUNCTIONS[name](urls[name]))
        private = load("private")["pages"][name]
        items.append(truth_entry(name, "page", urls[name], private.get("href", private["path"]),
                                 private["title"], private["labels"],
                                 where=f"private.yaml {name}", reached_by="robots_disallowed"))
        traps.append({"site": name, "trap": "robots_disallowed",
                      "path": private.get("href", private["path"]),
                      "url": urls[name] + private.get("href", private["path"]),
                      "note": "robots.txt 禁止抓取 /private/；每页页脚都链接此页；遵守 robots 的爬虫绝不能请求"})
        if name in TRAP_FUNCTIONS:
            traps.extend(TRAP_FUNCTIONS[name](urls[name]))
    ads = [item for item in items if item["ad"]]
    reachable_ads = [item for item in ads if item["reached_by"] != "robots_disallowed"]
    return {
        "generated_by": "python -m demo.truth",
        "base_port": base_port,
        "sites": urls,
        "categories": list(CATEGORIES),
        "summary": {
            "items": len(items),
            "ads": len(ads),
            "ads_reachable_obeying_robots": len(reachable_ads),
            "legitimate": len(items) - len(ads),
            "ads_by_site": dict(Counter(item["site"] for item in ads)),
            "ads_by_category": {c: sum(c in item["labels"] for item in ads) for c in CATEGORIES},
        },
        "items": items,
        "traps": traps,
    }


def render(truth: dict) -> str:
    """The file's exact text (stable key order, readable Chinese, trailing newline)."""
    return json.dumps(truth, ensure_ascii=False, indent=1) + "\n"


def load_truth() -> dict:
    """The committed ``truth.json``."""
    return json.loads(TRUTH_FILE.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Write ``truth.json`` (or with ``--check`` compare and exit 1 when it differs)."""
    parser = argparse.ArgumentParser(prog="python -m demo.truth", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if truth.json is out of date")
    args = parser.parse_args(argv)
    truth = build_truth()
    text = render(truth)
    if args.check:
        current = TRUTH_FILE.read_text(encoding="utf-8") if TRUTH_FILE.exists() else ""
        if current != text:
            print(f"{TRUTH_FILE} is out of date: run python -m demo.truth", file=sys.stderr)
            return 1
        print(f"{TRUTH_FILE} is up to date")
        return 0
    TRUTH_FILE.write_text(text, encoding="utf-8")
    summary = truth["summary"]
    print(f"wrote {TRUTH_FILE}: {summary['items']} items, {summary['ads']} ads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
