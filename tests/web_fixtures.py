"""Helpers for the web UI tests: a store filled by crawling the demo sites with the real CLI
(evidence captured for every flagged item), accounts made with `reprowatch user add`, and
`reprowatch serve` running as a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conftest import run_crawl, write_sources

# The three demo sites whose pages carry injection payloads (<script>, onerror=, javascript:);
# a full crawl of the three takes about 20 s with evidence capture through Chromium.
SOURCES = ("demo-classifieds", "demo-forum", "demo-portal")
PASSWORDS = {"admin": "admin-pass-123", "rev": "reviewer-pass-1", "viewer": "viewer-pass-12"}
ROLES = {"admin": "admin", "rev": "reviewer", "viewer": "viewer"}


@dataclass
class Site:
    """A crawled store served by `reprowatch serve`."""

    url: str
    data: Path
    store: str
    env: dict
    cli: str
    proc: subprocess.Popen | None = None
    items: dict = field(default_factory=dict)

    def run(self, *args, input: str | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
        """Run the CLI on this store and data folder."""
        return subprocess.run([self.cli, "--store", self.store, *args], capture_output=True, text=True,
                              env=self.env, input=input, timeout=timeout)

    def client(self, user: str | None = None, **kw) -> httpx.Client:
        """An httpx client for the server; with ``user``, HTTP Basic as that account."""
        auth = (user, PASSWORDS[user]) if user else None
        return httpx.Client(base_url=self.url, auth=auth, timeout=60, **kw)

    def session(self, user: str) -> tuple[httpx.Client, str]:
        """A client logged in through the login form, and its CSRF token (read from a page)."""
        client = httpx.Client(base_url=self.url, timeout=60)
        form = client.get("/login?next=/queue")
        token = _field(form.text, "csrf")
        answer = client.post("/login", data={"name": user, "password": PASSWORDS[user], "csrf": token, "next": "/"})
        assert answer.status_code == 303, answer.text[:500]
        page = client.get("/dashboard")
        return client, _data_csrf(page.text)


def _field(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def _data_csrf(html: str) -> str:
    marker = 'data-csrf="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def crawled_site(web, cli_bin: str, tmp_path_factory, name: str) -> Site:
    """Crawl SOURCES of ``web`` into a new data folder, add the three accounts, start `serve`."""
    data = tmp_path_factory.mktemp(f"{name}-data")
    sources = write_sources(web, tmp_path_factory.mktemp(f"{name}-sources"), SOURCES)
    proc = run_crawl(cli_bin, sources, data, *SOURCES)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = dict(os.environ, REPROWATCH_DATA=str(data))
    site = Site(url="", data=data, store=f"sqlite:///{data}/rw.db", env=env, cli=cli_bin)
    for user, role in ROLES.items():
        done = site.run("user", "add", user, "--role", role, "--password-stdin", input=PASSWORDS[user] + "\n")
        assert done.returncode == 0, done.stderr
    port = free_port()
    site.url = f"http://127.0.0.1:{port}"
    site.proc = subprocess.Popen([cli_bin, "--store", site.store, "serve", "--port", str(port)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(site.url + "/login", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        site.proc.kill()
        raise AssertionError(f"serve did not start: {site.proc.communicate()[1][-2000:]}")
    import sqlite3

    db = sqlite3.connect(data / "rw.db")
    db.row_factory = sqlite3.Row
    site.items = {r["id"]: dict(r) for r in db.execute("SELECT id, title, text, flagged, status, source, evidence, "
                                                       "contacts, cluster FROM items")}
    db.close()
    return site


def stop(site: Site) -> None:
    """Stop the site's server (only the process we started)."""
    if site.proc and site.proc.poll() is None:
        site.proc.terminate()
        try:
            site.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            site.proc.kill()
            site.proc.wait()


def payload_items(site: Site) -> list[dict]:
    """Crawled items whose title or text carries an injection payload."""
    marks = ("<script", "onerror=", "javascript:")
    return [i for i in site.items.values() if any(m in (i["title"] or "") + (i["text"] or "") for m in marks)]
