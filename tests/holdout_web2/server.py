"""The second hold-out test web: four small invented sites on 127.0.0.1, one port each.

    from tests.holdout_web2.server import start
    web = start(base_port=0)     # free ports; base_port=N uses N, N+1, ...
    web.urls                     # {site: 'http://127.0.0.1:PORT'}
    web.log                      # [{'site', 'path', 'status', 'appver', 'ua', 'secs'}]
    web.stop()

``python -m tests.holdout_web2.server --truth`` rewrites truth.json; without it, serves on 8401+.
Written without looking at the crawler, the classifier, the pipelines or the demo web.
"""

import html
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from . import content as C

HERE = Path(__file__).resolve().parent
SITES = ["forum", "blog", "app", "m"]
APP_VERSION = "5.2.0"
E = html.escape
TAG = re.compile(r"<[^>]+>")

# robots.txt per site: the crawl must never request these prefixes
ROBOTS = {
    "forum": ["/home.php", "/search.php", "/misc.php"],
    "blog": ["/wp-admin/"],
    "app": ["/internal/"],
    "m": ["/vip/", "/user/"],
}


class Site:
    name = ""
    charset = "utf-8"

    def __init__(self):
        self.truth = []

    def add_truth(self, path, item, kind, reachable=True, body=None):
        body = body if body is not None else item["body"]
        self.truth.append({"site": self.name, "path": path, "ad": item["ad"], "categories": item["categories"],
                           "title": item["title"], "snippet": body[:36], "kind": kind, "reachable": reachable,
                           "body": body})

    def page(self, status, body, charset=None, header_charset=True, ctype="text/html", extra=None):
        cs = charset or self.charset
        data = body.encode(cs) if isinstance(body, str) else body
        h = {"Content-Type": f"{ctype}; charset={cs}" if header_charset else ctype}
        h.update(extra or {})
        return status, h, data

    def notfound(self):
        return 404, {"Content-Type": "text/html; charset=utf-8"}, "<html><body><h1>404 Not Found</h1><p>页面不存在或已被删除</p></body></html>".encode()

    def redirect(self, status, location):
        return status, {"Location": location, "Content-Type": "text/html; charset=utf-8"}, b""


