"""好孕妈妈社区 — a Discuz-style forum (offset 1) where ads hide as floors in ordinary threads.

Pages: ``/`` (boards, latest replies), ``/forum-<fid>-<page>.html`` (thread lists),
``/thread-<tid>-<page>.html`` (floors ``<div class="post" id="pid<N>" data-floor="<k>">``).
One item per floor, so the crawler must split pages with ``selectors.post``. Replies that
quote an ad to condemn it are legitimate. Text is escaped, but the forum's BBCode
``[url=…]`` becomes a raw link without a scheme check, as careless forums do
(``javascript:`` links). A board lists a deleted thread (404).
"""

from __future__ import annotations

import re
from datetime import timedelta

from demo import pages
from demo.content_files import load, parse_time
from demo.labels import truth_entry
from demo.pages import esc
from demo.routing import Request, Response, Router, SiteContext, html_response

_BBCODE_URL = re.compile(r"\[url=([^\]]*)\](.*?)\[/url\]")


def _content() -> dict:
    return load("forum")


def floor_pid(tid: int, floor: int) -> int:
    """Post id of a floor: unique across the forum and stable when threads are added."""
    return tid * 100 + floor


def floor_times(thread: dict) -> list[str]:
    """Deterministic reply times: each floor 5 to 94 minutes after the previous one."""
    moment = parse_time(thread["start"])
    times = []
    for k in range(1, len(thread["floors"]) + 1):
        times.append(moment.strftime("%Y-%m-%d %H:%M"))
        moment += timedelta(minutes=(k * 37) % 90 + 5)
    return times


def render_text(text: str) -> str:
    """Escape floor text, then turn ``[url=x]y[/url]`` into ``<a href="x">`` unchecked.

    The href is inserted raw on purpose: this is the careless-forum trap.
    """
    escaped = esc(text)
    return _BBCODE_URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(2)}</a>', escaped)


