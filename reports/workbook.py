"""What the daily XLSX and the monthly 汇总表 share: writing untrusted values safely, styles.

Crawled text is hostile: a title starting with ``=`` would become a formula in Excel/WPS (a
formula-injection hole), and control characters make openpyxl refuse the whole file. Every
value goes through :func:`put`.
"""

from __future__ import annotations

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from reports.daily_tables import safe_url

THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="EDEDED")
HEAD_FONT = Font(name="宋体", bold=True, size=11)
BODY_FONT = Font(name="宋体", size=11)
LINK_FONT = Font(name="宋体", size=11, color="0563C1", underline="single")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP = Alignment(vertical="top", wrap_text=True)
# Excel's limit for one cell; longer crawled text is cut rather than making the file invalid.
MAX_CELL = 32767


def clean(value):
    """A value openpyxl can store as plain data: strings without control characters, cut to
    Excel's cell limit; numbers and None as they are."""
    if value is None or isinstance(value, (int, float)):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return text[:MAX_CELL]


def put(ws, row: int, column: int, value, *, font=BODY_FONT, align=WRAP, border=True, link: str | None = None):
    """Write one cell as data (never a formula), styled; ``link``: an http(s) hyperlink."""
    cell = ws.cell(row=row, column=column)
    cell.value = clean(value)
    if isinstance(cell.value, str):
        cell.data_type = "s"  # "=HYPERLINK(…)" from a crawled title stays text
    cell.font = font
    cell.alignment = align
    if border:
        cell.border = BORDER
    if link:
        cell.hyperlink = link
        cell.font = LINK_FONT
    return cell


def header_row(ws, row: int, headers: list[str], widths: list[float] | None = None) -> None:
    """A bold, shaded, bordered header row (and column widths)."""
    for k, title in enumerate(headers, start=1):
        put(ws, row, k, title, font=HEAD_FONT, align=CENTER).fill = HEAD_FILL
    for k, width in enumerate(widths or [], start=1):
        ws.column_dimensions[get_column_letter(k)].width = width


def table(ws, top: int, headers: list[str], rows: list[list], widths: list[float] | None = None,
          links: dict[int, int] | None = None) -> int:
    """A header and rows from ``top``; ``links`` maps a column to the column holding its URL
    (that URL column is then written as plain text too). Returns the next free row."""
    header_row(ws, top, headers, widths)
    for r, values in enumerate(rows, start=top + 1):
        for c, value in enumerate(values, start=1):
            url = None
            if links and c in links:
                url = safe_url(values[links[c] - 1])
            put(ws, r, c, value, link=url)
    return top + len(rows) + 1
