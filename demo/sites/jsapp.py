"""宝妈圈 — a JavaScript-only single-page app (offset 5).

``/`` is an empty shell (``<div id="app"></div>``) plus ``/static/app.js``, served locally
(no CDN), which fetches ``/api/list?page=N`` and renders ``.card`` elements with a 加载更多
button that appends the next page; ``#/item/<id>`` detail views are rendered from
``/api/item/<id>``. Without a browser a crawler sees no content at all.
"""

from __future__ import annotations

from pathlib import Path

from demo import pages
from demo.content_files import load
from demo.labels import truth_entry
from demo.routing import Request, Response, Router, SiteContext, html_response, json_response

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
SUMMARY_CHARS = 24


def _content() -> dict:
    return load("jsapp")


class JsAppSite:
    """Serves the shell, the script and the JSON API from ``jsapp.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.per_page = data["per_page"]
        self.items = sorted(data["items"], key=lambda i: (i["time"], i["id"]), reverse=True)
        self.by_id = {item["id"]: item for item in self.items}
        self.script = (STATIC_DIR / "app.js").read_bytes()
        self.router = Router()
        self.router.add(r"/", self.shell)
        self.router.add(r"/static/app\.js", self.app_js)
        self.router.add(r"/api/list", self.api_list)
        self.router.add(r"/api/item/(?P<id>\d+)", self.api_item)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a handler."""
        return self.router.dispatch(request)

    def shell(self, request: Request, match) -> Response:
        """The empty page the browser fills in."""
        body = ('<div id="app"></div>\n<noscript>请启用 JavaScript 后浏览本站。</noscript>\n'
                '<script src="/static/app.js"></script>')
        return html_response(pages.page(self.title, body, site_title=self.title,
                                        private_href=self.ctx.private_href))

    def app_js(self, request: Request, match) -> Response:
        return Response(body=self.script, content_type="application/javascript; charset=utf-8")

    def api_list(self, request: Request, match) -> Response:
        """``{"page", "pages", "has_more", "items": [{id, title, summary, time}]}``."""
        page_count = pages.page_count(len(self.items), self.per_page)
        page_no = request.int_arg("page", 1)
        if page_no is None or page_no > page_count:
            return json_response({"error": "bad page"}, 400)
        shown = self.items[(page_no - 1) * self.per_page: page_no * self.per_page]
        return json_response({
            "page": page_no, "pages": page_count, "has_more": page_no < page_count,
            "items": [{"id": i["id"], "title": i["title"], "summary": summary(i["body"]),
                       "time": i["time"]} for i in shown]})

    def api_item(self, request: Request, match) -> Response:
        """One item in full: ``{id, title, body, contact, time}``."""
        item = self.by_id.get(int(match["id"]))
        if item is None:
            return json_response({"error": "not found"}, 404)
        return json_response({key: item[key] for key in ("id", "title", "body", "contact", "time")})


def summary(body: str) -> str:
    """The card teaser: the body's first characters."""
    return body if len(body) <= SUMMARY_CHARS else body[:SUMMARY_CHARS] + "…"


def truth(base: str) -> list[dict]:
    """Every item, addressed by its client-side route ``/#/item/<id>``."""
    return [
        truth_entry("jsapp", "js_item", base, f"/#/item/{i['id']}", i["title"], i["labels"],
                    where=f"jsapp.yaml item {i['id']}", reached_by="browser",
                    api=f"/api/item/{i['id']}")
        for i in sorted(_content()["items"], key=lambda i: i["id"])
    ]
