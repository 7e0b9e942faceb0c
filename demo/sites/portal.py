"""江城便民信息港 — an old ASP-era portal (offset 2), served in GBK with sloppy markup.

Pages: ``/`` and ``/index.asp`` (charset only in the Content-Type header),
``list.asp?classid=N&page=M`` (charset only in ``<META http-equiv>``),
``news_show.asp?id=N`` (``<meta charset="gb2312">`` by default, per article the header only
or no declaration at all). Markup is what such sites really serve: uppercase tags, unclosed
``<TD>``/``<TR>``, ``<FONT>``, unquoted attributes, relative links with a raw ``&``. Titles and
bodies go in unescaped (this site is careless), so injection payloads are live markup.
Unknown ids get status 200 with an alert-and-go-back script (a soft 404).
"""

from __future__ import annotations

from demo import pages
from demo.content_files import load
from demo.labels import truth_entry
from demo.routing import Request, Response, Router, SiteContext, html_response

ENCODING = "gbk"
META_GBK = '<META http-equiv="Content-Type" content="text/html; charset=gbk">'
META_GB2312 = '<meta charset="gb2312">'


def _content() -> dict:
    return load("portal")


def old_date(text: str) -> str:
    """``2024-04-02 09:00`` as such portals print it: ``2024-4-2``."""
    year, month, day = text.split(" ")[0].split("-")
    return f"{year}-{int(month)}-{int(day)}"


def gbk_response(markup: str, declared: str) -> Response:
    """Encode as GBK; ``declared`` is ``header`` (charset in Content-Type) or anything else
    (plain ``text/html``, the page itself declares or does not)."""
    content_type = "text/html; charset=gbk" if declared == "header" else "text/html"
    return html_response(markup, encoding=ENCODING, content_type=content_type)


