"""The daily report as one self-contained HTML file (``日报-YYYY-MM-DD.html``).

Everything crawled (titles, texts, URLs, site names, contacts) comes from the sites we
monitor, some of which plant markup on purpose, so every value passes through ``esc`` and a
link is only written for an http(s) URL. Charts are inline SVG (``charts.py``); there are no
scripts and no external assets, so the file opens the same in a browser, a mail client or
an archive years later.
"""

from __future__ import annotations

from html import escape

from reports import charts
from reports.categories import CATEGORY_IDS, COLOURS, category_name, category_names
from reports.daily import DailyReport
from reports.daily_tables import (ALERT_HEADERS, HEALTH_HEADERS, RUN_HEADERS, alert_rows, category_site_table,
                                  contacts_text, health_rows, local_time, run_rows, safe_url, status_name,
                                  trend_table)

CSS = """
body{font-family:'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif;
 margin:24px auto;max-width:1100px;color:#222;font-size:14px;line-height:1.5;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;border-left:5px solid #b71c1c;padding-left:8px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#555;font-size:13px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;white-space:nowrap}td.n,th.n{text-align:right;white-space:nowrap}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card.bad b{color:#b71c1c}
.bad{color:#b71c1c}.ok{color:#2e7d32}.muted{color:#777}.snippet{color:#444;font-size:12px}
.url{word-break:break-all;font-size:12px;color:#555}
.charts{display:flex;flex-wrap:wrap;gap:18px}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
"""


def esc(value) -> str:
    """Any value as escaped HTML text ('' for None)."""
    return escape("" if value is None else str(value), quote=True)


