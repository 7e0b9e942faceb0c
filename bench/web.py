"""Web UI and API at scale: 100,000 stored items, 4 concurrent clients over HTTP.

    .venv/bin/python bench/web.py [--n 100000] [--requests 200] [--clients 4] [--workers 1]

Generates N synthetic items (bench/store.py's generator: ads in every category, look-alikes,
ordinary posts; 50 sites, 12 sources, a year of fetch times) into a fresh SQLite store with
``bulk_upsert``, creates an account, starts `reprowatch serve` as its own process, and then
``--clients`` threads each send ``--requests`` requests per kind, all at once:

- the search page ``/?q=…&<one filter>`` (HTML, facets, highlight, 20 per page; session cookie),
- ``/api/search`` with the same kind of query (JSON with facets; HTTP Basic),
- the item page ``/items/{id}`` of a random flagged item.

Every request is also appended to the audit log, as in production. Baseline measured in the
same run: ``store.search`` of the same queries called directly in one process (no HTTP, no
template, no audit): the ratio says what the web layer adds. Targets: search page and
/api/search p95 <= 150 ms, item page p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.store import make_item, make_query, percentile  # noqa: E402

PASSWORD = "bench-password-1"


def params_of(q) -> dict:
    """A store Query as the search page's / API's parameters."""
    out = {"q": q.text, "sort": q.sort}
    for name in ("category", "site", "source", "status", "contact", "since", "until"):
        if getattr(q, name):
            out[name] = getattr(q, name)
    return {k: v for k, v in out.items() if v}


def build(db: Path, n: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Index ``n`` items; returns (flagged ids, some contacts)."""
    from search.sqlite_store import SQLiteStore
    from search.tokenize import TokenPool

    store = SQLiteStore(db)
    flagged, contacts = [], []
    t = time.perf_counter()
    with TokenPool(2) as pool:
        for start in range(0, n, 10_000):
            batch = [make_item(i, rng) for i in range(start, min(n, start + 10_000))]
            flagged += [b["id"] for b in batch if b["flagged"]]
            contacts += [b["contacts"]["phones"][0] for b in batch[:5] if b["contacts"]]
            store.bulk_upsert(batch, pool=pool)
    print(f"indexed {n:,} items in {time.perf_counter() - t:.1f} s ({len(flagged):,} flagged)")
    store.close()
    return flagged, contacts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def login(base: str):
    import httpx

    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/login")
    marker = 'name="csrf" value="'
    start = form.text.index(marker) + len(marker)
    token = form.text[start:form.text.index('"', start)]
    answer = client.post("/login", data={"name": "bench", "password": PASSWORD, "csrf": token})
    assert answer.status_code == 303, answer.text[:300]
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="items to store (default 100,000)")
    parser.add_argument("--requests", type=int, default=200, help="requests per client and kind (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers` (default 1)")
    args = parser.parse_args()

    import httpx

    work = Path(tempfile.mkdtemp(prefix="reprowatch-bench-web-"))
    data = work / "data"
    data.mkdir()
    os.environ["REPROWATCH_DATA"] = str(data)
    rng = random.Random(11)
    db = data / "bench.db"
    flagged, contacts = build(db, args.n, rng)

    from search.sqlite_store import SQLiteStore
    from search.web.users import Accounts, accounts_path

    Accounts(accounts_path(data)).add("bench", "reviewer", PASSWORD)
    total = args.requests * args.clients
    queries = [make_query(rng, contacts) for _ in range(total)]

    # Baseline: the store alone, one thread, the same queries.
    store = SQLiteStore(db)
    store.search(queries[0])  # load the in-memory columns outside the timing
    base_ms = []
    for q in queries[: min(400, len(queries))]:
        t = time.perf_counter()
        store.search(q)
        base_ms.append((time.perf_counter() - t) * 1000)
    store.close()

    port = free_port()
    exe = Path(sys.executable).parent / "reprowatch"
    server = subprocess.Popen([str(exe), "--store", f"sqlite:///{db}", "serve", "--port", str(port),
                               "--workers", str(args.workers)],
                              env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        for _ in range(2 * args.workers):  # the first search of each worker loads its in-memory columns
            warm = login(base)
            warm.get("/", params={"q": "代孕"})
            warm.close()

        timings: dict[str, list[float]] = {"search page": [], "/api/search": [], "item page": []}
        errors: list[str] = []
        lock = threading.Lock()
        start_gate = threading.Barrier(args.clients)

        def client(k: int) -> None:
            local_rng = random.Random(100 + k)
            page = login(base)
            api = httpx.Client(base_url=base, auth=("bench", PASSWORD), timeout=60)
            mine = queries[k * args.requests:(k + 1) * args.requests]
            start_gate.wait()
            for q in mine:
                for kind, call in (("search page", lambda: page.get("/", params=params_of(q))),
                                   ("/api/search", lambda: api.get("/api/search", params=params_of(q))),
                                   ("item page", lambda: page.get(f"/items/{local_rng.choice(flagged)}"))):
                    t = time.perf_counter()
                    answer = call()
                    ms = (time.perf_counter() - t) * 1000
                    with lock:
                        timings[kind].append(ms)
                        if answer.status_code != 200:
                            errors.append(f"{kind} {answer.status_code}")
            page.close()
            api.close()

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)

    done = sum(len(v) for v in timings.values())
    print(f"{args.clients} concurrent clients, {done:,} requests in {wall:.1f} s = {done / wall:.0f} requests/s; "
          f"errors: {len(errors)}{' ' + str(errors[:5]) if errors else ''}")
    b50, b95 = percentile(base_ms, 50), percentile(base_ms, 95)
    print(f"baseline store.search in-process, one thread: p50 {b50:.1f} ms  p95 {b95:.1f} ms")
    targets = {"search page": 150, "/api/search": 150, "item page": 100}
    for kind, values in timings.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        verdict = "ok" if p95 <= targets[kind] else "OVER TARGET"
        ratio = f"  ({p95 / max(b95, 1e-3):.1f}x baseline p95)" if kind != "item page" else ""
        print(f"  {kind:<12} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(values):6.1f} ms  "
              f"(target p95 <= {targets[kind]} ms: {verdict}){ratio}")


if __name__ == "__main__":
    main()
