"""Browser rendering: our `render: browser` crawl against plain scrapy-playwright, same pages.

    .venv/bin/python bench/browser.py [--pages 2000] [--rounds 1] [--auto-extract] [--only-ours] [--keep DIR]

Generates a JavaScript-rendered site of ``--pages`` pages and serves it on 127.0.0.1 from a
ThreadingHTTPServer in a thread of this process. Every page is an empty ``<div id="app">``
plus a small inline script that builds the page from data in the script: a title, a Chinese
text (every fifth page an ad), and cards linking to the next pages (page n links to
5n+1 … 5n+5, so the crawl discovers the site as it goes). Without JavaScript a page has no
text and no links. Then the same pages are crawled twice, each in a fresh subprocess:

  (a) ours: ``reprowatch --store sqlite:///… crawl bench-js --sources DIR --json --quiet``
      on a `render: browser` source (wait_for the cards; title and text by CSS selectors,
      as sources/demo-jsapp.yaml does — ``--auto-extract`` uses the automatic main-text
      extraction instead), with the project's settings — contexts and pages bounded, pages
      closed after use, contexts recycled — and every pipeline (dedup, classification,
      SQLite store) except evidence capture of flagged items (``REPROWATCH_EVIDENCE=0``;
      bench/evidence.py measures that);
  (b) the baseline: a minimal spider on plain scrapy-playwright (its defaults, the same
      Chromium and launch flags) that requests every page URL with ``playwright: True``
      and yields nothing.

Speed is measured at the server, from the first to the last page request of each run, so
browser start-up and shutdown are not counted for either. ``--rounds N`` alternates (b) and
(a) N times, so that load from other processes hits both alike. Printed: pages/s of each
run, the ratio (a)/(b) (target >= 90%), the CPU time per page of each process tree, in
total and by kind of process (start-up included; less sensitive than pages/s to load from
other processes: on 2 cores the rendering is CPU-bound, so CPU per page decides), and for (a)
the peak memory of the whole process tree (Python, the Playwright driver, every Chromium
process) in each window of 500 pages (target: not growing after the first windows, the
warm-up): RSS summed over the processes, which counts memory they share once per process,
and PSS, which splits it among them, also by kind of process. ``--only-ours`` skips (b):
for memory over long crawls (``--pages 5000``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FANOUT = 5
WINDOW = 500
TEXTS = [
    "宝宝六个月开始添加辅食，先加高铁米粉，再加蔬菜泥和水果泥，每次只加一种。",
    "小区周末组织亲子运动会，欢迎各位家长带孩子报名参加，现场有小礼品。",
    "二手婴儿推车转让，九成新，可坐可躺，自提优先，价格可以商量。",
    "孕期要注意营养均衡，适当运动，定期产检，保持心情愉快。",
    "高薪招募爱心妈妈，代孕一次补贴二十五万，包吃住，全程保密，➕V aixin520。",
]

PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>第{n}页</title></head>
<body><div id="app"></div><script>
(function () {{
  var d = {data};
  var app = document.getElementById('app');
  var h = document.createElement('h1'); h.textContent = d.title; app.appendChild(h);
  var p = document.createElement('p'); p.className = 'text'; p.textContent = d.text; app.appendChild(p);
  d.links.forEach(function (k) {{
    var c = document.createElement('div'); c.className = 'card';
    var a = document.createElement('a'); a.href = '/p/' + k; a.textContent = '第' + k + '页';
    c.appendChild(a); app.appendChild(c);
  }});
}}());
</script></body></html>"""


def page_html(n: int, pages: int) -> bytes:
    links = [k for k in range(FANOUT * n + 1, FANOUT * n + FANOUT + 1) if k < pages]
    data = {"title": f"第{n}页 育儿交流", "text": f"{TEXTS[n % len(TEXTS)]}（编号 {n}）", "links": links}
    return PAGE.format(n=n, data=json.dumps(data, ensure_ascii=False)).encode("utf-8")


class Site:
    """The generated site, and the time of every page request it served."""

    def __init__(self, pages: int):
        self.pages = pages
        self.hits: list[float] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                path = self.path.split("?")[0]
                body, status = b"not found", 404
                if path.startswith("/p/") and path[3:].isdigit() and int(path[3:]) < site.pages:
                    body, status = page_html(int(path[3:]), site.pages), 200
                    with site.lock:
                        site.hits.append(time.monotonic())
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 2048
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a browser closing a page mid-response is routine

        self.server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def served(self) -> int:
        with self.lock:
            return len(self.hits)

    def take(self) -> list[float]:
        with self.lock:
            hits, self.hits = self.hits, []
        return hits


