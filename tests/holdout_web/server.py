"""The hold-out test web: eight small invented sites on 127.0.0.1, one port each.

    from tests.holdout_web.server import start
    web = start(base_port=0)     # free ports; base_port=N uses N, N+1, ...
    web.urls                     # {site: 'http://127.0.0.1:PORT'}
    web.log                      # [{'site', 'method', 'path', 'status', 'token'}]
    web.stop()

``python -m tests.holdout_web.server --truth`` rewrites truth.json; ``--serve`` serves on 8301+.
Written without looking at the crawler or the classifier.
"""

import gzip
import html
import json
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

from . import content as C

HERE = Path(__file__).resolve().parent
SITES = ["fenlei", "bbs", "tieba", "portal", "big5", "api", "yp", "news"]
API_TOKEN = "hw-7f3a91-token"
E = html.escape


def _ids(items, start):
    for i, it in enumerate(items):
        it["id"] = start + i
    return items


# ====================================================================== site models
class Site:
    charset = "utf-8"
    header_charset = True
    name = ""

    def __init__(self):
        self.truth = []          # {url(path), ad, categories, title, snippet, kind}

    def add_truth(self, path, item, kind="page"):
        self.truth.append({"site": self.name, "path": path, "ad": item["ad"], "categories": item["categories"],
                           "title": item["title"], "snippet": item["body"][:36], "kind": kind,
                           "body": item["body"]})

    def page(self, status, body, ctype="text/html", charset=None, extra=None):
        cs = charset or self.charset
        data = body.encode(cs) if isinstance(body, str) else body
        h = {"Content-Type": f"{ctype}; charset={cs}" if self.header_charset and ctype.startswith("text") else ctype}
        h.update(extra or {})
        return status, h, data

    def notfound(self):
        return 404, {"Content-Type": "text/html; charset=utf-8"}, "<h1>404 页面不存在</h1>".encode()

    def handle(self, path, query, headers, base):
        raise NotImplementedError


# ---------------------------------------------------------------------- fenlei: classifieds, ?p=N
class Fenlei(Site):
    name = "fenlei"
    CATS = [("fuwu", "生活服务"), ("jiazheng", "家政"), ("zhaopin", "招聘"), ("fangchan", "房产"), ("ershou", "二手")]
    PER = 6

    def __init__(self):
        super().__init__()
        items = [dict(x) for x in C.FENLEI_ADS + C.LOOKALIKE_CLASSIFIEDS]
        random.Random(11).shuffle(items)
        _ids(items, 1001)
        self.items = {it["id"]: it for it in items}
        self.bycat = {c: [] for c, _ in self.CATS}
        for i, it in enumerate(items):
            cat = self.CATS[i % len(self.CATS)][0]
            it["cat"] = cat
            self.bycat[cat].append(it)
        for it in items:
            self.add_truth(f"/info/{it['id']}.html", it)
        # the "hot" sidebar shown on every page: mixes an ad title with ordinary ones
        self.hot = [items[i] for i in range(6)]

    def frame(self, title, main, base):
        nav = "".join(f'<li><a href="/fenlei/{c}/">{n}</a></li>' for c, n in self.CATS)
        hot = "".join(f'<li><a href="/info/{h["id"]}.html?from=hot&amp;utm_campaign=side">{E(h["title"])}</a></li>'
                      for h in self.hot)
        return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{E(title)} - 便民快帖网</title></head>
