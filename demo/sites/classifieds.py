"""同城快帖 — the classified-ads site (offset 0), where most crawler traps live.

Pages: ``/`` (categories, hot and latest posts), ``/list/<cat>?page=N`` (numbered pagination
plus 下一页), ``/post/<n>.html`` (title, body, contact block, publish time, canonical link),
``/calendar?date=YYYY-MM-DD`` (infinite, empty).

Traps, all named in ``classifieds.yaml``: a post that answers 500 once, a slow post, a ~2 MB
post whose ad is at the very end, a four-hop redirect chain (301/302/307/302) that is the
only way to an ad, a dead link, injection payloads shown escaped (this site is careful),
and the same post linked as absolute, relative and protocol-relative URLs with tracking
parameters (``utm_*``, ``from``, ``spm``).
"""

from __future__ import annotations

import threading
from datetime import date, timedelta
from urllib.parse import quote

from demo import pages
from demo.content_files import load
from demo.labels import truth_entry
from demo.pages import esc
from demo.routing import Request, Response, Router, SiteContext, html_response, redirect

SLOW_SECONDS = 4.5


def _content() -> dict:
    return load("classifieds")


class ClassifiedsSite:
    """Serves the classified-ads pages from ``classifieds.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.per_page = data["per_page"]
        self.categories = {c["slug"]: c["name"] for c in data["categories"]}
        self.posts = {p["id"]: p for p in data["posts"]}
        self.chain = data["redirect_chain"]
        self.dead_post = data["dead_post"]
        self.hot_post = data["hot_post"]
        self.calendar_start = data["calendar_start"]
        # Posts with trap error_once that have already failed once (per running web).
        self._failed_once: set[int] = set()
        self._lock = threading.Lock()
        self._huge_body: str | None = None
        self.router = Router()
        self.router.add(r"/", self.home)
        self.router.add(r"/list/(?P<slug>[a-z]+)", self.listing)
        self.router.add(r"/post/(?P<id>\d+)\.html", self.post)
        self.router.add(r"/jump/(?P<id>\d+)", self.hop2)
        self.router.add(r"/m/jump", self.hop3)
        self.router.add(r"/out", self.hop4)
        self.router.add(r"/calendar", self.calendar)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a page handler."""
        return self.router.dispatch(request)

    # ---- helpers -------------------------------------------------------------------------

    def _page(self, title: str, body: str, canonical: str | None = None) -> Response:
        nav = " ".join(f'<a href="/list/{slug}">{esc(name)}</a>'
                       for slug, name in self.categories.items())
        return html_response(pages.page(title, body, site_title=self.title, nav=nav,
                                        canonical=canonical, private_href=self.ctx.private_href))

    def _listed(self, slug: str | None = None) -> list[dict]:
        """Posts shown on list pages, newest first."""
        posts = [p for p in self.posts.values() if not p.get("unlisted")
                 and (slug is None or p["cat"] == slug)]
        return sorted(posts, key=lambda p: (p["time"], p["id"]), reverse=True)

    def _post_href(self, post_id: int) -> str:
        """Links to the same post in four spellings, so crawlers must canonicalise URLs."""
        host = self.ctx.base.split("://", 1)[1]
        style = post_id % 4
        if style == 0:
            return f"/post/{post_id}.html"
        if style == 1:
            return f"../post/{post_id}.html?from=list"  # list pages live under /list/
        if style == 2:
            return f"//{host}/post/{post_id}.html"
        return f"{self.ctx.base}/post/{post_id}.html?utm_source=list&utm_medium=web&spm=a1.list.{post_id}"

    # ---- pages ---------------------------------------------------------------------------

    def home(self, request: Request, match) -> Response:
        """Category links, the hot post in every link spelling, latest posts and the traps."""
        host = self.ctx.base.split("://", 1)[1]
        hot = self.posts[self.hot_post]
        hot_links = [
            f"/post/{hot['id']}.html?utm_source=home&utm_medium=banner",
            f"post/{hot['id']}.html?from=index",
            f"//{host}/post/{hot['id']}.html",
            f"{self.ctx.base}/post/{hot['id']}.html?spm=a2.home.hot.1",
        ]
        cats = "".join(f'<li><a href="/list/{slug}">{esc(name)}</a></li>'
                       for slug, name in self.categories.items())
        hots = "".join(f'<li><a href="{esc(href)}">{esc(hot["title"])}</a></li>' for href in hot_links)
        latest = "".join(
            f'<li><a href="/post/{p["id"]}.html?from=home">{esc(p["title"])}</a> '
            f'<span class="time">{esc(p["time"])}</span></li>'
            for p in self._listed()[:10])
        body = (
            f"<h1>{esc(self.title)}</h1>\n<h2>信息分类</h2><ul class=\"cats\">{cats}</ul>\n"
            f"<h2>热门信息</h2><ul class=\"hot\">{hots}</ul>\n"
            f'<h2>置顶推荐</h2><ul><li><a href="/post/{self.chain["start"]}.html">'
            f"【置顶】助孕好消息，名额有限</a></li></ul>\n"
            f"<h2>最新发布</h2><ul class=\"latest\">{latest}</ul>\n"
            f'<h2>其他</h2><ul><li><a href="/post/{self.dead_post}.html">已过期信息：旺铺转让</a></li>'
            f'<li><a href="/calendar?date={self.calendar_start}">活动日历</a></li></ul>'
        )
        return self._page(self.title, body, canonical=f"{self.ctx.base}/")

    def listing(self, request: Request, match) -> Response | None:
        """One page of a category, ``per_page`` posts, numbered links and 下一页."""
        slug = match["slug"]
        if slug not in self.categories:
            return None
        posts = self._listed(slug)
        page_count = pages.page_count(len(posts), self.per_page)
        page_no = request.int_arg("page", 1)
        if page_no is None or page_no > page_count:
            return None
        shown = posts[(page_no - 1) * self.per_page: page_no * self.per_page]
        rows = "\n".join(
            f'<li class="item"><a href="{esc(self._post_href(p["id"]))}">{esc(p["title"])}</a> '
            f'<span class="time">{esc(p["time"])}</span></li>' for p in shown)
        name = self.categories[slug]
        body = (f"<h1>{esc(name)}</h1>\n<ul class=\"list\">\n{rows}\n</ul>\n"
                + pages.pagination(lambda n: f"/list/{slug}?page={n}", page_no, page_count))
        title = name if page_no == 1 else f"{name} 第{page_no}页"
        return self._page(title, body, canonical=f"{self.ctx.base}/list/{slug}?page={page_no}")

    def post(self, request: Request, match) -> Response | None:
        """A post page; also the first hop of the redirect chain and the dead link."""
        post_id = int(match["id"])
        if post_id == self.chain["start"]:
            return redirect(f"/jump/{post_id}", 301)
        post = self.posts.get(post_id)
        if post is None:
            return None  # includes the dead link: a 404 like a deleted post
        trap = post.get("trap")
        if trap == "error_once":
            with self._lock:
                first = post_id not in self._failed_once
                self._failed_once.add(post_id)
            if first:
                return html_response("<h1>500 Internal Server Error</h1><p>数据库繁忙，请稍后再试</p>", 500)
        body_html = pages.paragraphs(post["body"])
        if trap == "huge":
            body_html = self._huge_filler() + "\n" + body_html
        cat = post["cat"]
        body = (
            f'<h1 class="title">{esc(post["title"])}</h1>\n'
            f'<div class="meta">分类：<a href="/list/{cat}">{esc(self.categories[cat])}</a> '
            f'发布时间：<span class="time">{esc(post["time"])}</span> 信息编号：{post_id}</div>\n'
            f'<div class="content">\n{body_html}\n</div>\n{contact_block(post["contact"])}'
        )
        response = self._page(post["title"], body, canonical=f"{self.ctx.base}/post/{post_id}.html")
        if trap == "slow":
            response.delay = SLOW_SECONDS
        return response

    def hop2(self, request: Request, match) -> Response | None:
        if int(match["id"]) != self.chain["start"]:
            return None
        return redirect(f"/m/jump?id={match['id']}", 302)

    def hop3(self, request: Request, match) -> Response | None:
        if request.arg("id") != str(self.chain["start"]):
            return None
        return redirect("/out?to=" + quote(f"/post/{self.chain['target']}.html", safe=""), 307)

    def hop4(self, request: Request, match) -> Response | None:
        """The last hop; only same-site paths, so the demo is no open redirect."""
        target = request.arg("to") or ""
        if not target.startswith("/") or target.startswith("//"):
            return None
        return redirect(target, 302)

    def calendar(self, request: Request, match) -> Response | None:
        """An endless calendar: every day links the previous and next day, none has items."""
        raw = request.arg("date", self.calendar_start)
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            return html_response("<h1>400</h1><p>日期格式错误</p>", 400)
        prev_day, next_day = day - timedelta(days=1), day + timedelta(days=1)
        body = (f"<h1>活动日历 {day.isoformat()}</h1><p class=\"empty\">当天暂无活动信息。</p>"
                f'<p><a href="/calendar?date={prev_day.isoformat()}">前一天</a> '
                f'<a href="/calendar?date={next_day.isoformat()}">后一天</a></p>')
        return self._page(f"活动日历 {day.isoformat()}", body)

    def _huge_filler(self) -> str:
        """About 2 MB of numbered local-news sentences (built once, then cached)."""
        with self._lock:
            if self._huge_body is None:
                data = _content()
                sentences, target = data["filler"], data["huge_bytes"]
                parts, size, n = [], 0, 0
                while size < target:
                    line = f"<p>第{n + 1}条：{esc(sentences[n % len(sentences)])}</p>"
                    parts.append(line)
                    size += len(line.encode("utf-8")) + 1
                    n += 1
                self._huge_body = "\n".join(parts)
            return self._huge_body


