"""江城新闻网 — a news site (offset 6): crackdown reports that quote ads, policy texts, and
two sponsored "articles" that are ads.

Pages: ``/`` (latest news, policy column), ``/news/list-<n>.html`` (news list pages),
``/news/<id>.html`` and ``/policy/<id>.html`` (articles with canonical links and related links
to other demo sites, e.g. the hospital).
"""

from __future__ import annotations

from demo import pages
from demo.content_files import load
from demo.labels import truth_entry
from demo.pages import esc
from demo.routing import Request, Response, Router, SiteContext, html_response


def _content() -> dict:
    return load("news")


def article_path(article: dict) -> str:
    """``/news/<id>.html`` or ``/policy/<id>.html`` by section."""
    return f"/{article['section']}/{article['id']}.html"


class NewsSite:
    """Serves articles from ``news.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.per_page = data["per_page"]
        articles = sorted(data["articles"], key=lambda a: (a["time"], a["id"]), reverse=True)
        self.news = [a for a in articles if a["section"] == "news"]
        self.policy = [a for a in articles if a["section"] == "policy"]
        self.by_path = {article_path(a): a for a in articles}
        self.router = Router()
        self.router.add(r"/", self.home)
        self.router.add(r"/news/list-(?P<page>\d+)\.html", self.listing)
        self.router.add(r"/(?:news|policy)/\d+\.html", self.article)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a page handler."""
        return self.router.dispatch(request)

    def _page(self, title: str, body: str, canonical: str | None = None) -> Response:
        nav = '<a href="/news/list-1.html">新闻</a> <a href="/#policy">政策文件</a>'
        return html_response(pages.page(title, body, site_title=self.title, nav=nav,
                                        canonical=canonical, private_href=self.ctx.private_href))

    @staticmethod
    def _row(article: dict) -> str:
        return (f'<li><a href="{article_path(article)}">{esc(article["title"])}</a> '
                f'<span class="time">{esc(article["time"][:10])}</span></li>')

    def home(self, request: Request, match) -> Response:
        latest = "".join(self._row(a) for a in self.news[: self.per_page])
        policy = "".join(self._row(a) for a in self.policy)
        body = (f'<h1>{esc(self.title)}</h1><h2>要闻</h2><ul class="list">{latest}</ul>'
                f'<p><a href="/news/list-2.html">更多新闻</a></p>'
                f'<h2 id="policy">政策文件</h2><ul class="list">{policy}</ul>')
        return self._page(self.title, body, canonical=f"{self.ctx.base}/")

    def listing(self, request: Request, match) -> Response | None:
        page_no = int(match["page"])
        page_count = pages.page_count(len(self.news), self.per_page)
        if not 1 <= page_no <= page_count:
            return None
        shown = self.news[(page_no - 1) * self.per_page: page_no * self.per_page]
        body = (f'<h1>新闻</h1><ul class="list">{"".join(self._row(a) for a in shown)}</ul>'
                + pages.pagination(lambda n: f"/news/list-{n}.html", page_no, page_count))
        return self._page(f"新闻 第{page_no}页", body,
                          canonical=f"{self.ctx.base}/news/list-{page_no}.html")

    def article(self, request: Request, match) -> Response | None:
        article = self.by_path.get(request.path)
        if article is None:
            return None
        related = "".join(
            f'<li><a href="{esc(self.ctx.urls[link["site"]] + link["path"])}">{esc(link["text"])}</a></li>'
            for link in article.get("links") or [])
        body = (f'<article><h1 class="title">{esc(article["title"])}</h1>\n'
                f'<div class="meta">来源：<span class="source">{esc(article["source"])}</span> '
                f'<span class="time">{esc(article["time"])}</span></div>\n'
                f'<div class="content">{pages.paragraphs(article["body"])}</div></article>\n'
                + (f'<h3>相关链接</h3><ul class="related">{related}</ul>' if related else ""))
        return self._page(article["title"], body, canonical=self.ctx.base + article_path(article))


def truth(base: str) -> list[dict]:
    """Every article; crackdown reports and policies are look-alikes, 推广 pieces are ads."""
    return [
        truth_entry("news", "page", base, article_path(a), a["title"], a["labels"],
                    where=f"news.yaml article {a['id']}", reached_by="list")
        for a in sorted(_content()["articles"], key=lambda a: a["id"])
    ]