<body><div class="topbar"><a href="/">便民快帖网</a> | <a href="/login">登录</a> | <a href="/reg">注册</a> | <a href="/fabu">免费发布信息</a></div>
<ul class="main-nav"><li><a href="/">首页</a></li>{nav}</ul>
<div class="wrap"><div class="col-main">{main}</div>
<div class="col-side"><h3>热门信息</h3><ul class="hot-list">{hot}</ul>
<h3>友情链接</h3><ul><li><a href="http://www.example.com/">同城网</a></li><li><a href="/about">关于我们</a></li></ul></div></div>
<div class="footer"><p>便民快帖网 版权所有 ICP备2026012345号-1 客服热线 400-123-4567</p>
<p>免责声明：本站信息由网友自行发布，本站不保证信息真实性。严禁发布代孕、买卖卵子、胎儿性别鉴定等违法信息，一经发现立即删除并向有关部门举报。</p></div></body></html>"""

    def link(self, it, i, base):
        v = i % 6
        if v == 5:
            return f"/go.php?to={it['id']}&amp;pos={i}"
        p = f"/info/{it['id']}.html"
        if v == 0:
            return p
        if v == 1:
            return f"../..{p}"
        if v == 2:
            return f"{p}?utm_source=list&amp;utm_medium=pc&amp;spm=a2c{i}.list.{it['id']}"
        if v == 3:
            return base.replace("http://", "HTTP://") + p + "#comments"
        return "//" + base.split("//", 1)[1] + p + "#top"

    def handle(self, path, query, headers, base):
        if path == "/":
            main = "<h2>最新信息</h2><ul>" + "".join(
                f'<li><a href="/fenlei/{c}/">{n}</a></li>' for c, n in self.CATS) + "</ul>"
            return self.page(200, self.frame("首页", main, base))
        for c, n in self.CATS:
            if path == f"/fenlei/{c}/":
                lst = self.bycat[c]
                pages = (len(lst) + self.PER - 1) // self.PER
                p = int((query.get("p") or ["1"])[0])
                if p < 1 or p > pages:
                    return self.notfound()
                chunk = lst[(p - 1) * self.PER: p * self.PER]
                rows = "".join(f'<div class="list-row"><a class="t" href="{self.link(it, j, base)}">{E(it["title"])}</a>'
                               f'<span class="d">{E(it["body"][:20])}…</span></div>' for j, it in enumerate(chunk))
                pager = '<div class="pagination">' + "".join(
                    f'<a href="?p={k}">{k}</a> ' if k != p else f'<b>{k}</b> ' for k in range(1, pages + 1))
                if p < pages:
                    pager += f'<a class="next" href="?p={p + 1}">下一页</a>'
                pager += "</div>"
                return self.page(200, self.frame(n, f"<h2>{n}</h2>{rows}{pager}", base))
        if path == "/go.php":   # click tracking: 302 to the post
            to = (query.get("to") or [""])[0]
            return 302, {"Location": f"/info/{to}.html", "Content-Type": "text/html"}, b""
        if path.startswith("/info/") and path.endswith(".html"):
            try:
                it = self.items[int(path[6:-5])]
            except (ValueError, KeyError):
                return self.notfound()
            main = f"""<div class="crumb"><a href="/">首页</a> &gt; <a href="/fenlei/{it['cat']}/">分类</a> &gt; 正文</div>
<div class="detail-wrap"><h2 class="info-title">{E(it['title'])}</h2>
<div class="info-meta">发布时间：<em class="pubtime">2026-11-{10 + it['id'] % 18:02d} 09:{it['id'] % 60:02d}</em> 浏览：{it['id'] % 300 + 12}次</div>
<div class="info-desc"><p>{E(it['body'])}</p></div>
<div class="share">分享到：<a href="#">微信</a> <a href="#">微博</a> <a href="/report?id={it['id']}">举报</a></div></div>
<div id="comments" class="comments"><h4>网友留言（2）</h4><ul><li>游客：信息还有效吗？</li><li>游客：已电话联系，谢谢。</li></ul></div>"""
            body = self.frame(it["title"], main, base).replace(
                "</title>", f'</title><link rel="canonical" href="{base}/info/{it["id"]}.html">', 1)
            return self.page(200, body)
        return self.notfound()


# ---------------------------------------------------------------------- bbs: forum, div.reply floors
class Bbs(Site):
    name = "bbs"
    BOARDS = [("beiyun", "备孕交流"), ("yunqi", "孕期交流"), ("shuo", "妈妈说事"), ("yuer", "育儿经")]
    PER_PAGE = 5
    QUOTE = ('<blockquote>引用 路人甲 的发言：招代孕妈妈，包成功，待遇二十万，加微信详谈</blockquote>'
             '这种帖子就是违法广告，大家千万别信，我已经举报给版主了。')

    def __init__(self):
        super().__init__()
        pads = iter(C.ordinary_floor_texts(40))
        ads = iter([dict(a) for a in C.BBS_ADS])
        self.threads = {}
        pid = 5001
        for t, (board, title, floors) in enumerate(C.BBS_THREADS):
            tid = 201 + t
            fl = [C.ok("", f) for f in floors]
            fl.insert(2, C.ok("", next(pads)))
            fl.append(C.ok("", next(pads)))
            # ad floors: two in the first threads, one in the rest, at varied positions
            for k in range(2 if t < 2 else 1):
                a = next(ads, None)
                if a:
                    fl.insert(min(len(fl), 2 + 3 * k + t % 3), a)
            if board == "shuo" and t == 4:
                fl.insert(3, {"ad": False, "categories": [], "title": "", "body": self.QUOTE, "html": True})
            for f in fl:
                f["pid"] = pid
                pid += 1
            self.threads[tid] = {"board": board, "title": title, "floors": fl}
        left = list(ads)
        assert not left, f"{len(left)} bbs ads unplaced"
        for tid, th in self.threads.items():
            for i, f in enumerate(th["floors"]):
                pg = i // self.PER_PAGE + 1
                path = f"/t/{tid}.html" if pg == 1 else f"/t/{tid}-{pg}.html"
                item = dict(f)
                if f.get("html"):
                    item["body"] = "这种帖子就是违法广告，大家千万别信，我已经举报给版主了。"
                self.add_truth(f"{path}#r{f['pid']}", item, kind="floor")

    def frame(self, title, main):
        nav = " | ".join(f'<a href="/forum/{b}/">{n}</a>' for b, n in self.BOARDS)
        return f"""<!doctype html><html><head><meta charset="utf-8"><title>{E(title)} - 暖心妈妈网</title></head><body>