TICK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def tree_memory(pids: list[int]) -> tuple[int, int, dict[int, int]]:
    """``(RSS, PSS)`` in bytes summed over processes, and the PSS of each."""
    rss = pss = 0
    each: dict[int, int] = {}
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        each[p] = int(line.split()[1]) * 1024
                        pss += each[p]
        except OSError:
            pass  # the process ended meanwhile
    return rss, pss, each


def process_cpu(root: int, pids: list[int], seen: dict[int, tuple[str, float]]) -> None:
    """Record each process's kind and CPU seconds so far (the last reading is kept)."""
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            if p not in seen:
                with open(f"/proc/{p}/cmdline", "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, ValueError, IndexError):
            continue
        if p in seen:
            kind = seen[p][0]
        else:
            program = os.path.basename(cmd.split(" ")[0])
            kind = ("crawl process" if p == root else
                    "worker processes" if program.startswith("python") else
                    "Playwright driver (node)" if program == "node" else
                    "Chromium renderers" if "--type=renderer" in cmd else
                    "Chromium browser process" if "--type=" not in cmd else
                    "Chromium GPU, utility, zygote")
        seen[p] = (kind, cpu)


def run(args: list[str], site: Site, env: dict, log: Path) -> tuple[list[float], dict, float, dict]:
    """Run one crawl subprocess: page request times, peak memory per window of pages, and the
    CPU seconds of each kind of process in its tree (read from /proc every 0.5 s: a process
    that ends loses what it used after its last reading; Chromium's processes are not all
    waited for by their parents, so getrusage cannot count them). Peak memory per window:
    ``{"RSS": bytes, "PSS": bytes, <kind>: PSS bytes of that kind of process}``."""
    site.take()
    peaks: dict[int, dict[str, int]] = {}
    seen: dict[int, tuple[str, float]] = {}
    with log.with_suffix(".out").open("w") as out, log.open("w") as err:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=err)
        while proc.poll() is None:
            window = site.served() // WINDOW
            pids = tree(proc.pid)
            rss, pss, each = tree_memory(pids)
            process_cpu(proc.pid, pids, seen)
            sample = {"RSS": rss, "PSS": pss}
            for pid, value in each.items():
                if pid in seen:
                    sample[seen[pid][0]] = sample.get(seen[pid][0], 0) + value
            peak = peaks.setdefault(window, {})
            for key, value in sample.items():
                peak[key] = max(peak.get(key, 0), value)
            time.sleep(0.5)
    if proc.returncode != 0:
        sys.exit(f"crawl failed ({proc.returncode}), see {log}")
    kinds: dict[str, float] = {}
    for kind, seconds in seen.values():
        kinds[kind] = kinds.get(kind, 0.0) + seconds
    return site.take(), peaks, sum(kinds.values()), kinds


BASELINE = '''
import sys, scrapy
from scrapy.crawler import CrawlerProcess

BASE, PAGES = sys.argv[1], int(sys.argv[2])

class Plain(scrapy.Spider):
    name = "plain"

    async def start(self):
        for n in range(PAGES):
            yield scrapy.Request(f"{BASE}/p/{n}", meta={"playwright": True}, callback=self.parse)

    def parse(self, response):
        return None

process = CrawlerProcess({
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "DOWNLOAD_HANDLERS": {"http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
                          "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"},
    "PLAYWRIGHT_LAUNCH_OPTIONS": %(launch)r,
    "ROBOTSTXT_OBEY": False,
    "LOG_LEVEL": "WARNING",
})
process.crawl(Plain)
process.start()
'''

SOURCE = """\
name: bench-js
type: html
render: browser
start_urls: ['{base}/p/0']
allowed_domains: [127.0.0.1]
follow: ['/p/\\d+$']
items: ['/p/\\d+$']
selectors: {selectors}
browser: {{wait_for: '#app .card, #app h1'}}
max_pages: {max_pages}
max_depth: 20
obey_robots: false
"""


