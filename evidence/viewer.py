"""``index.html``: browse a package offline in any browser.

One page, no scripts, no network: its Content-Security-Policy forbids everything but its own
inline style and the package's own screenshots (relative links, shown once extracted). All
crawled text is escaped; the classifier's hits are marked with ``<mark>``.
"""

from __future__ import annotations

import html
from collections.abc import Iterator

from evidence.documents import CATEGORY_NAMES, PackageInfo, _beijing

_CSS = """
body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:0 auto;max-width:1100px;padding:16px;color:#222}
h1{font-size:22px} h2{font-size:17px;border-bottom:2px solid #b00;padding-bottom:4px;margin-top:36px}
table{border-collapse:collapse;width:100%;font-size:12px} td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
code{font-family:monospace;font-size:11px;word-break:break-all} mark{background:#ffd24d;color:#000;font-weight:bold}
.text{white-space:pre-wrap;background:#fafafa;border:1px solid #ddd;padding:8px;font-size:13px;max-height:480px;overflow:auto}
.shot{max-width:100%;border:1px solid #999} .labels{color:#b00;font-weight:bold} .toc li{margin:2px 0}
"""
_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def marked_text(text: str, hits: list[dict]) -> str:
    """The text escaped, with each non-overlapping hit in <mark>."""
    out, pos = [], 0
    for hit in sorted(hits or [], key=lambda h: (h.get("start", 0), -h.get("end", 0))):
        start, end = int(hit.get("start", 0)), int(hit.get("end", 0))
        if start < pos or end <= start or end > len(text):
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f"<mark title='{html.escape(str(hit.get('rule', '')))}'>{html.escape(text[start:end])}</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def index_html(info: PackageInfo, texts: dict[str, tuple[str, list[dict]]]) -> Iterator[str]:
    """The page in pieces (to stream into the ZIP); ``texts``: item id → (text, hits)."""
    e = html.escape
    yield (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
           f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
           f"<title>证据包 {e(info.package_id)}</title><style>{_CSS}</style></head><body>"
           f"<h1>证据包 {e(info.package_id)}</h1>"
           f"<p>案件：{e(info.case)}<br>提取人员：{e('、'.join(info.operators))}<br>"
           f"导出时间：{e(_beijing(info.created['beijing']))}（北京时间）<br>"
           f"签名密钥指纹：<code>{e(info.fingerprint)}</code><br>"
           f"校验：解压后运行 <code>python verify.py</code>；文件清单与签名见 manifest.json。</p><ol class='toc'>")
    for item in info.items:
        yield f"<li><a href='#i{e(item.id)}'>{e(item.title or item.url)}</a> — {e(item.url)}</li>"
    yield "</ol>"
    for n, item in enumerate(info.items, 1):
        labels = "、".join(CATEGORY_NAMES.get(c, c) for c in item.labels)
        text, hits = texts.get(item.id, ("", []))
        has_shot = any(f.name == "screenshot.png" for f in item.files)
        yield (f"<h2 id='i{e(item.id)}'>{n}. {e(item.title or item.url)}</h2>"
               f"<p>网址：<code>{e(item.url)}</code><br>条目编号：{e(item.id)}<br>"
               f"采集时间：{e(_beijing(item.captured_at))}（北京时间）<br>"
               f"涉嫌类别：<span class='labels'>{e(labels)}</span></p>")
        if has_shot:
            yield f"<p><img class='shot' alt='截图' src='items/{e(item.id)}/screenshot.png'></p>"
        else:
            yield "<p>（无截图：采集时浏览器不可用，原因见 meta.json）</p>"
        yield f"<h3>正文（命中词已标出）</h3><div class='text'>{marked_text(text, hits)}</div><h3>文件</h3><table>"
        yield "<tr><th>文件</th><th>大小（字节）</th><th>SHA-256</th></tr>"
        for f in item.files:
            yield (f"<tr><td>{e(f.path)}</td><td>{f.size}</td><td><code>{e(f.sha256)}</code></td></tr>")
        yield "</table>"
    yield "</body></html>"