def link(url: str | None, text: str | None = None) -> str:
    """An escaped link that opens outside the report, or the escaped text alone."""
    target = safe_url(url)
    label = esc(text if text is not None else url)
    if target is None:
        return label
    return f'<a href="{esc(target)}" target="_blank" rel="noopener noreferrer">{label}</a>'


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset(), raw: set[int] = frozenset()) -> str:
    """A table; columns in ``raw`` hold HTML already escaped by the caller."""
    if not rows:
        return '<p class="muted">（无）</p>'
    head = "".join(f'<th{" class=n" if k in numeric else ""}>{esc(h)}</th>' for k, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for k, value in enumerate(row):
            content = value if k in raw else esc(value)
            cells.append(f'<td{" class=n" if k in numeric else ""}>{content}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def snippet(item: dict, size: int = 90) -> str:
    """Text around the first classifier hit (else the start), at most ``size`` characters."""
    text = (item.get("text") or "").replace("\n", " ")
    hits = item.get("hits") or []
    begin = max(0, min((h.get("start", 0) for h in hits), default=0) - size // 3)
    part = text[begin:begin + size]
    return ("…" if begin else "") + part + ("…" if begin + size < len(text) else "")


def render_daily_html(report: DailyReport, office: str = "") -> str:
    """The report as a complete HTML document."""
    s = report.summary()
    day = report.day
    out = [f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f'<title>违法辅助生殖广告监测日报 {day.isoformat()}</title><style>{CSS}</style></head><body>',
           f'<h1>违法辅助生殖广告监测日报</h1>'
           f'<div class="meta">{day.year}年{day.month}月{day.day}日（北京时间 00:00–24:00）'
           f'{" · " + esc(office) if office else ""} · 生成于 {esc(local_time(report.generated))} · '
           f'数据来源: {esc(report.store_label)}</div>']
    cards = [("抓取运行", s["runs"], False), ("抓取页面", s["pages"], False), ("采集条目", s["items"], False),
             ("新增违法信息", s["new_flagged"], s["new_flagged"] > 0), ("跨站重复联系方式", s["repeat_contacts"], False),
             ("采集异常来源", s["unhealthy_sources"], s["unhealthy_sources"] > 0), ("告警", s["alerts"], s["alerts"] > 0),
             ("逾期未处置", s["overdue"], s["overdue"] > 0), ("处置后仍在线", s["still_online"], s["still_online"] > 0)]
    out.append('<div class="cards">' + "".join(
        f'<div class="card{" bad" if bad else ""}">{esc(label)}<b>{value}</b></div>' for label, value, bad in cards)
        + "</div>")

    out.append("<h2>一、采集运行情况</h2>")
    out.append(_table(RUN_HEADERS, run_rows(report), numeric={3, 4, 5, 6, 7, 8, 9}))

    out.append("<h2>二、新增违法信息</h2>")
    out.append(f"<p>当日首次发现并判定为违法的信息 <b>{s['new_flagged']}</b> 条"
               "（一条信息可属多个类别，按类别计数时分别计入）。</p>")
    bars = [(category_name(c), report.by_category.get(c, 0), COLOURS[c]) for c in CATEGORY_IDS]
    site_bars = [(site, n, "#607D8B") for site, n in list(report.by_site.items())[:12]]
    out.append('<div class="charts">' + charts.hbars(bars, title="按类别") +
               charts.hbars(site_bars, title="按站点（前 12）") + "</div>")
    headers, rows = category_site_table(report)
    out.append("<h3>类别 × 站点</h3>")
    out.append(_table(headers, rows, numeric=set(range(1, len(headers)))))
    names = {c: category_name(c) for c in CATEGORY_IDS}
    out.append("<h3>趋势</h3>")
    out.append('<div class="charts">' +
               charts.stacked_columns(report.trend[-7:], list(CATEGORY_IDS), names, COLOURS, width=430,
                                      title="近 7 日新增违法信息（按类别）") +
               charts.stacked_columns(report.trend, list(CATEGORY_IDS), names, COLOURS,
                                      title="近 30 日新增违法信息（按类别；柱顶为条数）") + "</div>")
    headers, rows = trend_table(report.trend[-7:])
    out.append(_table(headers, rows, numeric=set(range(1, len(headers)))))

    out.append(f"<h2>三、重点新增信息（得分最高的 {len(report.top_items)} 条）</h2>")
    rows = [[k + 1, esc(category_names(i.get("labels") or [])), f"{i.get('score') or 0:.2f}",
             link(i.get("url"), i.get("title") or i.get("url")) + f'<div class="url">{esc(i.get("url"))}</div>'
             + f'<div class="snippet">{esc(snippet(i))}</div>',
             esc(i.get("site")), esc(contacts_text(i)), esc(local_time(i.get("first_seen"))), esc(i["id"])]
            for k, i in enumerate(report.top_items)]
    out.append(_table(["序号", "类别", "得分", "标题 / 网址 / 摘要", "站点", "联系方式", "首次发现", "编号"], rows,
                      numeric={0, 2}, raw=set(range(8))))

    out.append("<h2>四、跨站重复出现的联系方式</h2>")
    out.append("<p class=muted>同一电话、微信或QQ出现在两个及以上站点的违法信息中（近 30 日），多为同一中介团伙，建议并案处置。</p>")
    kinds = {"phones": "电话", "wechat": "微信", "qq": "QQ"}
    rows = [[kinds.get(c["kind"], c["kind"]), c["value"], len(c["sites"]), "、".join(c["sites"]), len(c["items"]),
             c["new"]] for c in report.repeat_contacts[:50]]
    out.append(_table(["类型", "联系方式", "站点数", "站点", "信息数", "其中当日新增"], rows, numeric={2, 4, 5}))

    out.append("<h2>五、采集健康状况与告警</h2>")
    rows = []
    for values in health_rows(report):
        state = f'<span class="{"bad" if values[7] == "异常" else "ok"}">{esc(values[7])}</span>'
        last_items, median, rate = values[4:7]
        rows.append([esc(v) for v in values[:4]] + ["—" if last_items is None else last_items,
                                                    "—" if median is None else f"{median:g}",
                                                    "—" if rate is None else f"{rate:.0%}", state, esc(values[8])])
    out.append(_table(HEALTH_HEADERS, rows, numeric={2, 4, 5, 6}, raw=set(range(9))))
    out.append("<h3>当日告警</h3>")
    out.append(_table(ALERT_HEADERS, alert_rows(report)))

    td = report.takedown
    out.append("<h2>六、处置跟踪</h2>")
    out.append(f"<p>当日发出处置通知 <b>{s['notices_sent']}</b> 条；处置期限内 <b>{s['pending']}</b> 条；"
               f"<span class=bad>逾期未处置 <b>{s['overdue']}</b> 条</span>；当日确认下线 <b>{s['removed_today']}</b> 条"
               f"（累计已下线 {s['removed_total']} 条）；<span class=bad>复查仍在线 <b>{s['still_online']}</b> 条</span>。</p>")
    for title, key, when in (("逾期未处置", "overdue", "deadline_at"), ("复查仍在线", "still_online", "last_seen"),
                             ("当日确认下线", "removed_today", "last_seen"), ("当日发出通知", "sent_today", "last_seen")):
        items = td.get(key, [])
        if not items:
            continue
        out.append(f"<h3>{title}（{len(items)} 条）</h3>")
        label = "处置期限" if when == "deadline_at" else "最近抓取"
        out.append(_table(["编号", "类别", "标题 / 网址", "站点", "状态", label],
                          [[esc(i["id"]), esc(category_names(i.get("labels") or [])),
                            link(i.get("url"), i.get("title") or i.get("url")),
                            esc(i.get("site")), esc(status_name(i.get("status"))),
                            esc(local_time(i.get(when)))] for i in items[:100]], raw=set(range(6))))
    out.append('<p class="muted">说明：时间均为北京时间；统计口径见 reports/daily.py。本报告由 reprowatch 自动生成，'
               "链接指向被监测的违法页面，请在隔离环境中打开。</p></body></html>")
    return "".join(out)
