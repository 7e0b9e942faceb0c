"""江城市人民医院 — a hospital site (offset 7): licensed reproductive centre, NIPT,
birth-certificate reissue, sperm-bank recruitment, prescription and anti-fraud notices.
Every page is legitimate; only its ``/private/`` page (an injected SEO spam page, as hacked
hospital sites carry) is an ad.
"""

from __future__ import annotations

from demo import pages
from demo.content_files import load
from demo.labels import truth_entry
from demo.pages import esc
from demo.routing import Request, Response, Router, SiteContext, html_response


def _content() -> dict:
    return load("hospital")


class HospitalSite:
    """Serves the hospital pages from ``hospital.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.pages = data["pages"]
        self.by_path = {p["path"]: p for p in self.pages}
        self.router = Router()
        self.router.add(r"/", self.home)
        self.router.add(r"/(?:dept|guide|notice)/[a-z-]+\.html", self.page)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a page handler."""
        return self.router.dispatch(request)

    def _page(self, title: str, body: str, canonical: str) -> Response:
        nav = f'<a href="{esc(self.ctx.urls["news"])}/">江城新闻网</a>'
        return html_response(pages.page(title, body, site_title=self.title, nav=nav,
                                        canonical=canonical, private_href=self.ctx.private_href))

    def home(self, request: Request, match) -> Response:
        sections: dict[str, list[dict]] = {}
        for entry in self.pages:
            sections.setdefault(entry["section"], []).append(entry)
        body = f"<h1>{esc(self.title)}</h1>" + "".join(
            f"<h2>{esc(name)}</h2><ul>"
            + "".join(f'<li><a href="{p["path"]}">{esc(p["title"])}</a></li>' for p in entries)
            + "</ul>" for name, entries in sections.items())
        return self._page(self.title, body, f"{self.ctx.base}/")

    def page(self, request: Request, match) -> Response | None:
        entry = self.by_path.get(request.path)
        if entry is None:
            return None
        body = (f'<div class="crumbs"><a href="/">首页</a> › {esc(entry["section"])}</div>'
                f'<h1 class="title">{esc(entry["title"])}</h1>'
                f'<div class="content">{pages.paragraphs(entry["body"])}</div>')
        return self._page(entry["title"], body, self.ctx.base + entry["path"])


def truth(base: str) -> list[dict]:
    """Every hospital page: all legitimate look-alikes."""
    return [
        truth_entry("hospital", "page", base, p["path"], p["title"], p["labels"],
                    where=f"hospital.yaml {p['path']}", reached_by="list")
        for p in _content()["pages"]
    ]
