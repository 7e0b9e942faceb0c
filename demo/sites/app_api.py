"""同城帮 — the backend of a mobile app (offset 3): a JSON feed paged by an opaque cursor.

``GET /api/v2/feed[?cursor=<token>]`` needs the header ``X-App-Key: demo-app-key`` (else HTTP
403 ``{"code":403,"msg":"missing app header"}``) and answers
``{"code":0,"msg":"ok","data":{"items":[{id,title,desc,contact,share_url,ts}],"next_cursor":…}}``;
a cursor it cannot read gives HTTP 200 with ``{"code":40001,"msg":"invalid cursor"}``, as
app backends report errors in the body. ``/share/<id>`` is the item's public HTML page.
"""

from __future__ import annotations

import base64
import binascii
import json

from demo import pages
from demo.content_files import load, parse_time
from demo.labels import truth_entry
from demo.pages import esc
from demo.routing import Request, Response, Router, SiteContext, html_response, json_response

CURSOR_VERSION = 2


def _content() -> dict:
    return load("app")


def encode_cursor(after_id: int) -> str:
    """An opaque, URL-safe token (base64url of a small JSON object, padding stripped)."""
    raw = json.dumps({"v": CURSOR_VERSION, "after": after_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> int | None:
    """The id a cursor points after, or None for anything that is not a cursor we issued.

    Accepts standard or URL-safe base64 with or without padding, since clients re-encode
    tokens in every possible way.
    """
    token = token.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        return None
    after = data.get("after")
    return after if isinstance(after, int) and not isinstance(after, bool) else None


class AppApiSite:
    """Serves the feed API and share pages from ``app.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.app_key = data["app_key"]
        self.page_size = data["page_size"]
        # Newest first, like every feed.
        self.items = sorted(data["items"], key=lambda i: (i["time"], i["id"]), reverse=True)
        self.by_id = {item["id"]: item for item in self.items}
        self.router = Router()
        self.router.add(r"/", self.landing)
        self.router.add(r"/api/v2/feed", self.feed)
        self.router.add(r"/share/(?P<id>\d+)", self.share)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a handler."""
        return self.router.dispatch(request)

    def _api_item(self, item: dict) -> dict:
        return {
            "id": item["id"],
            "title": item["title"],
            "desc": item["desc"],
            "contact": item["contact"],
            "share_url": f"{self.ctx.base}/share/{item['id']}",
            "ts": int(parse_time(item["time"]).timestamp()),
        }

    def landing(self, request: Request, match) -> Response:
        """The app's download page; it links no item (items are reachable only via the API)."""
        body = (f"<h1>{esc(self.title)} App</h1><p>同城生活信息，尽在{esc(self.title)}。"
                "请在手机应用商店搜索下载。</p>")
        return html_response(pages.page(self.title, body, site_title=self.title,
                                         private_href=self.ctx.private_href))

    def feed(self, request: Request, match) -> Response:
        """One page of the feed; the cursor names the last item of the previous page."""
        if request.headers.get("X-App-Key") != self.app_key:
            return json_response({"code": 403, "msg": "missing app header"}, 403)
        start = 0
        token = request.arg("cursor")
        if token:
            after = decode_cursor(token)
            if after not in self.by_id:
                return json_response({"code": 40001, "msg": "invalid cursor"})
            start = self.items.index(self.by_id[after]) + 1
        shown = self.items[start:start + self.page_size]
        more = start + self.page_size < len(self.items)
        next_cursor = encode_cursor(shown[-1]["id"]) if more and shown else None
        return json_response({"code": 0, "msg": "ok", "data": {
            "items": [self._api_item(item) for item in shown], "next_cursor": next_cursor}})

    def share(self, request: Request, match) -> Response | None:
        """The public share page of one feed item (what the app's 分享 button links)."""
        item = self.by_id.get(int(match["id"]))
        if item is None:
            return None
        when = parse_time(item["time"]).strftime("%Y-%m-%d %H:%M")
        body = (f'<h1 class="title">{esc(item["title"])}</h1>\n'
                f'<div class="meta">发布于 <span class="time">{when}</span></div>\n'
                f'<div class="content">{pages.paragraphs(item["desc"])}</div>\n'
                f'<div class="contact">联系方式：{esc(item["contact"])}</div>\n'
                f"<p>打开{esc(self.title)} App 查看更多同城信息</p>")
        return html_response(pages.page(item["title"], body, site_title=self.title,
                                        canonical=f"{self.ctx.base}/share/{item['id']}",
                                        private_href=self.ctx.private_href))


def truth(base: str) -> list[dict]:
    """Every feed item, addressed by its share page; ``api_id`` is the JSON ``id``."""
    return [
        truth_entry("app", "api_item", base, f"/share/{item['id']}", item["title"], item["labels"],
                    where=f"app.yaml item {item['id']}", reached_by="api", api_id=item["id"])
        for item in sorted(_content()["items"], key=lambda i: i["id"])
    ]