<header class="hd"><span class="logo">暖心妈妈网</span> <nav>{nav}</nav> <a href="/member.php?mod=logging">登录</a></header>
<main class="bd">{main}</main>
<aside class="sd"><h4>今日热帖</h4><ol>{''.join(f'<li><a href="/t/{tid}.html">{E(th["title"])}</a></li>' for tid, th in list(self.threads.items())[:5])}</ol></aside>
<footer class="ft">暖心妈妈网 · 版主QQ群 66120033 · 请文明发帖，违法广告一律删除</footer></body></html>"""

    def handle(self, path, query, headers, base):
        if path == "/":
            rows = "".join(f'<div class="board"><a href="/forum/{b}/">{n}</a></div>' for b, n in self.BOARDS)
            return self.page(200, self.frame("首页", rows))
        parts = path.strip("/").split("/")
        if parts[0] == "forum" and len(parts) in (2, 4) and parts[1] in dict(self.BOARDS):
            b = parts[1]
            pg = int(parts[3]) if len(parts) == 4 and parts[2] == "page" and parts[3].isdigit() else 1
            tids = [tid for tid, th in self.threads.items() if th["board"] == b]
            pages = (len(tids) + 1) // 2
            chunk = tids[(pg - 1) * 2: pg * 2]
            if not chunk:
                return self.notfound()
            rows = "".join(f'<tr><td class="subject"><a href="/t/{tid}.html">{E(self.threads[tid]["title"])}</a></td>'
                           f'<td class="num">{len(self.threads[tid]["floors"])}</td></tr>' for tid in chunk)
            pager = "".join(f'<a href="/forum/{b}/page/{k}/">{k}</a> ' for k in range(1, pages + 1))
            return self.page(200, self.frame(dict(self.BOARDS)[b], f'<table class="threadlist">{rows}</table><div class="pg">{pager}</div>'))
        if parts[0] == "t" and len(parts) == 2 and parts[1].endswith(".html"):
            stem = parts[1][:-5]
            tid_s, _, pg_s = stem.partition("-")
            if not tid_s.isdigit() or int(tid_s) not in self.threads:
                return self.notfound()
            tid, pg = int(tid_s), int(pg_s) if pg_s.isdigit() else 1
            th = self.threads[tid]
            pages = (len(th["floors"]) + self.PER_PAGE - 1) // self.PER_PAGE
            if pg < 1 or pg > pages:
                return self.notfound()
            out = []
            for i, f in enumerate(th["floors"][(pg - 1) * self.PER_PAGE: pg * self.PER_PAGE]):
                n = (pg - 1) * self.PER_PAGE + i + 1
                body = f["body"] if f.get("html") else E(f["body"])
                out.append(f'<div class="reply" id="r{f["pid"]}"><div class="reply-author"><a href="/space/{f["pid"] % 97}">'
                           f'网友{f["pid"] % 97}</a> <span class="lv">Lv{f["pid"] % 9 + 1}</span></div>'
                           f'<div class="reply-body">{body}</div><div class="reply-foot"><span class="floor">{n}#</span> '
                           f'<span class="time">2026-11-{10 + n:02d} 2{n % 4}:{f["pid"] % 60:02d}</span> '
                           f'<a href="#r{f["pid"]}">回复</a> <a href="/report?pid={f["pid"]}">举报</a></div></div>')
            nxt = f'<a class="nxt" href="/t/{tid}-{pg + 1}.html">下一页</a>' if pg < pages else ""
            prv = (f'<a class="prev" href="/t/{tid}{"" if pg == 2 else f"-{pg - 1}"}.html">上一页</a>' if pg > 1 else "")
            main = f'<h1 class="thread-title">{E(th["title"])}</h1><div class="replies">{"".join(out)}</div><div class="pages">{prv} {nxt}</div>'
            return self.page(200, self.frame(th["title"], main))
        return self.notfound()


# ---------------------------------------------------------------------- tieba: GB18030 header only, li[data-pid], ?start=
class Tieba(Site):
    name = "tieba"
    charset = "gb18030"
    PER = 2

    def __init__(self):
        super().__init__()
        pads = iter(C.ordinary_floor_texts(30, seed=99)[20:])
        ads = iter([dict(a) for a in C.TIEBA_ADS])
        self.threads = {}
        pid = 880001
        for t, (title, floors) in enumerate(C.TIEBA_THREADS):
            tid = 7300100 + t * 7
            fl = [C.ok("", f) for f in floors]
            fl.append(C.ok("", next(pads)))
            fl.append(C.ok("", next(pads)))
            for k in range(2 if t < 3 else 1):
                a = next(ads, None)
                if a:
                    fl.insert(1 + 2 * k + t % 2, a)
            for f in fl:
                f["pid"] = pid
                pid += 13
            self.threads[tid] = {"title": title, "floors": fl}
        assert not list(ads)
        for tid, th in self.threads.items():
            for f in th["floors"]:
                self.add_truth(f"/p/{tid}#{f['pid']}", f, kind="floor")

    def frame(self, title, main):
        return (f'<html><head><title>{E(title)}_宝妈吧</title></head><body><div id="head">宝妈吧 | <a href="/list?start=0">看帖</a> | '
                f'<a href="/good">精品</a></div><div id="content">{main}</div><div id="foot">吧务热线 贴吧协议 隐私政策</div></body></html>')

    def handle(self, path, query, headers, base):
        tids = list(self.threads)
        if path == "/":
            return self.page(200, self.frame("首页", '<a href="/list?start=0">进入宝妈吧</a>'))
        if path == "/list":
            try:
                start = int((query.get("start") or ["0"])[0])
            except ValueError:
                return self.notfound()
            chunk = tids[start:start + self.PER]
            if not chunk or start % self.PER:
                return self.notfound()
            rows = "".join(f'<li class="j_thread_list"><a class="j_th_tit" href="/p/{tid}?fr=frs">{E(self.threads[tid]["title"])}</a></li>'
                           for tid in chunk)
            pager = ""
            if start > 0:
                pager += f'<a href="/list?start={start - self.PER}">上一页</a> '
            if start + self.PER < len(tids):
                pager += f'<a href="/list?start={start + self.PER}">下一页&gt;</a>'
            return self.page(200, self.frame("宝妈吧", f'<ul id="thread_list">{rows}</ul><div class="pagination">{pager}</div>'))
        if path.startswith("/p/") and path[3:].isdigit() and int(path[3:]) in self.threads:
            th = self.threads[int(path[3:])]
            lis = "".join(f'<li class="l_post" data-pid="{f["pid"]}" data-floor="{n + 1}"><div class="d_author"><a class="p_author_name">'
                          f'吧友{f["pid"] % 1000}</a></div><div class="d_post_content j_d_post_content">{E(f["body"])}</div>'
                          f'<div class="post-tail-wrap"><span class="tail-info">{n + 1}楼</span><span class="tail-info">2026-11-21 1{n}:0{n % 6}</span>'
                          f'<a class="lzl_link" href="javascript:;">回复</a></div></li>' for n, f in enumerate(th["floors"]))
            return self.page(200, self.frame(th["title"], f'<h3 class="core_title_txt">{E(th["title"])}</h3><ul class="p_postlist">{lis}</ul>'))
        return self.notfound()


# ---------------------------------------------------------------------- portal: GBK, charset only in <meta http-equiv>, list_N.html, tables
class Portal(Site):
    name = "portal"
    charset = "gbk"
    header_charset = False
    CLASSES = [(1, "便民信息"), (2, "医疗健康"), (3, "公告通知")]
    PER = 4

    def __init__(self):
        super().__init__()
        ads = [dict(a) for a in C.PORTAL_ADS]
        legit = [dict(x) for x in C.PORTAL_LEGIT]
        items = ads + legit
        random.Random(5).shuffle(items)
        _ids(items, 3101)
        self.bycls = {c: [] for c, _ in self.CLASSES}
        self.items = {}
        for i, it in enumerate(items):
            cid = self.CLASSES[i % 3][0]
            it["cid"] = cid
            self.bycls[cid].append(it)
            self.items[(cid, it["id"])] = it
            self.add_truth(f"/html/{cid}/{it['id']}.html", it)
        self.hidden = _ids([dict(a) for a in C.PORTAL_SEARCH_ADS], 3901)
        for it in self.hidden:
            it["cid"] = 9
            self.items[(9, it["id"])] = it
            self.add_truth(f"/html/9/{it['id']}.html", it, kind="search")

    def frame(self, title, main):
        return f"""<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=gbk"><TITLE>{E(title)}-江北便民信息港</TITLE></HEAD>