# ====================================================================== 1. forum: Discuz! X3, GBK
class Forum(Site):
    """江城生活论坛: forum.php?mod=forumdisplay&fid=N&page=P, forum.php?mod=viewthread&tid=N&extra=page%3DP&page=M,
    floors <div id="post_PID"> with <td class="t_f" id="postmessage_PID">; <base href>; signatures; quotes;
    只看该作者 / 倒序浏览 / findpost-redirect links; home.php (robots-disallowed) user links."""
    name = "forum"
    charset = "gbk"
    FORUMS = {2: "备孕交流", 7: "种养殖交流"}
    TPP = 3     # threads per list page
    PPP = 5     # posts per thread page
    AD_NICKS = ["好孕小助理", "安心姐", "雨过天晴123", "阳光助孕", "小雅老师", "快乐每一天", "招聘专员"]

    def __init__(self):
        super().__init__()
        self.threads = {}
        pid = 31870
        ad_i = 0
        self.by_fid = {fid: [] for fid in self.FORUMS}
        for t, (fid, title, floors) in enumerate(C.FORUM_THREADS):
            tid = 1204 + t * 3
            posts = []
            for k, f in enumerate(floors):
                pid += 1 + (k * 7) % 5
                if isinstance(f, tuple):        # ("quote", n, reply)
                    q = posts[f[1] - 1]
                    item = C.ok("", f[2])
                    item["quote"] = q
                elif isinstance(f, str):
                    item = C.ok("", f)
                else:
                    item = dict(f)
                if item["ad"]:
                    uid, nick, sig = 90211 + ad_i * 13, self.AD_NICKS[ad_i % len(self.AD_NICKS)], ""
                    ad_i += 1
                else:
                    u = (t * 3 + k) % len(C.FORUM_USERS)
                    uid, (nick, sig) = 5500 + u * 17, C.FORUM_USERS[u]
                item.update(pid=pid, uid=uid, nick=nick, sig=sig, floor=k + 1,
                            when=f"2026-3-{(t % 20) + 2} {9 + k}:{(pid % 60):02d}")
                posts.append(item)
            lp = len(self.by_fid[fid]) // self.TPP + 1
            th = {"tid": tid, "fid": fid, "title": title, "posts": posts, "lp": lp}
            self.threads[tid] = th
            self.by_fid[fid].append(th)
            for i, p in enumerate(posts):
                pg = i // self.PPP + 1
                self.add_truth(f"/forum.php?mod=viewthread&tid={tid}&extra=page%3D{lp}&page={pg}#post_{p['pid']}",
                               p, "floor")

    def head(self, title, base):
        return (f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
                f'<html xmlns="http://www.w3.org/1999/xhtml"><head>\n'
                f'<meta http-equiv="Content-Type" content="text/html; charset=gbk" />\n'
                f'<title>{E(title)} -  江城生活论坛 -  Powered by Discuz!</title>\n'
                f'<meta name="keywords" content="{E(title)}" /><meta name="generator" content="Discuz! X3.4" />\n'
                f'<base href="{base}/" /><link rel="stylesheet" type="text/css" href="data/cache/style_1_common.css?Q7a" />\n'
                f'</head><body id="nv_forum" class="pg_viewthread">\n'
                f'<div id="toptb" class="cl"><div class="y"><a href="member.php?mod=register">立即注册</a> '
                f'<a href="member.php?mod=logging&amp;action=login">登录</a></div></div>\n'
                f'<div id="hd"><div class="hdc"><h2><a href="forum.php" title="江城生活论坛">江城生活论坛</a></h2>'
                f'<div id="scbar"><form method="post" action="search.php?searchsubmit=yes"><input type="text" name="srchtxt" /></form></div></div>'
                f'<div id="nv"><ul><li><a href="forum.php">论坛</a></li><li><a href="home.php?mod=space&amp;do=blog">日志</a></li>'
                f'<li><a href="misc.php?mod=ranklist">排行榜</a></li></ul></div></div>\n')

    FOOT = ('<div id="ft" class="wp cl"><div id="flk" class="y"><p><a href="forum.php?mod=misc&amp;action=showdarkroom">小黑屋</a>'
            '<span class="pipe">|</span><a href="forum.php?mobile=yes">手机版</a></p></div>'
            '<div id="frt"><p>Powered by <strong>Discuz!</strong> <em>X3.4</em></p><p>&copy; 2001-2026 江城生活论坛 '
            '本站严禁发布代孕、买卖精子卵子、胎儿性别鉴定等违法广告，违者封号并移交公安机关。</p></div></div>\n</body></html>')

    def pager(self, href, cur, pages):
        if pages < 2:
            return ""
        s = '<div class="pg">'
        if cur > 1:
            s += f'<a href="{href}&amp;page={cur - 1}" class="prev">&nbsp;&nbsp;</a>'
        for k in range(1, pages + 1):
            s += f"<strong>{k}</strong>" if k == cur else f'<a href="{href}&amp;page={k}">{k}</a>'
        s += f'<label><input type="text" name="custompage" class="px" size="2" value="{cur}" /><span> / {pages} 页</span></label>'
        if cur < pages:
            s += f'<a href="{href}&amp;page={cur + 1}" class="nxt">下一页</a>'
        return s + "</div>"

    def index(self, base):
        rows = "".join(f'<tr><td class="fl_g"><dl><dt><a href="forum.php?mod=forumdisplay&amp;fid={fid}">{E(n)}</a></dt>'
                       f'<dd>主题: {len(self.by_fid[fid])}</dd></dl></td></tr>' for fid, n in self.FORUMS.items())
        body = (self.head("论坛", base) + f'<div id="wp" class="wp"><div class="fl bm"><div class="bm_h"><h2>生活板块</h2></div>'
                f'<table class="fl_tb">{rows}</table></div></div>' + self.FOOT)
        return self.page(200, body)

    def forumdisplay(self, q, base):
        try:
            fid = int(q.get("fid", ["0"])[0])
            page = int(q.get("page", ["1"])[0])
        except ValueError:
            return self.notfound()
        if fid not in self.FORUMS:
            return self.notfound()
        ths = self.by_fid[fid]
        pages = (len(ths) + self.TPP - 1) // self.TPP
        if not 1 <= page <= pages:
            page = 1
        rows = ""
        for th in ths[(page - 1) * self.TPP: page * self.TPP]:
            n = len(th["posts"])
            tpages = (n + self.PPP - 1) // self.PPP
            mini = ""
            if tpages > 1:
                mini = '<span class="tps">&nbsp;...' + "".join(
                    f'<a href="forum.php?mod=viewthread&amp;tid={th["tid"]}&amp;extra=page%3D{page}&amp;page={k}">{k}</a>'
                    for k in range(2, tpages + 1)) + "</span>"
            first = th["posts"][0]
            rows += (f'<tbody id="normalthread_{th["tid"]}"><tr><td class="icn"><a href="forum.php?mod=viewthread&amp;tid={th["tid"]}&amp;extra=page%3D{page}" title="新窗口打开" target="_blank"><img src="static/image/common/folder_common.gif" /></a></td>'
                     f'<th class="common"><a href="forum.php?mod=viewthread&amp;tid={th["tid"]}&amp;extra=page%3D{page}" onclick="atarget(this)" class="s xst">{E(th["title"])}</a>{mini}</th>'
                     f'<td class="by"><cite><a href="home.php?mod=space&amp;uid={first["uid"]}">{E(first["nick"])}</a></cite><em><span>{first["when"]}</span></em></td>'
                     f'<td class="num"><a href="forum.php?mod=viewthread&amp;tid={th["tid"]}&amp;extra=page%3D{page}" class="xi2">{n - 1}</a><em>{n * 37}</em></td></tr></tbody>')
        href = f"forum.php?mod=forumdisplay&amp;fid={fid}"
        body = (self.head(self.FORUMS[fid], base) +
                f'<div id="wp" class="wp"><div id="pt" class="bm cl"><div class="z"><a href="forum.php">江城生活论坛</a> <em>&rsaquo;</em> {E(self.FORUMS[fid])}</div></div>'
                f'<div id="pgt" class="bm bw0 pgs cl">{self.pager(href, page, pages)}<a href="forum.php?mod=post&amp;action=newthread&amp;fid={fid}" id="newspecial">发帖</a></div>'
                f'<div id="threadlist" class="tl bm bmw"><table summary="forum_{fid}" cellspacing="0" cellpadding="0" id="threadlisttableid">{rows}</table></div>'
                f'<div class="bm bw0 pgs cl">{self.pager(href, page, pages)}</div></div>' + self.FOOT)
        return self.page(200, body)

    def floor_html(self, th, p, idx):
        msg = ""
        if p["floor"] == 2 and th["tid"] % 2 == 0:
            msg += f'<i class="pstatus"> 本帖最后由 {E(p["nick"])} 于 {p["when"]} 编辑 </i><br />\r\n'
        if p.get("quote"):
            q = p["quote"]
            msg += (f'<div class="quote"><blockquote><font size="2"><a href="forum.php?mod=redirect&amp;goto=findpost&amp;pid={q["pid"]}&amp;ptid={th["tid"]}" target="_blank">'
                    f'<font color="#999999">{E(q["nick"])} 发表于 {q["when"]}</font></a></font><br />\r\n{E(q["body"][:60])}</blockquote></div><br />\r\n')
        msg += E(p["body"])
        floor_no = {1: "楼主", 2: "沙发", 3: "板凳", 4: "地板"}.get(p["floor"], f'{p["floor"]}<sup>#</sup>')
        sign = f'<div class="sign" style="max-height:100px;maxHeightIE:100px;">{E(p["sig"])}</div>' if p["sig"] else ""
        return (f'<div id="post_{p["pid"]}" >\n<table id="pid{p["pid"]}" class="plhin" summary="pid{p["pid"]}" cellspacing="0" cellpadding="0">\n<tr>\n'
                f'<td class="pls" rowspan="2"><div class="pi"><div class="authi"><a href="home.php?mod=space&amp;uid={p["uid"]}" target="_blank" class="xw1">{E(p["nick"])}</a></div></div>'
                f'<div class="p_pop blk bui card_gender_0"><dl class="cl"><dt>积分</dt><dd>{p["uid"] % 900}</dd></dl></div></td>\n'
                f'<td class="plc"><div class="pi"><strong><a href="forum.php?mod=redirect&amp;goto=findpost&amp;ptid={th["tid"]}&amp;pid={p["pid"]}" id="postnum{p["pid"]}">{floor_no}</a></strong>'
                f'<div class="pti"><div class="authi"><em id="authorposton{p["pid"]}">发表于 {p["when"]}</em><span class="pipe">|</span>'
                f'<a href="forum.php?mod=viewthread&amp;tid={th["tid"]}&amp;page=1&amp;authorid={p["uid"]}" rel="nofollow">只看该作者</a>'
                + (f'<span class="pipe">|</span><a href="forum.php?mod=viewthread&amp;tid={th["tid"]}&amp;extra=page%3D{th["lp"]}&amp;ordertype=1">倒序浏览</a>' if idx == 0 else "")
                + f'</div></div></div>\n<div class="pct"><div class="pcb"><div class="t_fsz">\n<table cellspacing="0" cellpadding="0"><tr><td class="t_f" id="postmessage_{p["pid"]}">\r\n{msg}</td></tr></table>\n'
                f'</div></div></div>\n</td></tr>\n<tr><td class="plc plm">{sign}</td></tr>\n'
                f'<tr><td class="pls"></td><td class="plc"><div class="po hin"><div class="pob cl"><em><a class="fastre" href="forum.php?mod=post&amp;action=reply&amp;fid={th["fid"]}&amp;tid={th["tid"]}&amp;repquote={p["pid"]}">回复</a></em>'
                f'<p><a href="javascript:;" onclick="showWindow(\'miscreport{p["pid"]}\', \'misc.php?mod=report&amp;rid={p["pid"]}\');">举报</a></p></div></div></td></tr>\n</table>\n</div>')

    def viewthread(self, q, base):
        try:
            th = self.threads[int(q.get("tid", ["0"])[0])]
            page = int(q.get("page", ["1"])[0])
        except (ValueError, KeyError):
            return self.notfound()
        posts = list(th["posts"])
        authorid = q.get("authorid", [None])[0]
        if authorid:
            posts = [p for p in posts if str(p["uid"]) == authorid]
        if q.get("ordertype", ["0"])[0] == "1":
            posts = posts[:1] + posts[1:][::-1]
        pages = max(1, (len(posts) + self.PPP - 1) // self.PPP)
        if not 1 <= page <= pages:
            page = 1
        chunk = posts[(page - 1) * self.PPP: page * self.PPP]
        floors = "\n".join(self.floor_html(th, p, i) for i, p in enumerate(chunk))
        extra = q.get("extra", [f"page={th['lp']}"])[0]
        href = f"forum.php?mod=viewthread&amp;tid={th['tid']}&amp;extra={quote(extra, safe='')}"
        body = (self.head(th["title"], base) +
                f'<div id="wp" class="wp"><div id="pt" class="bm cl"><div class="z"><a href="forum.php">江城生活论坛</a> <em>&rsaquo;</em> '
                f'<a href="forum.php?mod=forumdisplay&amp;fid={th["fid"]}">{E(self.FORUMS[th["fid"]])}</a> <em>&rsaquo;</em> {E(th["title"])}</div></div>'
                f'<div id="pgt" class="pgs mbm cl">{self.pager(href, page, pages)}<a href="forum.php?mod=forumdisplay&amp;fid={th["fid"]}">返回列表</a></div>'
                f'<div id="postlist" class="pl bm"><table cellspacing="0" cellpadding="0"><tr><td class="pls ptn pbn"><div class="hm ptn"><span class="xg1">查看:</span> <span class="xi1">{th["tid"] % 900}</span></div></td>'
                f'<td class="plc ptm pbn vwthd"><h1 class="ts"><span id="thread_subject">{E(th["title"])}</span></h1></td></tr></table>\n{floors}\n</div>'
                f'<div class="pgs mtm mbm cl">{self.pager(href, page, pages)}</div>'
                f'<div id="f_pst" class="pl bm bmw"><form method="post" action="forum.php?mod=post&amp;action=reply&amp;fid={th["fid"]}&amp;tid={th["tid"]}"><textarea name="message"></textarea></form></div></div>'
                + self.FOOT)
        return self.page(200, body)

    def handle(self, path, q, headers, base):
        if path in ("/", "/index.php"):
            return self.redirect(301, f"{base}/forum.php")
        if path != "/forum.php":
            return self.notfound()
        mod = q.get("mod", [""])[0]
        if mod == "":
            return self.index(base)
        if mod == "forumdisplay":
            return self.forumdisplay(q, base)
        if mod == "viewthread":
            return self.viewthread(q, base)
        if mod == "redirect":      # goto=findpost: 302 to the page holding that post
            pid = int(q.get("pid", ["0"])[0])
            for th in self.threads.values():
                for i, p in enumerate(th["posts"]):
                    if p["pid"] == pid:
                        return self.redirect(302, f"{base}/forum.php?mod=viewthread&tid={th['tid']}&page={i // self.PPP + 1}#pid{pid}")
            return self.notfound()
        return self.notfound()


# ====================================================================== 2. blog: WordPress, UTF-8
class Blog(Site):
    """好孕知识站: /, /page/N/ (rel=next/prev + paginate_links), posts at /YYYY/MM/slug/ (rel=canonical,
    rel=shortlink /?p=ID), /?p=ID → 301, ?replytocom= duplicates, tag cloud, related-posts sidebar,
    comments; two posts only reachable by /?p=ID links; one slow post (3 s); one 404 link."""
    name = "blog"
    PER = 5

    def __init__(self):
        super().__init__()
        self.posts = []
        for i, (slug, ym, item) in enumerate(C.BLOG_POSTS):
            p = dict(item, slug=slug, ym=ym, pid=2031 + i * 6 + (i % 3),
                     hidden=slug in C.BLOG_HIDDEN, slow=slug in C.BLOG_SLOW,
                     tags=[t for t, n in C.BLOG_TAGS if n in item["title"] + item["body"]] or ["beiyun"])
            p["path"] = f"/{ym}/{slug}/"
            self.posts.append(p)
        self.byid = {p["pid"]: p for p in self.posts}
        self.bypath = {p["path"]: p for p in self.posts}
        self.listed = [p for p in self.posts if not p["hidden"]]
        self.hidden = [p for p in self.posts if p["hidden"]]
        for p in self.posts:
            self.add_truth(p["path"], p, "post")

    def frame(self, title, main, base, head_extra="", body_class="home blog"):
        tags = "".join(f'<a href="{base}/tag/{t}/" class="tag-cloud-link tag-link-{k + 3}" style="font-size: {10 + (k * 5) % 12}pt;" aria-label="{n} ({k + 2}个项目)">{n}</a>\n'
                       for k, (t, n) in enumerate(C.BLOG_TAGS))
        # "related" / "popular" widgets show ad titles among the others
        pop = [p for p in self.listed if p["ad"]][:4] + [p for p in self.listed if not p["ad"]][:3]
        related = "".join(f'<li><a href="{base}{p["path"]}">{E(p["title"])}</a></li>' for p in pop)
        recent = "".join(f'<li class="recentcomments"><span class="comment-author-link">网友{k}</span> 发表在《<a href="{base}{p["path"]}#comment-{300 + k}">{E(p["title"])}</a>》</li>'
                         for k, p in enumerate(self.listed[:3]))
        return f"""<!DOCTYPE html>
<html lang="zh-Hans">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{E(title)} &#8211; 好孕知识站</title>
<meta name='robots' content='max-image-preview:large' />
<link rel="alternate" type="application/rss+xml" title="好孕知识站 &raquo; Feed" href="{base}/feed/" />
{head_extra}
<link rel='stylesheet' id='wp-block-library-css' href='{base}/wp-includes/css/dist/block-library/style.min.css?ver=6.7.1' media='all' />
<link rel="https://api.w.org/" href="{base}/wp-json/" />
<meta name="generator" content="WordPress 6.7.1" />
</head>
<body class="{body_class}">
<div id="page" class="site"><a class="skip-link screen-reader-text" href="#content">跳至内容</a>
<header id="masthead" class="site-header"><p class="site-title"><a href="{base}/" rel="home">好孕知识站</a></p>
<p class="site-description">科学备孕 · 正规就医</p>
<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu"><li><a href="{base}/">首页</a></li>
<li><a href="{base}/tag/beiyun/">备孕</a></li><li><a href="{base}/tag/shiguan/">试管婴儿</a></li><li><a href="{base}/about/">关于本站</a></li></ul></nav></header>
<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">
{main}
</main></div>
<aside id="secondary" class="widget-area">
<section id="search-2" class="widget widget_search"><form role="search" method="get" class="search-form" action="{base}/"><input type="search" class="search-field" name="s" /></form></section>
<section id="related-3" class="widget widget_related_posts"><h2 class="widget-title">相关文章</h2><ul>{related}</ul></section>
<section id="tag_cloud-2" class="widget widget_tag_cloud"><h2 class="widget-title">标签</h2><div class="tagcloud">{tags}</div></section>
<section id="recent-comments-2" class="widget widget_recent_comments"><h2 class="widget-title">近期评论</h2><ul id="recentcomments">{recent}</ul></section>
<section id="meta-2" class="widget widget_meta"><h2 class="widget-title">其他操作</h2><ul><li><a href="{base}/wp-admin/">登录</a></li><li><a href="{base}/feed/">条目feed</a></li></ul></section>
</aside></div>
<footer id="colophon" class="site-footer"><div class="site-info">&copy; 2026 好孕知识站 · 本站文章仅供科普参考，不提供任何代孕、供卵、性别鉴定服务 · <a href="https://cn.wordpress.org/">自豪地采用WordPress</a></div></footer>
</div></body></html>"""

    def paginate(self, cur, pages, base):
        def href(k):
            return f"{base}/" if k == 1 else f"{base}/page/{k}/"
        out, dots = [], False
        if cur > 1:
            out.append(f'<a class="prev page-numbers" href="{href(cur - 1)}">&laquo; 上一页</a>')
        for k in range(1, pages + 1):
            if k == cur:
                out.append(f'<span aria-current="page" class="page-numbers current">{k}</span>')
                dots = False
            elif k in (1, pages) or abs(k - cur) <= 1:
                out.append(f'<a class="page-numbers" href="{href(k)}">{k}</a>')
                dots = False
            elif not dots:
                out.append('<span class="page-numbers dots">&hellip;</span>')
                dots = True
        if cur < pages:
            out.append(f'<a class="next page-numbers" href="{href(cur + 1)}">下一页 &raquo;</a>')
        return '<nav class="navigation pagination" aria-label="文章分页"><div class="nav-links">' + "\n".join(out) + "</div></nav>"

    def archive(self, n, base, posts=None, title="好孕知识站", prefix=None):
        posts = self.listed if posts is None else posts
        pages = max(1, (len(posts) + self.PER - 1) // self.PER)
        if not 1 <= n <= pages:
            return self.notfound()
        arts = ""
        for p in posts[(n - 1) * self.PER: n * self.PER]:
            y, mth = p["ym"].split("/")
            arts += (f'<article id="post-{p["pid"]}" class="post-{p["pid"]} post type-post status-publish format-standard hentry">'
                     f'<header class="entry-header"><h2 class="entry-title"><a href="{base}{p["path"]}" rel="bookmark">{E(p["title"])}</a></h2>'
                     f'<div class="entry-meta"><span class="posted-on">发布于 <time class="entry-date published" datetime="{y}-{mth}-12T09:30:00+08:00">{y}年{int(mth)}月12日</time></span></div></header>'
                     f'<div class="entry-summary"><p>{E(p["body"][:30])}&hellip; <a href="{base}{p["path"]}#more-{p["pid"]}" class="more-link">继续阅读</a></p></div>'
                     f'<footer class="entry-footer"><span class="comments-link"><a href="{base}{p["path"]}#respond">发表评论</a></span></footer></article>\n')
        if n == 2 and prefix is None:   # a post deleted after the list was cached: 404
            arts += ('<article id="post-1999" class="post"><header class="entry-header"><h2 class="entry-title">'
                     f'<a href="{base}/2026/01/beiyun-yesuan-zhinan/" rel="bookmark">备孕期间叶酸怎么补</a></h2></header></article>')
        pre = prefix or f"{base}/page/"
        head = ""
        if n > 1:
            head += f'<link rel="prev" href="{base + "/" if n == 2 and prefix is None else pre + str(n - 1) + "/"}" />\n'
        if n < pages:
            head += f'<link rel="next" href="{pre}{n + 1}/" />\n'
        nav = self.paginate(n, pages, base) if prefix is None else ""
        return self.page(200, self.frame(title if n == 1 else f"{title} – 第{n}页", arts + nav, base, head))

    def post(self, p, base, query):
        i = self.posts.index(p)
        prev_p = self.posts[i - 1] if i > 0 else None
        next_p = self.posts[i + 1] if i + 1 < len(self.posts) else None
        hidden_link = ""
        if p["slug"] == "jingfang-daohui-daiyun-tuanhuo":
            hidden_link = f'<p>相关案例：<a href="{base}/?p={self.hidden[0]["pid"]}">法院如何看待这类协议，点此查看</a>。</p>'
        if p["slug"] == "tujidan-tiaoxuan":
            hidden_link = f'<p>本站旧文：<a href="{base}/?p={self.hidden[1]["pid"]}">点这里</a></p>'
        comments = "".join(
            f'<li id="comment-{p["pid"] * 10 + k}" class="comment even depth-1"><article class="comment-body"><footer class="comment-meta">'
            f'<div class="comment-author vcard"><b class="fn">读者{p["pid"] % 97 + k}</b> <span class="says">说道：</span></div>'
            f'<div class="comment-metadata"><a href="{base}{p["path"]}#comment-{p["pid"] * 10 + k}"><time>2026年3月{k + 14}日 下午3:1{k}</time></a></div></footer>'
            f'<div class="comment-content"><p>{E(C.BLOG_COMMENTS[(p["pid"] + k) % len(C.BLOG_COMMENTS)])}</p></div>'
            f'<div class="reply"><a rel="nofollow" class="comment-reply-link" href="{base}{p["path"]}?replytocom={p["pid"] * 10 + k}#respond">回复</a></div></article></li>'
            for k in range(2))
        nav = '<nav class="navigation post-navigation"><div class="nav-links">'
        if prev_p and not prev_p["hidden"]:
            nav += f'<div class="nav-previous"><a href="{base}/?p={prev_p["pid"]}" rel="prev"><span class="meta-nav">上一篇</span> {E(prev_p["title"])}</a></div>'
        if next_p and not next_p["hidden"]:
            nav += f'<div class="nav-next"><a href="{base}{next_p["path"]}" rel="next"><span class="meta-nav">下一篇</span> {E(next_p["title"])}</a></div>'
        nav += "</div></nav>"
        tags = "、".join(f'<a href="{base}/tag/{t}/" rel="tag">{dict(C.BLOG_TAGS)[t]}</a>' for t in p["tags"])
        y, mth = p["ym"].split("/")
        main = (f'<article id="post-{p["pid"]}" class="post-{p["pid"]} post type-post status-publish hentry">'
                f'<header class="entry-header"><h1 class="entry-title">{E(p["title"])}</h1>'
                f'<div class="entry-meta"><span class="posted-on">发布于 <time class="entry-date published" datetime="{y}-{mth}-12T09:30:00+08:00">{y}年{int(mth)}月12日</time></span>'
                f'<span class="byline"> 作者 <span class="author vcard"><a class="url fn n" href="{base}/author/editor/">小编</a></span></span></div></header>'
                f'<div class="entry-content">\n<p>{E(p["body"])}</p>\n{hidden_link}</div>'
                f'<footer class="entry-footer"><span class="tags-links">标签：{tags}</span>'
                f'<span class="edit-link"><a class="post-edit-link" href="{base}/wp-admin/post.php?post={p["pid"]}&#038;action=edit">编辑</a></span></footer></article>'
                f'{nav}<div id="comments" class="comments-area"><h2 class="comments-title">《{E(p["title"])}》上有2条评论</h2>'
                f'<ol class="comment-list">{comments}</ol><div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">发表回复</h3>'
                f'<form action="{base}/wp-comments-post.php" method="post" id="commentform"><textarea id="comment" name="comment"></textarea>'
                f'<input type="hidden" name="comment_post_ID" value="{p["pid"]}" /></form></div></div>')
        head = (f'<link rel="canonical" href="{base}{p["path"]}" />\n<link rel=\'shortlink\' href=\'{base}/?p={p["pid"]}\' />\n'
                f'<link rel="alternate" type="application/json" href="{base}/wp-json/wp/v2/posts/{p["pid"]}" />')
        if p["slow"]:
            time.sleep(3.0)
        return self.page(200, self.frame(p["title"], main, base, head, "post-template-default single single-post"))

    def handle(self, path, q, headers, base):
        if path == "/":
            if "p" in q:    # /?p=ID → 301 to the pretty permalink
                try:
                    p = self.byid[int(q["p"][0])]
                except (ValueError, KeyError):
                    return self.notfound()
                return self.redirect(301, f"{base}{p['path']}")
            if "s" in q:
                return self.page(200, self.frame("搜索结果", "<p>没有找到结果。</p>", base))
            return self.archive(1, base)
        m = re.fullmatch(r"/page/(\d+)/?", path)
        if m:
            return self.archive(int(m.group(1)), base)
        m = re.fullmatch(r"/tag/([a-z]+)/(?:page/(\d+)/)?", path)
        if m and m.group(1) in dict(C.BLOG_TAGS):
            posts = [p for p in self.listed if m.group(1) in p["tags"]]
            return self.archive(int(m.group(2) or 1), base, posts, f"标签：{dict(C.BLOG_TAGS)[m.group(1)]}",
                                f"{base}/tag/{m.group(1)}/page/")
        if path in self.bypath:
            return self.post(self.bypath[path], base, q)
        if path == "/feed/":
            items = "".join(f"<item><title>{E(p['title'])}</title><link>{base}{p['path']}</link></item>" for p in self.listed[:10])
            return self.page(200, f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>好孕知识站</title>{items}</channel></rss>',
                             ctype="application/rss+xml")
        if path == "/about/":
            return self.page(200, self.frame("关于本站", "<article><h1>关于本站</h1><div class='entry-content'><p>本站由几位宝妈维护，分享科学备孕知识。</p></div></article>", base))
        return self.notfound()


# ====================================================================== 3. app: JSON API, offset/limit
class App(Site):
    """好孕圈 App backend: GET /api/v2/feed?offset=O&limit=L → {"status":"ok","result":{"total":N,"items":[…]}};
    without the header X-App-Version: 5.2.0 → HTTP 403 JSON. Share pages /p/PID (HTML)."""
    name = "app"
    NICKS = ["暖暖妈", "小太阳", "芒果布丁", "等待花开", "阿珂", "Lily妈咪", "豆豆爸", "甜橙"]

    def __init__(self):
        super().__init__()
        self.items = []
        for i, it in enumerate(C.API_POSTS):
            pid = 880431 + i * 11
            text = TAG.sub("", it["body"])
            d = dict(it, pid=pid, text=text, html=it["body"], nick=self.NICKS[i % len(self.NICKS)], ts=1772400000 + i * 5423)
            self.items.append(d)
            self.add_truth(f"/p/{pid}", d, "api", body=text)

    def handle(self, path, q, headers, base):
        if path == "/api/v2/feed":
            if headers.get("X-App-Version") != APP_VERSION:
                return self.page(403, json.dumps({"status": "error", "error": {"code": 40301, "msg": "客户端版本过低，请升级"}},
                                                 ensure_ascii=False), ctype="application/json")
            try:
                off = max(0, int(q.get("offset", ["0"])[0]))
                lim = min(20, max(1, int(q.get("limit", ["10"])[0])))
            except ValueError:
                return self.page(400, '{"status":"error","error":{"code":400,"msg":"bad paging"}}', ctype="application/json")
            chunk = self.items[off: off + lim]
            out = {"status": "ok", "result": {"total": len(self.items), "items": [
                {"pid": it["pid"], "type": "post",
                 "author": {"uid": 10000 + it["pid"] % 9973, "nick": it["nick"], "level": it["pid"] % 7, "avatar": f"{base}/static/a/{it['pid'] % 40}.jpg"},
                 "topic": {"id": 30 + len(it["title"]), "name": it["title"]},
                 "content": it["html"], "images": [], "ts": it["ts"],
                 "stats": {"likes": it["pid"] % 83, "comments": it["pid"] % 17},
                 "share": f"{base}/p/{it['pid']}"} for it in chunk]}}
            return self.page(200, json.dumps(out, ensure_ascii=False), ctype="application/json")
        m = re.fullmatch(r"/p/(\d+)", path)
        if m:
            for it in self.items:
                if it["pid"] == int(m.group(1)):
                    return self.page(200, f'<!doctype html><html><head><meta charset="utf-8"><title>{E(it["title"])} - 好孕圈</title></head>'
                                          f'<body><div class="app-banner">打开好孕圈App查看更多</div><div class="post"><div class="nick">{E(it["nick"])}</div>'
                                          f'<div class="content">{it["html"]}</div></div></body></html>')
            return self.notfound()
        if path.startswith("/api/"):
            return self.page(404, '{"status":"error","error":{"code":404,"msg":"not found"}}', ctype="application/json")
        return self.notfound()


# ====================================================================== 4. m: mobile classifieds
class Mobile(Site):
    """掌上同城 (m.): lists /c/<cat>/?pn=N with 下一页 and a 加载更多 link to an HTML fragment /c/<cat>/more?pn=N;
    items /info/ID.html linked plain, with from=/utm_source=, with #fragment, or through a meta-refresh
    interstitial /jump.html?id=ID; some pages GBK bytes declared gb2312 in <meta> only; /vip/ and /user/
    disallowed by robots.txt; one 404 link."""
    name = "m"
    PER = 4

    def __init__(self):
        super().__init__()
        self.items = {}
        self.bycat = {c: [] for c, _ in C.M_CATS}
        for i, (cat, item) in enumerate(C.M_ITEMS):
            iid = 40107 + i * 7
            it = dict(item, id=iid, cat=cat, variant=i % 4)
            self.items[iid] = it
            self.bycat[cat].append(it)
            self.add_truth(f"/info/{iid}.html", it, "m")
        self.vip = dict(C.M_VIP, id=7001)
        self.add_truth("/vip/7001.html", self.vip, "m", reachable=False)
        self.gbk_lists = {("jiankang", 2)}

    def link(self, it):
        v = it["variant"]
        if v == 0:
            return f"/info/{it['id']}.html"
        if v == 1:
            return f"/info/{it['id']}.html?from=list&amp;utm_source=m_list&amp;utm_medium=wap"
        if v == 2:
            return f"/jump.html?id={it['id']}&amp;from=list"
        return f"/info/{it['id']}.html?from=tuijian#detail"

    def rows(self, chunk):
        return "".join(f'<li class="item"><a href="{self.link(it)}"><div class="t">{E(it["title"])}</div>'
                       f'<div class="d">{E(it["body"][:14])}…</div></a></li>' for it in chunk)

    def shell(self, title, main, meta_cs='<meta charset="utf-8">'):
        return (f'<!DOCTYPE html><html><head>{meta_cs}<meta name="viewport" content="width=device-width,initial-scale=1,user-scalable=no">'
                f'<title>{E(title)}-掌上同城</title></head><body><header class="m-hd"><a href="/" class="logo">掌上同城</a>'
                f'<a href="/user/login" class="login">登录</a></header>{main}'
                f'<footer class="m-ft"><a href="/">首页</a> | <a href="/about.html">关于</a><p>信息由用户发布，谨防诈骗；发现违法信息请举报。</p></footer></body></html>')

    def send(self, body, gbk):
        if gbk:   # GBK bytes, declared gb2312 in <meta> only, no charset in the header
            body = body.replace('<meta charset="utf-8">', '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
            return self.page(200, body.encode("gbk"), charset="gbk", header_charset=False)
        return self.page(200, body)

    def handle(self, path, q, headers, base):
        if path == "/":
            cats = "".join(f'<li><a href="/c/{c}/?from=home">{n}</a></li>' for c, n in C.M_CATS)
            return self.page(200, self.shell("首页", f'<ul class="cats">{cats}</ul>'))
        m = re.fullmatch(r"/c/([a-z]+)/(more)?", path)
        if m and m.group(1) in self.bycat:
            cat, more = m.group(1), bool(m.group(2))
            lst = self.bycat[cat]
            pages = (len(lst) + self.PER - 1) // self.PER
            try:
                pn = int(q.get("pn", ["1"])[0])
            except ValueError:
                pn = 1
            if not 1 <= pn <= pages:
                return self.notfound()
            rows = self.rows(lst[(pn - 1) * self.PER: pn * self.PER])
            if cat == "fuwu" and pn == 1:
                rows += '<li class="item expired"><a href="/info/39999.html"><div class="t">（已过期）开荒保洁</div></a></li>'
            loadmore = (f'<a class="load-more" href="/c/{cat}/more?pn={pn + 1}&amp;from=more" data-pn="{pn + 1}">加载更多</a>'
                        if pn < pages else '<p class="end">没有更多了</p>')
            if more:    # the 加载更多 fragment: no <html>, just rows and the next 加载更多
                return self.page(200, f'<ul class="list">{rows}</ul>{loadmore}')
            name = dict(C.M_CATS)[cat]
            top = f'<div class="top"><a href="/vip/{self.vip["id"]}.html">【置顶】{E(self.vip["title"])}</a></div>' if cat == "jiankang" else ""
            pager = '<div class="pager">' + (f'<a href="/c/{cat}/?pn={pn - 1}">上一页</a>' if pn > 1 else "") + \
                    f'<span>{pn}/{pages}</span>' + (f'<a href="/c/{cat}/?pn={pn + 1}">下一页</a>' if pn < pages else "") + "</div>"
            body = self.shell(f"{name}-第{pn}页", f'<h1 class="cat">{name}</h1>{top}<ul class="list">{rows}</ul>{loadmore}{pager}')
            return self.send(body, (cat, pn) in self.gbk_lists)
        if path == "/jump.html":
            try:
                it = self.items[int(q.get("id", ["0"])[0])]
            except (ValueError, KeyError):
                return self.notfound()
            return self.page(200, f'<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/info/{it["id"]}.html?from=jump">'
                                  f'<title>正在跳转</title></head><body><p>正在跳转，请稍候…</p></body></html>')
        m = re.fullmatch(r"/info/(\d+)\.html", path)
        if m:
            it = self.items.get(int(m.group(1)))
            if not it:
                return self.notfound()
            recs = [x for x in self.items.values() if x["ad"] and x["id"] != it["id"]][:3] + \
                   [x for x in self.items.values() if not x["ad"] and x["id"] != it["id"]][:2]
            rec = "".join(f'<li><a href="/info/{x["id"]}.html?from=rec">{E(x["title"])}</a></li>' for x in recs)
            main = (f'<div class="detail" id="detail"><h1 class="title">{E(it["title"])}</h1>'
                    f'<div class="meta"><span class="time">2026-03-{it["id"] % 27 + 1:02d}</span> <span class="cat">{E(dict(C.M_CATS)[it["cat"]])}</span></div>'
                    f'<div class="desc"><p>{E(it["body"])}</p></div>'
                    f'<div class="poster"><a href="/user/{it["id"] % 977}.html">查看发布者的其他信息</a></div></div>'
                    f'<div class="rec"><h3>猜你喜欢</h3><ul>{rec}</ul></div>')
            head = f'<meta charset="utf-8"><link rel="canonical" href="{base}/info/{it["id"]}.html">'
            return self.send(self.shell(it["title"], main, head), it.get("gbk", False))
        if path == f"/vip/{self.vip['id']}.html":
            return self.page(200, self.shell(self.vip["title"], f'<div class="detail"><h1>{E(self.vip["title"])}</h1><div class="desc"><p>{E(self.vip["body"])}</p></div></div>'))
        if path == "/about.html":
            return self.page(200, self.shell("关于", "<p>掌上同城，本地生活信息平台。</p>"))
        return self.notfound()


SITE_CLASSES = [Forum, Blog, App, Mobile]


def build_sites():
    return {cls.name: cls() for cls in SITE_CLASSES}


# ====================================================================== serving
class Web:
    def __init__(self, servers, sites, log):
        self._servers, self.sites, self.log = servers, sites, log
        self.urls = {name: f"http://127.0.0.1:{srv.server_address[1]}" for name, srv in servers.items()}

    def stop(self):
        for srv in self._servers.values():
            srv.shutdown()
            srv.server_close()


def _handler(site, log, lock):
    robots = ("User-agent: *\n" + "".join(f"Disallow: {p}\n" for p in ROBOTS[site.name])).encode()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            t0 = time.monotonic()
            parts = urlsplit(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if parts.path == "/robots.txt":
                status, headers, data = 200, {"Content-Type": "text/plain"}, robots
            else:
                try:
                    status, headers, data = site.handle(parts.path, parse_qs(parts.query), self.headers, base)
                except Exception as exc:  # a bug in the web must show up, not look like a crawler miss
                    status, headers, data = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
            with lock:
                log.append({"site": site.name, "path": self.path, "status": status, "secs": round(time.monotonic() - t0, 2),
                            "appver": self.headers.get("X-App-Version"), "ua": self.headers.get("User-Agent")})
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return H


def start(base_port=0):
    sites = build_sites()
    log, lock = [], threading.Lock()
    servers = {}
    for i, (name, site) in enumerate(sites.items()):
        srv = ThreadingHTTPServer(("127.0.0.1", base_port + i if base_port else 0), _handler(site, log, lock))
        srv.daemon_threads = True
        servers[name] = srv
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    return Web(servers, sites, log)


def truth():
    items = [t for s in build_sites().values() for t in s.truth]
    snippets = [t["snippet"] for t in items]
    dup = {s for s in snippets if snippets.count(s) > 1}
    assert not dup, dup
    return {"sites": SITES, "robots": ROBOTS, "items": items}


if __name__ == "__main__":
    if "--truth" in sys.argv:
        (HERE / "truth.json").write_text(json.dumps(truth(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        t = truth()["items"]
        print(len(t), "items,", sum(x["ad"] for x in t), "ads,", sum(x["ad"] and x["reachable"] for x in t), "reachable ads")
    else:
        w = start(8401)
        print(json.dumps(w.urls, indent=1))
        threading.Event().wait()
