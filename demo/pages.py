"""HTML building blocks shared by the UTF-8 demo sites: escaping, the page shell, pagination.

Every page gets the same footer with a link into ``/private/`` (disallowed by robots.txt), so
a crawler that follows links but ignores robots.txt is caught on any site, from any page.
The GBK portal writes its own sloppy markup and only borrows :func:`esc`.
"""

from __future__ import annotations

from html import escape

STYLE = (
    "body{font-family:sans-serif;max-width:860px;margin:0 auto;padding:0 12px;color:#222}"
    "header,footer{border-bottom:1px solid #ddd;padding:8px 0}footer{border-top:1px solid #ddd;"
    "border-bottom:0;margin-top:24px;font-size:12px;color:#777}a{color:#1a5fb4}"
    ".pager a,.pager span{margin-right:6px}.contact{background:#f6f6f6;padding:8px}"
)


def esc(text: object) -> str:
    """Escape text for HTML element content and quoted attributes."""
    return escape(str(text), quote=True)


def paragraphs(text: str) -> str:
    """Escaped text with one ``<p>`` per non-empty line."""
    return "\n".join(f"<p>{esc(line)}</p>" for line in str(text).splitlines() if line.strip())


def page(title: str, body: str, *, site_title: str, private_href: str, nav: str = "",
         canonical: str | None = None, head: str = "", lang: str = "zh-CN") -> str:
    """A complete UTF-8 HTML page. ``title`` is escaped; ``body`` and ``nav`` are HTML."""
    full_title = title if title == site_title else f"{title} - {site_title}"
    canonical_tag = f'<link rel="canonical" href="{esc(canonical)}">\n' if canonical else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(full_title)}</title>\n{canonical_tag}"
        f"<style>{STYLE}</style>\n{head}</head>\n<body>\n"
        f'<header><a href="/"><b>{esc(site_title)}</b></a> {nav}</header>\n'
        f"<main>\n{body}\n</main>\n{footer(private_href)}\n</body>\n</html>\n"
    )


def footer(private_href: str) -> str:
    """The common footer; its 内部资料 link points into robots-disallowed ``/private/``."""
    return (
        '<footer>本站信息由用户发布，仅供参考 · '
        f'<a href="{esc(private_href)}">内部资料</a></footer>'
    )


def pagination(href_for_page, page_no: int, pages: int) -> str:
    """Numbered page links plus 上一页/下一页; ``href_for_page(n)`` builds each href."""
    if pages <= 1:
        return ""
    parts = []
    if page_no > 1:
        parts.append(f'<a class="prev" href="{esc(href_for_page(page_no - 1))}">上一页</a>')
    for n in range(1, pages + 1):
        if n == page_no:
            parts.append(f'<span class="current">{n}</span>')
        else:
            parts.append(f'<a href="{esc(href_for_page(n))}">{n}</a>')
    if page_no < pages:
        parts.append(f'<a class="next" href="{esc(href_for_page(page_no + 1))}">下一页</a>')
    return '<div class="pager">' + " ".join(parts) + "</div>"


def page_count(total: int, per_page: int) -> int:
    """Number of pages needed for ``total`` entries (at least one, so page 1 always exists)."""
    return max(1, -(-total // per_page))


def not_found_page(site_title: str, private_href: str, message: str = "页面不存在或已被删除") -> str:
    """The 404 body every UTF-8 site uses."""
    return page("404", f"<h1>404</h1><p>{esc(message)}</p>",
                site_title=site_title, private_href=private_href)