<BODY><TABLE width="960" align="center"><TR><TD colspan="2" class="top"><A HREF="/index.html">首页</A> | {' | '.join(f'<A HREF="/class/{c}/index.html">{n}</A>' for c, n in self.CLASSES)}</TD></TR>
<TR><TD width="720" valign="top">{main}</TD><TD width="240" valign="top" class="side">
<TABLE><TR><TD>【便民电话】</TD></TR><TR><TD>报警 110 火警 119 急救 120 卫生热线 12320</TD></TR></TABLE></TD></TR>
<TR><TD colspan="2" class="bottom">江北便民信息港 版权所有 备案号：蜀ICP备20260088号</TD></TR></TABLE></BODY></HTML>"""

    def handle(self, path, query, headers, base):
        if path in ("/", "/index.html"):
            return self.page(200, self.frame("首页", "<TABLE>" + "".join(
                f'<TR><TD><A HREF="class/{c}/index.html">{n}</A></TD></TR>' for c, n in self.CLASSES) + "</TABLE>"))
        if path == "/so.asp":  # an old ASP search: the keyword's percent-bytes are read as GBK
            raw = [v for k, v in parse_qsl(query.get("__raw__", [""])[0], encoding="gbk", errors="replace") if k == "kw"]
            kw = raw[0].strip() if raw else ""
            hits = [it for it in list(self.items.values()) if kw and kw in it["title"] + it["body"]]
            rows = "".join(f'<TR><TD><A HREF="html/{it["cid"]}/{it["id"]}.html">{E(it["title"])}</A></TD></TR>' for it in hits)
            return self.page(200, self.frame("搜索结果", f"<TABLE>{rows or '<TR><TD>对不起，没有找到相关信息</TD></TR>'}</TABLE>"))
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "class" and parts[1].isdigit() and int(parts[1]) in self.bycls:
            cid = int(parts[1])
            lst = self.bycls[cid]
            pages = (len(lst) + self.PER - 1) // self.PER
            if parts[2] == "index.html":
                pg = 1
            elif parts[2].startswith("list_") and parts[2][5:-5].isdigit():
                pg = int(parts[2][5:-5])
            else:
                return self.notfound()
            if pg < 1 or pg > pages:
                return self.notfound()
            rows = "".join(f'<TR><TD class="tit"><A HREF="../../html/{cid}/{it["id"]}.html" target="_blank">{E(it["title"])}</A></TD>'
                           f'<TD class="dt">11-{12 + k}</TD></TR>' for k, it in enumerate(lst[(pg - 1) * self.PER: pg * self.PER]))
            pager = "共%d页 " % pages + "".join(
                f'<A HREF="{"index.html" if k == 1 else f"list_{k}.html"}">[{k}]</A> ' for k in range(1, pages + 1))
            return self.page(200, self.frame(dict(self.CLASSES)[cid], f"<TABLE class=list>{rows}</TABLE><DIV class=pages>{pager}</DIV>"))
        if len(parts) == 3 and parts[0] == "html" and parts[1].isdigit() and parts[2].endswith(".html"):
            key = (int(parts[1]), int(parts[2][:-5]) if parts[2][:-5].isdigit() else -1)
            it = self.items.get(key)
            if not it:
                return self.notfound()
            main = f"""<TABLE width="100%" class="view"><TR><TD align="center" class="title"><B>{E(it['title'])}</B></TD></TR>
