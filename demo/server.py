"""Serve the demo web: one ThreadingHTTPServer per site, each on its own port, in one process.

Each site is its own ``host:port`` (port = base port + the site's fixed offset) so crawlers
see eight distinct origins with their own robots.txt, like the real web. Every request
served is appended to ``DemoWeb.requests`` so tests can check what a crawler fetched (and,
above all, what it did not: ``/private/`` pages, the infinite calendar).

Run in the foreground with ``python -m demo.server [--base-port 8101]``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from demo import pages
from demo.content_files import load
from demo.routing import Request, Response, html_response, text_response
from demo.sites import SITES, SiteContext

# Port offset of each site from the base port; sources/*.yaml hard-code 8101 + offset.
SITE_OFFSETS = {name: offset for name, offset, _ in SITES}
DEFAULT_BASE_PORT = 8101
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"


class RequestRecord(NamedTuple):
    """One served request: ``path`` is the raw request target, query string included."""

    site: str
    method: str
    path: str
    headers: dict[str, str]
    status: int


class RequestLog(list):
    """A list of :class:`RequestRecord` that many server threads append to at once.

    Appends and snapshots take a lock; plain reads (``len``, indexing, iteration over
    ``snapshot()``) are what tests use.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:  # type: ignore[override]
        with self._lock:
            super().append(record)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[RequestRecord]:
        """A copy that stays consistent while servers keep appending."""
        with self._lock:
            return list(self)

    def for_site(self, site: str) -> list[RequestRecord]:
        """Records of one site, in the order served."""
        return [r for r in self.snapshot() if r.site == site]


class DemoHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer sized for crawler bursts.

    A deep listen queue so a crawler opening hundreds of connections at once is queued, not
    refused; daemon threads so a slow page (4.5 s) never blocks interpreter exit.
    """

    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        """Dropped connections are routine for crawlers; report only real errors."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def __init__(self, address, site_name: str, log: RequestLog, verbose: bool = False):
        super().__init__(address, DemoRequestHandler)
        self.site_name = site_name
        self.site = None  # set once every port is bound and all base URLs are known
        self.private: dict | None = None
        self.takedowns: dict[tuple[str, str], int] = {}  # shared by all sites: DemoWeb.take_down
        self.log = log
        self.verbose = verbose


class DemoRequestHandler(BaseHTTPRequestHandler):
    """Parses the request, asks the site for a response, writes it and logs it."""

    # HTTP/1.1 keep-alive like real servers; every response carries Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "DemoWeb/1.0"
    # Idle keep-alive connections are dropped after this many seconds.
    timeout = 30

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def do_POST(self) -> None:  # noqa: N802
        # No demo page accepts forms; answer like a static host would.
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._write(Response(405, b"Method Not Allowed", "text/plain; charset=utf-8"), True)

    def _serve(self, send_body: bool) -> None:
        server: DemoHTTPServer = self.server  # type: ignore[assignment]
        request = Request.parse(self.command, self.path, self.headers)
        try:
            response = self._respond(server, request)
        except Exception as exc:  # a bug in a demo page must not kill the connection thread
            response = text_response(f"internal error: {exc!r}", 500)
        if response.delay:
            time.sleep(response.delay)
        self._write(response, send_body)

    def _respond(self, server: DemoHTTPServer, request: Request) -> Response:
        if request.path == "/robots.txt":
            return text_response(ROBOTS_TXT)
        gone = server.takedowns.get((server.site_name, request.path))
        if gone is not None:
            return html_response(takedown_page(gone, server.site), gone)
        private = server.private or {}
        if request.path == private.get("path"):
            return html_response(private_page(private, server.site.title))
        response = server.site.handle(request)
        if response is None:
            response = html_response(
                pages.not_found_page(server.site.title, server.site.ctx.private_href), 404)
        return response

    def _write(self, response: Response, send_body: bool) -> None:
        server: DemoHTTPServer = self.server  # type: ignore[assignment]
        # Logged before the bytes go out, so a client that has its response always finds it
        # in the log.
        server.log.append(RequestRecord(
            server.site_name, self.command, self.path, dict(self.headers.items()), response.status))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            try:
                self.wfile.write(response.body)
            except ConnectionError:
                # The client gave up (a crawler's timeout on the slow page, a size limit on
                # the huge one): nothing to answer any more, and nothing worth a traceback.
                self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        server: DemoHTTPServer = self.server  # type: ignore[assignment]
        if server.verbose:
            sys.stderr.write(f"[{server.site_name}] {format % args}\n")