def rate(hits: list[float]) -> float:
    return (len(hits) - 1) / (hits[-1] - hits[0]) if len(hits) > 1 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=1, help="alternate (b) and (a) this many times")
    parser.add_argument("--auto-extract", action="store_true",
                        help="no CSS selectors in (a)'s source: automatic main-text extraction")
    parser.add_argument("--keep", help="keep the work folder (logs, store) here")
    parser.add_argument("--only-ours", action="store_true",
                        help="crawl with (a) only, for memory over long crawls (no ratio)")
    opts = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from crawlers.settings import PLAYWRIGHT_LAUNCH_OPTIONS

    work = Path(opts.keep or tempfile.mkdtemp(prefix="bench-browser-"))
    shutil.rmtree(work, ignore_errors=True)
    (work / "sources").mkdir(parents=True)
    site = Site(opts.pages)
    (work / "sources" / "bench-js.yaml").write_text(
        SOURCE.format(base=site.base, max_pages=opts.pages + 10,
                      selectors="{}" if opts.auto_extract else "{title: h1, text: '#app .text'}"),
        encoding="utf-8")
    (work / "plain.py").write_text(BASELINE % {"launch": PLAYWRIGHT_LAUNCH_OPTIONS}, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT), REPROWATCH_DATA=str(work / "data"), REPROWATCH_EVIDENCE="0")
    print(f"site: {opts.pages} JS-rendered pages at {site.base}/p/0, "
          f"{os.cpu_count()} CPUs, Chromium {PLAYWRIGHT_LAUNCH_OPTIONS['executable_path']}", flush=True)

    ours = [sys.executable, "-c", "from reprowatch.cli import main; main()",
            "--store", f"sqlite:///{work}/data/bench.db", "crawl", "bench-js",
            "--sources", str(work / "sources"), "--json", "--quiet"]
    plain = [sys.executable, str(work / "plain.py"), site.base, str(opts.pages)]
    ratios = []
    for n in range(1, opts.rounds + 1):
        hits_b, cpu_b, kinds_b = [], 0.0, {}
        if not opts.only_ours:
            hits_b, _, cpu_b, kinds_b = run(plain, site, env, work / "plain.log")
        shutil.rmtree(work / "data", ignore_errors=True)  # every round of (a) crawls afresh
        hits_a, peaks, cpu_a, kinds_a = run(ours, site, env, work / "ours.log")
        summary = json.loads((work / "ours.out").read_text())[0]
        a, b = rate(hits_a), rate(hits_b)
        print(f"round {n}:", flush=True)
        if not opts.only_ours:
            print(f"  (b) plain scrapy-playwright               {len(hits_b):6d} pages  {b:7.1f} pages/s  "
                  f"CPU {cpu_b / max(len(hits_b), 1) * 1000:4.0f} ms/page")
        print(f"  (a) ours, render: browser + pipelines     {len(hits_a):6d} pages  {a:7.1f} pages/s  "
              f"CPU {cpu_a / max(len(hits_a), 1) * 1000:4.0f} ms/page  ({summary['items']} items stored, {summary['flagged']} flagged, "
              f"errors {summary['errors'] or 'none'})")
        if not opts.only_ours:
            ratios.append(a / b if b else 0.0)
            print(f"  ratio (a)/(b): {ratios[-1]:.0%}   (target >= 90%)  load average {os.getloadavg()[0]:.1f}")
        print("  CPU ms/page by process kind:          (b)      (a)")
        for kind in sorted(set(kinds_a) | set(kinds_b)):
            per_b = kinds_b.get(kind, 0.0) / max(len(hits_b), 1) * 1000
            per_a = kinds_a.get(kind, 0.0) / max(len(hits_a), 1) * 1000
            print(f"    {kind:34s} {per_b:6.1f}   {per_a:6.1f}")
        kinds = sorted({k for peak in peaks.values() for k in peak} - {"RSS", "PSS"})
        print(f"  peak memory (MiB) of (a)'s process tree per {WINDOW} pages; PSS by kind of process:")
        print("    pages           RSS    PSS  " + "  ".join(f"{k.split(' (')[0][:16]:>16s}" for k in kinds))
        for window in sorted(peaks):
            lo, hi = window * WINDOW, min((window + 1) * WINDOW, len(hits_a))
            if lo < hi:
                peak = peaks[window]
                print(f"    {lo:5d}-{hi:5d}  {peak['RSS'] / 2**20:6.0f} {peak['PSS'] / 2**20:6.0f}  "
                      + "  ".join(f"{peak.get(k, 0) / 2**20:16.0f}" for k in kinds), flush=True)
    if len(ratios) > 1:
        print(f"median ratio (a)/(b) over {opts.rounds} rounds: {statistics.median(ratios):.0%}")
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    site.server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