def contact_block(contact: dict) -> str:
    """The 联系方式 box; values are shown as posted (obfuscated, masked or plain)."""
    labels = (("name", "联系人"), ("phone", "电话"), ("wechat", "微信"), ("qq", "QQ"), ("note", "备注"))
    lines = [f'<li class="{key}">{label}：{esc(contact[key])}</li>'
             for key, label in labels if contact.get(key)]
    return f'<div class="contact"><h3>联系方式</h3><ul>{"".join(lines)}</ul></div>'


def truth(base: str) -> list[dict]:
    """Every post (ads and legitimate ones) and the private page's ad, with how each is reached."""
    data = _content()
    entries = []
    for post in sorted(data["posts"], key=lambda p: p["id"]):
        reached = "redirect_chain" if post.get("unlisted") else "list"
        entries.append(truth_entry(
            "classifieds", "page", base, f"/post/{post['id']}.html", post["title"], post["labels"],
            where=f"classifieds.yaml post {post['id']}", reached_by=reached, trap=post.get("trap"),
            near_duplicate_of=(f"/post/{post['repost_of']}.html" if post.get("repost_of") else None)))
    return entries


def traps(base: str) -> list[dict]:
    """The crawler traps of this site, with the URLs that spring them."""
    data = _content()
    chain = data["redirect_chain"]
    target = quote(f"/post/{chain['target']}.html", safe="")
    found = [
        {"trap": "redirect_chain", "path": f"/post/{chain['start']}.html",
         "hops": [[f"/post/{chain['start']}.html", 301], [f"/jump/{chain['start']}", 302],
                  [f"/m/jump?id={chain['start']}", 307], [f"/out?to={target}", 302]],
         "final": f"/post/{chain['target']}.html",
         "note": "四次跳转后到达广告页；该广告不在任何列表页"},
        {"trap": "dead_link", "path": f"/post/{data['dead_post']}.html", "status": 404},
        {"trap": "infinite_calendar", "path": f"/calendar?date={data['calendar_start']}",
         "note": "每页都链接前一天和后一天，永无尽头，没有任何信息"},
        {"trap": "tracking_params", "path": f"/post/{data['hot_post']}.html",
         "note": "首页以绝对、相对、协议相对链接和 utm_*/from/spm 参数指向同一帖子；帖子页有 canonical"},
    ]
    for post in data["posts"]:
        if post.get("trap") == "error_once":
            found.append({"trap": "error_once", "path": f"/post/{post['id']}.html",
                          "note": "每个进程第一次请求返回 500，之后 200"})
        elif post.get("trap") == "slow":
            found.append({"trap": "slow", "path": f"/post/{post['id']}.html", "seconds": SLOW_SECONDS})
        elif post.get("trap") == "huge":
            found.append({"trap": "huge_page", "path": f"/post/{post['id']}.html",
                          "bytes_at_least": data["huge_bytes"], "note": "广告在页面最末尾"})
        if any(marker in post["title"] + post["body"] for marker in ("<script", "onerror", "javascript:")):
            found.append({"trap": "injection_escaped", "path": f"/post/{post['id']}.html"})
    return [dict(site="classifieds", url=base + t["path"], **t) for t in found]
