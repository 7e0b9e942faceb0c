"""Charts as inline SVG: no image files, no external fonts or scripts, so the report stays one
self-contained HTML file; text is drawn by the reader's own CJK fonts and every label is escaped."""

from __future__ import annotations

from html import escape

FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"


def _nice_max(value: float) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10^k)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def hbars(rows: list[tuple[str, int, str]], *, width: int = 520, title: str = "") -> str:
    """Horizontal bars, one per ``(label, value, colour)``, value written at the bar's end."""
    bar, gap, left, top = 22, 8, 170, 30 if title else 8
    height = top + len(rows) * (bar + gap) + 8
    top_value = max([v for _, v, _ in rows] + [1])
    span = width - left - 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" font-family="{FONT}" font-size="13">']
    if title:
        parts.append(f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>')
    for k, (label, value, colour) in enumerate(rows):
        y = top + k * (bar + gap)
        w = 0 if not value else max(2, round(span * value / top_value))
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
                     f'<rect x="{left}" y="{y}" width="{w}" height="{bar}" fill="{escape(colour)}"/>'
                     f'<text x="{left + w + 6}" y="{y + 16}">{value}</text>')
    if not rows:
        parts.append(f'<text x="0" y="{top + 14}" fill="#666">（无数据）</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_columns(days: list[dict], keys: list[str], names: dict[str, str], colours: dict[str, str], *,
                    width: int = 760, height: int = 240, title: str = "") -> str:
    """One column per day (``{"day": "YYYY-MM-DD", key: n, "total": n}``), stacked by ``keys``,
    with a y axis, the day's ``total`` written above each column and a legend.

    The stack may be taller than ``total`` (an item with two labels counts in two segments), so
    the axis follows the stack and the number on top is the day's total of items."""
    legend = _legend(keys, names, colours, width)
    left, right, top, bottom = 40, 10, 34 if title else 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max([sum(d.get(k, 0) for k in keys) for d in days] + [0]))
    slot = plot_w / max(1, len(days))
    col = max(4.0, slot * 0.7)
    full = height + 18 * len(legend)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{full}" '
             f'viewBox="0 0 {width} {full}" role="img" font-family="{FONT}" font-size="11">']
    if title:
        parts.append(f'<text x="0" y="18" font-size="14" font-weight="bold">{escape(title)}</text>')
    for k in range(5):  # horizontal grid lines with their values
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{value:g}</text>')
    label_every = 1 if len(days) <= 10 else 5
    for k, d in enumerate(days):
        x = left + k * slot + (slot - col) / 2
        y = top + plot_h
        for key in keys:
            n = d.get(key, 0)
            if n:
                h = plot_h * n / top_value
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{col:.1f}" height="{h:.1f}" '
                             f'fill="{colours[key]}"><title>{escape(d["day"])} {escape(names[key])} {n}</title></rect>')
        if d.get("total"):
            parts.append(f'<text x="{x + col / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{d["total"]}</text>')
        if k % label_every == 0 or k == len(days) - 1:
            parts.append(f'<text x="{x + col / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" fill="#333">'
                         f'{escape(d["day"][5:])}</text>')
    for line, entries in enumerate(legend):
        for x, key in entries:
            y = height + 4 + 18 * line
            parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colours[key]}"/>'
                         f'<text x="{x + 14}" y="{y + 9}">{escape(names[key])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(keys: list[str], names: dict[str, str], colours: dict[str, str], width: int) -> list[list[tuple[int, str]]]:
    """Legend entries laid out in lines that fit ``width``: [[(x, key), …], …]."""
    lines: list[list[tuple[int, str]]] = [[]]
    x = 40
    for key in keys:
        size = 24 + 12 * len(names[key])
        if lines[-1] and x + size > width:
            lines.append([])
            x = 40
        lines[-1].append((x, key))
        x += size
    return lines