def private_page(private: dict, site_title: str) -> str:
    """The ad behind ``/private/`` (robots-disallowed): reaching it means robots was ignored."""
    body = (f'<h1 class="title">{pages.esc(private["title"])}</h1>\n'
            f'<div class="content">{pages.paragraphs(private["body"])}</div>')
    return pages.page(private["title"], body, site_title=site_title,
                      private_href=private.get("href", private["path"]))


def takedown_page(status: int, site) -> str:
    """What a taken-down page answers: the site's 404 page, or (status 200) the notice sites
    leave in place of a deleted post."""
    if status == 200:
        return pages.page("该信息已删除", '<h1 class="title">该信息已删除</h1>'
                          '<div class="content"><p>该信息因违反平台规定已被管理员删除。</p></div>',
                          site_title=site.title, private_href=site.ctx.private_href)
    return pages.not_found_page(site.title, site.ctx.private_href)


@dataclass
class DemoWeb:
    """The running demo web: base URLs per site, the request log, and ``stop()``."""

    urls: dict[str, str]
    requests: RequestLog
    servers: list[DemoHTTPServer] = field(repr=False)
    threads: list[threading.Thread] = field(repr=False)

    def url(self, site: str, path: str = "/") -> str:
        """Absolute URL of ``path`` on ``site``."""
        return self.urls[site] + path

    def take_down(self, site: str, path: str, status: int = 404) -> None:
        """Make ``path`` on ``site`` answer ``status`` (404, 410, …) from now on, as a site does
        after a takedown notice; status 200 answers a "该信息已删除" page instead (tests of
        the takedown recheck)."""
        if self.servers:
            self.servers[0].takedowns[(site, path)] = status

    def restore(self, site: str, path: str) -> None:
        """Undo :meth:`take_down`."""
        if self.servers:
            self.servers[0].takedowns.pop((site, path), None)

    def stop(self) -> None:
        """Stop serving and release every port (idempotent)."""
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        self.servers = []
        self.threads = []

    def __enter__(self) -> "DemoWeb":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_demo_sites(host: str = "127.0.0.1", base_port: int = DEFAULT_BASE_PORT,
                     verbose: bool = False) -> DemoWeb:
    """Start every demo site in background threads; returns the running :class:`DemoWeb`.

    Site ``name`` listens on ``base_port + SITE_OFFSETS[name]``; ``base_port=0`` lets the OS
    pick a free port per site. If any port cannot be bound, the ones already bound are
    released and the OSError propagates.
    """
    log = RequestLog()
    servers: list[DemoHTTPServer] = []
    try:
        for name, offset, _ in SITES:
            port = base_port + offset if base_port else 0
            servers.append(DemoHTTPServer((host, port), name, log, verbose))
    except OSError:
        for server in servers:
            server.server_close()
        raise
    # Pages link across sites (news → hospital) and print absolute URLs (canonical links,
    # share URLs), so every site is built only once all ports are known.
    urls = {server.site_name: f"http://{host}:{server.server_address[1]}" for server in servers}
    for server in servers[1:]:
        server.takedowns = servers[0].takedowns
    private_pages = load("private")["pages"]
    for server, (name, _, factory) in zip(servers, SITES):
        server.private = private_pages[name]
        private = private_pages[name]
        href = private.get("href", private["path"])
        server.site = factory(SiteContext(name, urls[name], urls, href))
    threads = []
    for server in servers:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name=f"demo-{server.site_name}", daemon=True)
        thread.start()
        threads.append(thread)
    return DemoWeb(urls, log, servers, threads)


def main(argv: list[str] | None = None) -> int:
    """``python -m demo.server``: serve until SIGTERM/SIGINT, printing the site URLs."""
    parser = argparse.ArgumentParser(prog="python -m demo.server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT,
                        help="port of the first site; site k listens on base+k (default 8101)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    try:
        web = start_demo_sites(args.host, args.base_port, verbose=args.verbose)
    except OSError as exc:
        print(f"demo.server: cannot bind {args.host} from port {args.base_port}: {exc}",
              file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    for name, url in web.urls.items():
        print(f"{name:12} {url}/", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        web.stop()
    print(f"stopped after {len(web.requests)} requests", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