class ForumSite:
    """Serves boards and threads from ``forum.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.boards = {b["fid"]: b["name"] for b in data["boards"]}
        self.threads = {t["tid"]: t for t in data["threads"]}
        self.deleted = data["deleted_thread"]
        self.threads_per_page = data["threads_per_page"]
        self.floors_per_page = data["floors_per_page"]
        self.router = Router()
        self.router.add(r"/(?:forum\.php)?", self.index)
        self.router.add(r"/forum-(?P<fid>\d+)-(?P<page>\d+)\.html", self.board)
        self.router.add(r"/thread-(?P<tid>\d+)-(?P<page>\d+)\.html", self.thread)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a page handler."""
        return self.router.dispatch(request)

    def _page(self, title: str, body: str, canonical: str | None = None) -> Response:
        nav = " ".join(f'<a href="forum-{fid}-1.html">{esc(name)}</a>'
                       for fid, name in self.boards.items())
        return html_response(pages.page(title, body, site_title=self.title, nav=nav,
                                        canonical=canonical, private_href=self.ctx.private_href))

    def _thread_pages(self, thread: dict) -> int:
        return pages.page_count(len(thread["floors"]), self.floors_per_page)

    def _board_threads(self, fid: int) -> list[dict]:
        """Threads of a board, newest first; the deleted thread still shows in its board."""
        threads = [t for t in self.threads.values() if t["fid"] == fid]
        if self.deleted["fid"] == fid:
            threads.append({"tid": self.deleted["tid"], "title": self.deleted["title"],
                            "floors": [{}], "start": ""})
        return sorted(threads, key=lambda t: t["tid"], reverse=True)

    def index(self, request: Request, match) -> Response:
        """Board list and a 最新回复 box linking threads' last pages with a tracking parameter."""
        boards = "".join(
            f'<li><a href="forum-{fid}-1.html">{esc(name)}</a> '
            f"（主题 {len(self._board_threads(fid))}）</li>" for fid, name in self.boards.items())
        latest = "".join(
            f'<li><a href="thread-{t["tid"]}-{self._thread_pages(t)}.html?from=timeline">'
            f'{esc(t["title"])}</a></li>'
            for t in sorted(self.threads.values(), key=lambda t: t["tid"], reverse=True)[:5])
        body = (f"<h1>{esc(self.title)}</h1><h2>版块</h2><ul class=\"boards\">{boards}</ul>"
                f"<h2>最新回复</h2><ul class=\"latest\">{latest}</ul>")
        return self._page(self.title, body, canonical=f"{self.ctx.base}/")

    def board(self, request: Request, match) -> Response | None:
        """One page of a board's thread list."""
        fid, page_no = int(match["fid"]), int(match["page"])
        if fid not in self.boards:
            return None
        threads = self._board_threads(fid)
        page_count = pages.page_count(len(threads), self.threads_per_page)
        if not 1 <= page_no <= page_count:
            return None
        shown = threads[(page_no - 1) * self.threads_per_page: page_no * self.threads_per_page]
        rows = "\n".join(
            f'<tr><th><a class="xst" href="thread-{t["tid"]}-1.html">{esc(t["title"])}</a></th>'
            f'<td class="num">{max(len(t["floors"]) - 1, 0)}</td>'
            f'<td class="by">{esc(t["floors"][0].get("by", ""))}</td></tr>' for t in shown)
        name = self.boards[fid]
        body = (f"<h1>{esc(name)}</h1>\n<table id=\"threadlisttableid\">\n{rows}\n</table>\n"
                + pages.pagination(lambda n: f"forum-{fid}-{n}.html", page_no, page_count))
        return self._page(name, body, canonical=f"{self.ctx.base}/forum-{fid}-{page_no}.html")

    def thread(self, request: Request, match) -> Response | None:
        """One page of a thread: ``floors_per_page`` floors, each its own item."""
        thread = self.threads.get(int(match["tid"]))
        if thread is None:
            return None  # includes the deleted thread
        page_no, page_count = int(match["page"]), self._thread_pages(thread)
        if not 1 <= page_no <= page_count:
            return None
        times = floor_times(thread)
        first = (page_no - 1) * self.floors_per_page
        floors = []
        for index in range(first, min(first + self.floors_per_page, len(thread["floors"]))):
            floors.append(self._floor(thread, index + 1, thread["floors"][index], times[index]))
        board = self.boards[thread["fid"]]
        tid = thread["tid"]
        body = (
            f'<div class="crumbs"><a href="/">首页</a> › '
            f'<a href="forum-{thread["fid"]}-1.html">{esc(board)}</a></div>\n'
            f'<h1 id="thread_subject">{esc(thread["title"])}</h1>\n'
            + "\n".join(floors) + "\n"
            + pages.pagination(lambda n: f"thread-{tid}-{n}.html", page_no, page_count))
        title = thread["title"] if page_no == 1 else f"{thread['title']} - 第{page_no}页"
        return self._page(title, body, canonical=f"{self.ctx.base}/thread-{tid}-{page_no}.html")

    def _floor(self, thread: dict, number: int, floor: dict, when: str) -> str:
        quote = ""
        if floor.get("quote"):
            q = floor["quote"]
            quote = (f'<blockquote class="quote"><span class="quote-by">{esc(q["by"])} 发表于</span> '
                     f"{render_text(q['text'])}</blockquote>")
        label = "楼主" if number == 1 else f"{number}#"
        return (
            f'<div class="post" id="pid{floor_pid(thread["tid"], number)}" data-floor="{number}">\n'
            f'  <div class="post-author">{esc(floor["by"])}</div>\n'
            f'  <div class="post-meta"><span class="post-time">发表于 {when}</span> <em>{label}</em></div>\n'
            f'  <div class="post-body">{quote}{render_text(floor["text"])}</div>\n</div>')


def truth(base: str) -> list[dict]:
    """Every floor, addressed as ``thread-<tid>-<page>.html#pid<N>``."""
    data = _content()
    per_page = data["floors_per_page"]
    entries = []
    for thread in data["threads"]:
        for index, floor in enumerate(thread["floors"]):
            number = index + 1
            page_no = index // per_page + 1
            path = f"/thread-{thread['tid']}-{page_no}.html#pid{floor_pid(thread['tid'], number)}"
            entries.append(truth_entry(
                "forum", "floor", base, path, f"{thread['title']} #{number}",
                floor.get("labels"), where=f"forum.yaml thread {thread['tid']} floor {number}",
                reached_by="list", quotes_ad=bool(floor.get("quote")) or None,
                text=floor["text"]))
    return entries


def traps(base: str) -> list[dict]:
    """The forum's traps: a deleted thread still listed, raw BBCode links, quoted ads."""
    data = _content()
    per_page = data["floors_per_page"]
    found = [{"trap": "dead_link", "path": f"/thread-{data['deleted_thread']['tid']}-1.html",
              "status": 404}]
    for thread in data["threads"]:
        for index, floor in enumerate(thread["floors"]):
            path = (f"/thread-{thread['tid']}-{index // per_page + 1}.html"
                    f"#pid{floor_pid(thread['tid'], index + 1)}")
            if _BBCODE_URL.search(floor["text"]) and "javascript:" in floor["text"]:
                found.append({"trap": "javascript_link_raw", "path": path})
            elif "<script" in floor["text"]:
                found.append({"trap": "injection_escaped", "path": path})
            if floor.get("quote"):
                found.append({"trap": "quoted_ad_in_condemnation", "path": path})
    return [dict(site="forum", url=base + t["path"], **t) for t in found]