<TR><TD align="center" class="info">发布时间：2026-11-{it['id'] % 20 + 1:02d} 来源：网友投稿 点击：{it['id'] % 500}</TD></TR>
<TR><TD class="content">&nbsp;&nbsp;{E(it['body']).replace("。", "。<BR>&nbsp;&nbsp;")}</TD></TR>
<TR><TD class="tip">温馨提示：本信息由网友发布，请注意核实，谨防上当受骗。</TD></TR>
<TR><TD>上一条：<A HREF="../../index.html">返回首页</A></TD></TR></TABLE>"""
            return self.page(200, self.frame(it["title"], main))
        return self.notfound()


# ---------------------------------------------------------------------- big5: traditional Chinese, "下一頁" only
class Big5(Site):
    name = "big5"
    charset = "big5"
    PER = 4

    def __init__(self):
        super().__init__()
        items = [dict(x) for x in C.BIG5_ADS + C.BIG5_LEGIT]
        random.Random(3).shuffle(items)
        _ids(items, 61)
        self.items = {it["id"]: it for it in items}
        self.order = items
        for it in items:
            self.add_truth(f"/view.php?id={it['id']}", it)

    def frame(self, title, main, meta=False):
        m = '<meta http-equiv="Content-Type" content="text/html; charset=big5">' if meta else ""
        return (f'<html><head>{m}<title>{E(title)} - 港澳台分類廣告網</title></head><body><div class="menu"><a href="/">首頁</a> '
                f'<a href="/board.php?page=1">分類廣告</a> <a href="/post.php">刊登廣告</a></div>{main}'
                f'<div class="copy">港澳台分類廣告網 版權所有 請勿刊登違法廣告</div></body></html>')

    def handle(self, path, query, headers, base):
        if path == "/":
            return self.page(200, self.frame("首頁", '<a href="/board.php?page=1">最新分類廣告</a>'))
        if path == "/board.php":
            pg = int((query.get("page") or ["1"])[0])
            chunk = self.order[(pg - 1) * self.PER: pg * self.PER]
            if not chunk:
                return self.notfound()
            rows = "".join(f'<dl><dt><a href="view.php?id={it["id"]}">{E(it["title"])}</a></dt><dd>{E(it["body"][:15])}…</dd></dl>'
                           for it in chunk)
            nxt = f'<a href="board.php?page={pg + 1}">下一頁 &raquo;</a>' if pg * self.PER < len(self.order) else ""
            return self.page(200, self.frame("分類廣告", rows + f'<p class="nav">{nxt}</p>'))
        if path == "/view.php":
            try:
                it = self.items[int((query.get("id") or ["0"])[0])]
            except (ValueError, KeyError):
                return self.notfound()
            meta_only = it["id"] % 2 == 0
            main = (f'<div class="post"><h1>{E(it["title"])}</h1><div class="when">刊登日期：2026年11月{it["id"] % 20 + 1}日</div>'
                    f'<div class="txt">{E(it["body"])}</div></div>')
            st, h, data = self.page(200, self.frame(it["title"], main, meta=meta_only))
            if meta_only:
                h["Content-Type"] = "text/html"
            return st, h, data
        return self.notfound()


# ---------------------------------------------------------------------- api: JSON, page numbers, 401-in-200 without token
class Api(Site):
    name = "api"
    SIZE = 8

    def __init__(self):
        super().__init__()
        items = [dict(x) for x in C.API_ADS + C.API_LEGIT]
        random.Random(17).shuffle(items)
        _ids(items, 90001)
        self.items = items
        self.byid = {it["id"]: it for it in items}
        for it in items:
            self.add_truth(f"/share/{it['id']}.html", it, kind="api")

    def pages(self):
        return (len(self.items) + self.SIZE - 1) // self.SIZE

    def handle(self, path, query, headers, base):
        if path == "/api/v1/posts":
            if headers.get("X-Token") != API_TOKEN:
                return self.page(200, json.dumps({"code": 401, "msg": "未登录或token已过期", "data": None}, ensure_ascii=False),
                                 ctype="application/json")
            try:
                pg = int((query.get("page") or ["1"])[0])
            except ValueError:
                pg = 1
            chunk = self.items[(pg - 1) * self.SIZE: pg * self.SIZE]
            lst = [{"postId": it["id"], "title": it["title"], "content": it["body"],
                    "author": {"nick": f"用户{it['id'] % 1000}", "avatar": ""},
                    "createTime": f"2026-11-{it['id'] % 20 + 1:02d} 10:{it['id'] % 60:02d}:00",
                    "shareUrl": f"{base}/share/{it['id']}.html"} for it in chunk]
            data = {"code": 0, "msg": "success",
                    "data": {"list": lst, "hasMore": pg < self.pages(), "page": pg, "total": len(self.items)}}
            return self.page(200, json.dumps(data, ensure_ascii=False), ctype="application/json")
        if path.startswith("/share/") and path.endswith(".html"):
            try:
                it = self.byid[int(path[7:-5])]
            except (ValueError, KeyError):
                return self.notfound()
            return self.page(200, f'<html><head><meta charset="utf-8"><title>{E(it["title"])}</title></head><body>'
                                  f'<div class="open-app">打开App查看更多</div><h3>{E(it["title"])}</h3><p>{E(it["body"])}</p></body></html>')
        return self.notfound()


# ---------------------------------------------------------------------- yp: yellow pages, ads only via /search?kw=
class Yp(Site):
    name = "yp"
    PER = 5

    def __init__(self):
        super().__init__()
        legit = _ids([dict(x) for x in C.YP_LEGIT], 501)
        ads = _ids([dict(x) for x in C.YP_ADS], 801)
        self.browse = legit
        self.all = legit + ads
        self.byid = {it["id"]: it for it in self.all}
        for it in self.all:
            self.add_truth(f"/shop/{it['id']}", it, kind="search" if it["ad"] else "page")

    def frame(self, title, main):
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{E(title)} - 城市黄页</title></head><body>'
                f'<form class="sf" action="/search" method="get"><input name="kw" placeholder="搜索商家"><button>搜索</button></form>'
                f'<div class="main">{main}</div><div class="ft">城市黄页 商家入驻 400-000-1212</div></body></html>')

    def handle(self, path, query, headers, base):
        if path == "/":
            rows = "".join(f'<li><a href="/shop/{it["id"]}">{E(it["title"])}</a></li>' for it in self.browse)
            return self.page(200, self.frame("首页", f"<ul class='shops'>{rows}</ul>"))
        if path == "/search":
            kw = (query.get("kw") or [""])[0].strip()
            pg = int((query.get("page") or ["1"])[0]) if (query.get("page") or ["1"])[0].isdigit() else 1
            hits = [it for it in self.all if kw and (kw.lower() in (it["title"] + it["body"]).lower())]
            chunk = hits[(pg - 1) * self.PER: pg * self.PER]
            rows = "".join(f'<div class="res"><a href="/shop/{it["id"]}">{E(it["title"])}</a><p>{E(it["body"][:30])}</p></div>'
                           for it in chunk) or "<p>没有找到相关商家</p>"
            nxt = f'<a href="/search?kw={E(kw)}&amp;page={pg + 1}">下一页</a>' if pg * self.PER < len(hits) else ""
            return self.page(200, self.frame(f"搜索 {kw}", f"<h2>“{E(kw)}”共{len(hits)}条结果</h2>{rows}{nxt}"))
        if path.startswith("/shop/") and path[6:].isdigit() and int(path[6:]) in self.byid:
            it = self.byid[int(path[6:])]
            return self.page(200, self.frame(it["title"], f'<div class="shop"><h1>{E(it["title"])}</h1><section class="intro">'
                                                           f'<h4>商家简介</h4><p>{E(it["body"])}</p></section>'
                                                           f'<section class="rate">评分 4.{it["id"] % 10} · 评论 {it["id"] % 40}条</section></div>'))
        return self.notfound()


# ---------------------------------------------------------------------- news: /news/page/N/, long boilerplate, related links
class News(Site):
    name = "news"
    PER = 6

    def __init__(self):
        super().__init__()
        items = [dict(x) for x in C.NEWS_LEGIT + C.NEWS_ADS]
        random.Random(23).shuffle(items)
        _ids(items, 40001)
        self.items = items
        self.byid = {it["id"]: it for it in items}
        for it in items:
            self.add_truth(f"/a/2026/11/{it['id']}.html", it)

    def frame(self, title, main, related=""):
        return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>{E(title)}_城市健康新闻网</title>
<meta name="keywords" content="健康,新闻,辅助生殖,代孕,举报"></head><body>
<div class="g-hd"><a href="/">城市健康新闻网</a> <a href="/news/">要闻</a> <a href="/topic/">专题</a> <a href="/search.html">搜索</a></div>
<div class="g-bd"><div class="g-main">{main}</div><div class="g-side"><div class="mod"><h3>相关阅读</h3>{related}</div>
<div class="mod"><h3>排行榜</h3><ol>{''.join(f'<li><a href="/a/2026/11/{x["id"]}.html">{E(x["title"])}</a></li>' for x in self.items[:5])}</ol></div></div></div>
<div class="g-ft">主办：城市健康新闻网 违法和不良信息举报电话：12377 京ICP证2026000号</div></body></html>"""

    def handle(self, path, query, headers, base):
        if path in ("/", "/news/") or (path.startswith("/news/page/") and path.endswith("/")):
            pg = 1 if path in ("/", "/news/") else int(path[11:-1]) if path[11:-1].isdigit() else 0
            chunk = self.items[(pg - 1) * self.PER: pg * self.PER] if pg >= 1 else []
            if not chunk:
                return self.notfound()
            rows = "".join(f'<div class="news-item"><h4><a href="/a/2026/11/{it["id"]}.html?source=list#comment">{E(it["title"])}</a></h4>'
                           f'<p class="summary">{E(it["body"][:40])}</p></div>' for it in chunk)
            pages = (len(self.items) + self.PER - 1) // self.PER
            pager = "".join(f'<a href="/news/page/{k}/">{k}</a> ' for k in range(1, pages + 1))
            return self.page(200, self.frame("要闻", rows + f'<div class="page-nav">{pager}</div>'))
        if path.startswith("/a/2026/11/") and path.endswith(".html"):
            try:
                it = self.byid[int(path[11:-5])]
            except (ValueError, KeyError):
                return self.notfound()
            related = "".join(f'<p><a href="../11/{x["id"]}.html">{E(x["title"])}</a></p>'
                              for x in self.items if x["id"] != it["id"] and x["id"] % 4 == it["id"] % 4)
            main = (f'<article><h1>{E(it["title"])}</h1><div class="info">2026-11-{it["id"] % 20 + 1:02d} 来源：城市健康新闻网 编辑：李明</div>'
                    f'<div class="article-content"><p>{E(it["body"])}</p><p>（完）</p></div></article>'
                    f'<div id="comment" class="cmt"><h4>网友评论</h4><p>热心网友：支持！</p><p>匿名用户：说得好。</p></div>')
            return self.page(200, self.frame(it["title"], main, related))
        return self.notfound()