class PortalSite:
    """Serves the GBK portal from ``portal.yaml``."""

    def __init__(self, ctx: SiteContext) -> None:
        data = _content()
        self.ctx = ctx
        self.title = data["site_title"]
        self.per_page = data["per_page"]
        self.classes = {c["classid"]: c["name"] for c in data["classes"]}
        self.articles = {a["id"]: a for a in data["articles"]}
        self.soft_404_id = data["soft_404_id"]
        self.router = Router()
        self.router.add(r"/(?:index\.asp)?", self.index)
        self.router.add(r"/list\.asp", self.listing)
        self.router.add(r"/news_show\.asp", self.article)

    def handle(self, request: Request) -> Response | None:
        """Route ``request`` to a page handler."""
        return self.router.dispatch(request)

    def _shell(self, title: str, body: str, meta: str = "") -> str:
        """The portal's table layout, deliberately sloppy (unclosed cells and rows)."""
        nav = " | ".join(f"<A href=\"list.asp?classid={cid}\">{name}</A>"
                         for cid, name in self.classes.items())
        return (
            "<HTML>\n<HEAD>\n"
            f"<TITLE>{title}-{self.title}</TITLE>\n{meta}\n</HEAD>\n"
            "<BODY bgcolor=#ffffff topmargin=0 leftmargin=0>\n"
            "<TABLE width=760 border=0 align=center cellpadding=0 cellspacing=0>\n"
            f"<TR><TD height=60><FONT size=5 color=#cc0000><B>{self.title}</B></FONT>\n"
            f"<TR><TD bgcolor=#eeeeee height=24>&nbsp;<A href=index.asp>首页</A> | {nav}\n"
            "</TABLE>\n"
            "<TABLE width=760 border=1 align=center cellpadding=4 cellspacing=0 bordercolor=#cccccc>\n"
            f"{body}\n</TABLE>\n"
            "<TABLE width=760 align=center><TR><TD align=center><FONT color=#999999 size=2>"
            "版权所有 江城便民信息港 &nbsp; 信息仅供参考</FONT> "
            f"<A href={self.ctx.private_href}>内部资料</A>\n</TABLE>\n</BODY>\n</HTML>\n"
        )

    def _sorted(self, classid: int | None = None) -> list[dict]:
        items = [a for a in self.articles.values() if classid is None or a["classid"] == classid]
        return sorted(items, key=lambda a: a["id"], reverse=True)

    def index(self, request: Request, match) -> Response:
        """Home: latest five per class. Declared in the HTTP header only."""
        blocks = []
        for cid, name in self.classes.items():
            rows = "".join(
                f"<TR><TD><FONT size=2>·<A href=news_show.asp?id={a['id']} target=_blank>"
                f"{a['title']}</A></FONT><TD width=80><FONT size=2 color=#999999>"
                f"{old_date(a['time'])}</FONT>\n"
                for a in self._sorted(cid)[:5])
            blocks.append(f"<TR><TD colspan=2 bgcolor=#ffeecc><B>{name}</B> "
                          f"<A href=\"list.asp?classid={cid}\"><FONT size=2>更多&gt;&gt;</FONT></A>\n{rows}")
        blocks.append(f"<TR><TD colspan=2><FONT size=2>公告：<A href=news_show.asp?id={self.soft_404_id}>"
                      "旧版信息请点此查看</A></FONT>")
        return gbk_response(self._shell("首页", "\n".join(blocks)), "header")

    def listing(self, request: Request, match) -> Response | None:
        """``list.asp?classid=N&page=M``; declared only by ``<META http-equiv>``."""
        classid = request.int_arg("classid", 0)
        if classid not in self.classes:
            return None
        items = self._sorted(classid)
        page_count = pages.page_count(len(items), self.per_page)
        page_no = request.int_arg("page", 1)
        if page_no is None or page_no > page_count:
            return None
        shown = items[(page_no - 1) * self.per_page: page_no * self.per_page]
        rows = "".join(
            f"<TR><TD><A href=news_show.asp?id={a['id']}>{a['title']}</A>"
            f"<TD width=90>[{old_date(a['time'])}]\n" for a in shown)
        # Raw & in hrefs, as these sites print them.
        links = " ".join(
            f"<A href=list.asp?classid={classid}&page={n}>{n}</A>" if n != page_no
            else f"<FONT color=red>{n}</FONT>" for n in range(1, page_count + 1))
        if page_no < page_count:
            links += f" <A href=list.asp?classid={classid}&page={page_no + 1}>下一页</A>"
        body = (f"<TR><TD colspan=2 bgcolor=#ffeecc><B>{self.classes[classid]}</B>\n{rows}"
                f"<TR><TD colspan=2 align=center>共{len(items)}条 第{page_no}/{page_count}页 {links}")
        return gbk_response(self._shell(self.classes[classid], body, META_GBK), "meta")

    def article(self, request: Request, match) -> Response:
        """``news_show.asp?id=N``; unknown ids get a soft 404 (status 200)."""
        article_id = request.int_arg("id", 0)
        article = self.articles.get(article_id or 0)
        if article is None:
            script = "<SCRIPT language=javascript>alert('对不起，该信息不存在或已被删除！');history.back();</SCRIPT>"
            return gbk_response(f"<HTML><HEAD>{META_GB2312}</HEAD><BODY>{script}</BODY></HTML>", "meta")
        declared = article.get("charset", "meta-gb2312")
        meta = META_GB2312 if declared == "meta-gb2312" else ""
        text = "<BR>\n".join(line for line in article["body"].splitlines() if line.strip())
        link = ""
        if article.get("link"):
            link = f"<P><A HREF={article['link']['href']}>{article['link']['text']}</A>"
        body = (
            f"<TR><TD align=center><FONT size=4 color=#003399><B>{article['title']}</B></FONT>\n"
            f"<TR><TD align=center><FONT size=2 color=#999999>发布时间：{article['time']} "
            f"栏目：<A href=list.asp?classid={article['classid']}>{self.classes[article['classid']]}</A></FONT>\n"
            f"<TR><TD><FONT size=3>{text}</FONT>{link}\n"
        )
        return gbk_response(self._shell(article["title"], body, meta), declared)


def truth(base: str) -> list[dict]:
    """Every article, with how its page declares (or hides) its encoding."""
    return [
        truth_entry("portal", "page", base, f"/news_show.asp?id={a['id']}", a["title"], a["labels"],
                    where=f"portal.yaml article {a['id']}", reached_by="list",
                    charset=a.get("charset", "meta-gb2312"))
        for a in sorted(_content()["articles"], key=lambda a: a["id"])
    ]


def traps(base: str) -> list[dict]:
    """The portal's traps: undeclared or mislabelled GBK, raw injection, a soft 404."""
    data = _content()
    found = [{"trap": "soft_404", "path": f"/news_show.asp?id={data['soft_404_id']}", "status": 200,
              "note": "不存在的信息返回 200 和 alert 脚本"}]
    for article in data["articles"]:
        path = f"/news_show.asp?id={article['id']}"
        declared = article.get("charset", "meta-gb2312")
        if declared == "none":
            found.append({"trap": "charset_undeclared", "path": path,
                          "note": "GBK 字节，HTTP 头和页面都没有声明编码"})
        text = article["title"] + article["body"]
        if declared == "meta-gb2312" and not _encodable(text, "gb2312"):
            found.append({"trap": "gb2312_label_gbk_bytes", "path": path,
                          "note": "声明 gb2312，但含 GB2312 之外的 GBK 字符"})
        if any(m in text for m in ("<script", "onerror")) or "javascript:" in str(article.get("link")):
            found.append({"trap": "injection_raw", "path": path})
    return [dict(site="portal", url=base + t["path"], **t) for t in found]


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True
