"""Shared fixtures: one compiled classifier per test session, caches under a temp data dir,
the demo web on free ports (one per test module) and crawling it with the real CLI."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session", autouse=True)
def _data_dir(tmp_path_factory):
    """Tests never write into the developer's data/ folder."""
    path = tmp_path_factory.mktemp("reprowatch-data")
    os.environ["REPROWATCH_DATA"] = str(path)
    yield path


@pytest.fixture(scope="session")
def classifier(_data_dir):
    from classifiers import Classifier

    return Classifier.load()


@pytest.fixture(scope="session")
def cli_bin():
    """The installed console script next to the running interpreter."""
    exe = Path(sys.executable).parent / "reprowatch"
    assert exe.exists(), f"{exe} missing: run `make test`, which installs the project"
    return str(exe)


TRUTH = json.loads((ROOT / "demo" / "content" / "truth.json").read_text(encoding="utf-8"))


def rewrite_ports(text: str, urls: dict[str, str]) -> str:
    """Demo URLs written for base port 8101 → the ports this test's web listens on."""
    for name, old in TRUTH["sites"].items():
        text = text.replace(old, urls[name])
    return text


@pytest.fixture(scope="module")
def web():
    """The demo sites (demo/server.py) on free ports of 127.0.0.1, one web per test module so
    that server-side traps (500 once, request logs) are fresh for each module."""
    from demo.server import start_demo_sites

    w = start_demo_sites(base_port=0)
    yield w
    w.stop()


def write_sources(web, dest: Path, names=None) -> Path:
    """Copy sources/*.yaml (or just ``names``) into ``dest`` with URLs moved to ``web``'s ports."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in (ROOT / "sources").glob("*.yaml"):
        if names is None or src.stem in names:
            (dest / src.name).write_text(rewrite_ports(src.read_text(encoding="utf-8"), web.urls), encoding="utf-8")
    return dest


def crawl_holdout_web(cli_bin, web, yaml_dir, yaml_ports, tmp):
    """Crawl a hold-out web's sources as an officer would: its YAML (written for fixed ports)
    pointed at the ports the test server got, every source crawled by the CLI into one store,
    then every stored item read back with ``search --all --json``. ``$HOLDOUT_DATA`` keeps the
    data folder (for ``reprowatch show``). Returns (crawl process, items, data folder)."""
    src = tmp / "sources"
    src.mkdir()
    names = []
    for y in sorted(Path(yaml_dir).glob("*.yaml")):
        text = y.read_text(encoding="utf-8")
        for site, old in yaml_ports.items():
            text = text.replace(old, web.urls[site])
        (src / y.name).write_text(text, encoding="utf-8")
        names.append(y.stem)
    data = Path(os.environ["HOLDOUT_DATA"]) if os.environ.get("HOLDOUT_DATA") else tmp / "data"
    data.mkdir(parents=True, exist_ok=True)
    proc = run_crawl(cli_bin, src, data, *names, timeout=240)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    out = subprocess.run([cli_bin, "--store", f"sqlite:///{data}/rw.db", "search", "--all", "--json", "--limit", "10000"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return proc, json.loads(out.stdout)["items"], data


def run_crawl(cli_bin, sources_dir, data, *names, store=None, env=None, timeout=300):
    """``reprowatch crawl NAMES --json --quiet`` into ``data`` (default store data/rw.db)."""
    environ = dict(os.environ, REPROWATCH_DATA=str(data), **(env or {}))
    store = store or f"sqlite:///{data}/rw.db"
    return subprocess.run([cli_bin, "--store", store, "crawl", *names, "--sources", str(sources_dir),
                           "--json", "--quiet"], capture_output=True, text=True, env=environ, timeout=timeout)


def local_server(answer, ssl_context=None) -> ThreadingHTTPServer:
    """A small HTTP server of a test on a free port of 127.0.0.1, serving from a daemon thread.

    ``answer(handler)`` is called for every GET and POST and returns ``(status, content type,
    body bytes)``, or None when it sent nothing (the client then sees the connection close).
    ``server.url`` is the base URL (https with ``ssl_context``); stop with ``server.shutdown()``.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            reply = answer(self)
            if reply is None:
                self.close_connection = True
                return
            status, content_type, body = reply
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client closing its connection mid-answer is routine

    server = Server(("127.0.0.1", 0), Handler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    server.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