SITE_CLASSES = [Fenlei, Bbs, Tieba, Portal, Big5, Api, Yp, News]


def build_sites():
    return {cls.name: cls() for cls in SITE_CLASSES}


# ====================================================================== serving
ROBOTS = b"User-agent: *\nDisallow: /admin/\nDisallow: /member.php\n"


class Web:
    def __init__(self, servers, threads, sites, log):
        self._servers, self._threads, self.sites, self.log = servers, threads, sites, log
        self.urls = {name: f"http://127.0.0.1:{srv.server_address[1]}" for name, srv in servers.items()}

    def stop(self):
        for srv in self._servers.values():
            srv.shutdown()
            srv.server_close()


def _handler(site, log, lock):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            parts = urlsplit(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if parts.path == "/robots.txt":
                status, headers, data = 200, {"Content-Type": "text/plain"}, ROBOTS
            else:
                try:
                    query = parse_qs(parts.query)
                    query["__raw__"] = [parts.query]
                    status, headers, data = site.handle(parts.path, query, self.headers, base)
                except Exception as exc:  # a bug in the web must show up, not look like a crawler miss
                    status, headers, data = 500, {"Content-Type": "text/plain"}, repr(exc).encode()
            if site.name in ("portal", "big5") and "gzip" in (self.headers.get("Accept-Encoding") or "") and data:
                data = gzip.compress(data)
                headers = dict(headers, **{"Content-Encoding": "gzip"})
            with lock:
                log.append({"site": site.name, "method": "GET", "path": self.path, "status": status,
                            "token": self.headers.get("X-Token"), "ua": self.headers.get("User-Agent")})
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
    servers, threads = {}, []
    for i, (name, site) in enumerate(sites.items()):
        srv = ThreadingHTTPServer(("127.0.0.1", base_port + i if base_port else 0), _handler(site, log, lock))
        srv.daemon_threads = True
        servers[name] = srv
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        threads.append(t)
    return Web(servers, threads, sites, log)


def truth():
    sites = build_sites()
    items = [t for s in sites.values() for t in s.truth]
    snippets = [t["snippet"] for t in items]
    dup = {s for s in snippets if snippets.count(s) > 1}
    assert not dup, dup
    return {"sites": SITES, "items": items}


if __name__ == "__main__":
    if "--truth" in sys.argv:
        (HERE / "truth.json").write_text(json.dumps(truth(), ensure_ascii=False, indent=1), encoding="utf-8")
        t = truth()["items"]
        print(len(t), "items,", sum(x["ad"] for x in t), "ads")
    else:
        w = start(8301)
        print(json.dumps(w.urls, indent=1))
        threading.Event().wait()
