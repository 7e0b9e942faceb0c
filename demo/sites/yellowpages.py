"""江城黄页 — a business directory (offset 4) whose ads are reachable only by site search.

Pages: ``/`` (categories, featured businesses, search form), ``/cat/<slug>`` (legitimate
businesses only), ``/biz/<n>`` (one business), ``/s?q=<keyword>&page=N`` (substring search over
name and description, 10 results per page). A crawler that only follows links never sees
an ad here; it has to search with keywords (``search:`` in the source config).
"""

from __future__ import annotations

from urllib.parse import quote

from demo import pages
from demo.content_files import load
from demo.labels import truth_entry
from demo.pages import esc
from demo.routing import Request, Response, Router, SiteContext, html_response


def _content() -> dict:
    return load("yellowpages")


class YellowPagesSite:
    """Serves the directory and its search from ``yellowpages.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.per_page = data["per_page"]
        self.categories = {c["slug"]: c["name"] for c in data["categories"]}
        self.businesses = sorted(data["businesses"], key=lambda b: b["id"])
        self.by_id = {b["id"]: b for b in self.businesses}
        self.router = Router()
        self.router.add(r"/", self.home)
        self.router.add(r"/cat/(?P<slug>[a-z]+)", self.category)
        self.router.add(r"/biz/(?P<id>\d+)", self.business)
        self.router.add(r"/s", self.search)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a page handler."""
        return self.router.dispatch(request)

    def _page(self, title: str, body: str, canonical: str | None = None) -> Response:
        form = ('<form action="/s" method="get" class="search"><input name="q" placeholder="搜索商家、服务">'
                '<button type="submit">搜索</button></form>')
        return html_response(pages.page(title, form + body, site_title=self.title,
                                        canonical=canonical, private_href=self.ctx.private_href))

    def _listed(self, slug: str | None = None) -> list[dict]:
        """Businesses that browsing shows: never an ad."""
        return [b for b in self.businesses if not b["labels"] and (slug is None or b.get("cat") == slug)]

    @staticmethod
    def _row(biz: dict) -> str:
        return (f'<li class="biz"><a href="/biz/{biz["id"]}">{esc(biz["name"])}</a> '
                f'<span class="phone">{esc(biz["phone"])}</span></li>')

    def home(self, request: Request, match) -> Response:
        cats = "".join(f'<li><a href="/cat/{slug}">{esc(name)}</a></li>'
                       for slug, name in self.categories.items())
        featured = "".join(self._row(b) for b in self._listed()[:10])
        body = (f"<h1>{esc(self.title)}</h1><h2>行业分类</h2><ul class=\"cats\">{cats}</ul>"
                f"<h2>推荐商家</h2><ul>{featured}</ul>")
        return self._page(self.title, body, canonical=f"{self.ctx.base}/")

    def category(self, request: Request, match) -> Response | None:
        slug = match["slug"]
        if slug not in self.categories:
            return None
        rows = "".join(self._row(b) for b in self._listed(slug))
        name = self.categories[slug]
        return self._page(name, f"<h1>{esc(name)}</h1><ul class=\"list\">{rows}</ul>",
                          canonical=f"{self.ctx.base}/cat/{slug}")

    def business(self, request: Request, match) -> Response | None:
        biz = self.by_id.get(int(match["id"]))
        if biz is None:
            return None
        cat = biz.get("cat")
        crumbs = f'<a href="/cat/{cat}">{esc(self.categories[cat])}</a>' if cat else "商家"
        body = (f'<div class="crumbs">{crumbs}</div><h1 class="title">{esc(biz["name"])}</h1>'
                f'<div class="content">{pages.paragraphs(biz["body"])}</div>'
                f'<div class="contact"><p>电话：{esc(biz["phone"])}</p><p>地址：{esc(biz["address"])}</p></div>')
        return self._page(biz["name"], body, canonical=f"{self.ctx.base}/biz/{biz['id']}")

    def search(self, request: Request, match) -> Response:
        """Substring search over name and description of every business, ads included."""
        keyword = (request.arg("q") or "").strip()
        if not keyword:
            return self._page("搜索", "<p>请输入关键词。</p>")
        needle = keyword.casefold()
        hits = [b for b in self.businesses
                if needle in b["name"].casefold() or needle in b["body"].casefold()]
        page_count = pages.page_count(len(hits), self.per_page)
        page_no = request.int_arg("page", 1) or 1
        shown = hits[(page_no - 1) * self.per_page: page_no * self.per_page]
        rows = "".join(self._row(b) for b in shown) or "<li>没有找到相关商家。</li>"
        encoded = quote(keyword, safe="")
        body = (f"<h1>“{esc(keyword)}”的搜索结果</h1><p class=\"count\">共找到 {len(hits)} 条</p>"
                f'<ul class="results">{rows}</ul>'
                + pages.pagination(lambda n: f"/s?q={encoded}&page={n}", page_no, page_count))
        return self._page(f"{keyword} - 搜索", body)


def truth(base: str) -> list[dict]:
    """Every business; ads are marked ``reached_by: search``."""
    return [
        truth_entry("yellowpages", "page", base, f"/biz/{b['id']}", b["name"], b["labels"],
                    where=f"yellowpages.yaml business {b['id']}",
                    reached_by="search" if b["labels"] else "list")
        for b in sorted(_content()["businesses"], key=lambda b: b["id"])
    ]
