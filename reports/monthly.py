"""The monthly 汇总表 of the special-action plans, in their layout, as an XLSX.

Sheet 汇总表 (A4 landscape, borders, merged headers, print titles)::

    row 1   title
    row 2   区（县）/ 省: …                                   填表日期: …
    row 3-4 项目 | 技术准入机构 | 非技术准入机构 (医疗机构 其他机构 合计) | 未配备身份识别设备 |
            未经批准开展人类辅助生殖技术 | 非法采供卵、采供精 | 非法开具出生医学证明 |
            非法进行性别鉴定 | 涉嫌开展"代孕" | 查处违法违规发布相关宣传信息、广告（含互联网、APP）
    row 5-15 检查对象数 … 移送司法机关
    row 17+ 网络监测补充数据 (found / confirmed / notices / removed for every category)
    footer  填表人 · 联系方式 · 单位负责人（签字）

What the system fills (everything else is the officers' enforcement work, left empty), all
counted over the month in Asia/Shanghai time:

- 检查对象数 ← online items found: flagged items first seen in the month;
- 案件数 ← confirmed: items moved to ``confirmed`` in the month and not dismissed since;
- 责令改正数 ← takedown notices: items moved to ``notice_sent`` in the month
  (a 处置通知 orders the platform to correct);

in the category columns by DESIGN.md's mapping (an item with several labels counts in each of
its columns) and, for the 广告 column, as distinct items of every category — including
``fertility_drugs``, which has no column of its own. Removals (``removed`` in the month) have
no row in the seed table; they are in the supplementary block. Every filled cell carries a
comment saying where its number comes from, and sheet 明细 lists the items behind each number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from reports.alerts import SHANGHAI
from reports.categories import CATEGORIES, CATEGORY_IDS, category_name, category_names
from reports.daily import iter_items, moved_at, within
from reports.daily_tables import local_time, status_name
from reports.health import parse_utc, utc_iso
from reports.workbook import BORDER, CENTER, HEAD_FONT, put, table
from search.store import Query

TITLE = "打击非法应用人类辅助生殖技术专项行动汇总表"
ROWS = ["检查对象数", "案件数", "责令改正数", "警告数", "罚款户（人）次", "罚款金额（万元）", "没收违法所得（万元）",
        "责令停业整顿户数", "吊销行政许可资质", "移送相关部门", "移送司法机关"]
# Columns B..L: (top header, sub header or None). B..F are about institutions (offline work).
COLUMNS = [("技术准入机构", None), ("非技术准入机构", "医疗机构"), ("非技术准入机构", "其他机构"),
           ("非技术准入机构", "合计"), ("未配备身份识别设备", None), ("未经批准开展人类辅助生殖技术", None),
           ("非法采供卵、采供精", None), ("非法开具出生医学证明", None), ("非法进行性别鉴定", None),
           ('涉嫌开展"代孕"', None), ("查处违法违规发布相关宣传信息、广告（含互联网、APP）", None)]
AD_COLUMN = 12        # L: 查处违法违规发布相关宣传信息、广告
HEADER_TOP, FIRST_ROW = 3, 5
# measure id → (Chinese name, row label it fills or None, comment)
MEASURES = {
    "found": ("发现违法信息", "检查对象数", "本月首次发现并判定为违法的网络信息条数"),
    "confirmed": ("审核确认", "案件数", "本月经审核确认为违法的网络信息条数（其后被排除的不计）"),
    "notice_sent": ("发出处置通知", "责令改正数", "本月发出处置通知（责令删除）的网络信息条数"),
    "removed": ("确认下线", None, "本月复查确认已删除/下线的网络信息条数"),
}


def column_of(category: str) -> int | None:
    """The 汇总表 column (1-based) of a category, or None (fertility_drugs)."""
    name = CATEGORIES.get(category, (None, None))[1]
    for k, (top, _) in enumerate(COLUMNS, start=2):
        if top == name:
            return k
    return None


@dataclass
class MonthlyData:
    """The month's items behind every number: measure → list of items."""

    year: int
    month: int
    start: str
    end: str
    items: dict[str, list[dict]] = field(default_factory=dict)

    def count(self, measure: str, category: str | None = None) -> int:
        """Items of a measure (of one category, or all distinct items)."""
        found = self.items.get(measure, [])
        if category is None:
            return len(found)
        return sum(1 for i in found if category in (i.get("labels") or []))

    def summary(self) -> dict:
        """Counts per measure and category, for ``--json``."""
        return {"month": f"{self.year:04d}-{self.month:02d}",
                **{m: {"total": self.count(m), **{c: self.count(m, c) for c in CATEGORY_IDS}} for m in MEASURES}}


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The Asia/Shanghai calendar month as aware UTC datetimes [start, end)."""
    start = datetime.combine(date(year, month, 1), time(0), SHANGHAI)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return start.astimezone(timezone.utc), datetime.combine(nxt, time(0), SHANGHAI).astimezone(timezone.utc)


def build_monthly(store, year: int, month: int) -> MonthlyData:
    """Collect the month's items for each measure from the store."""
    start, end = month_bounds(year, month)
    data = MonthlyData(year, month, utc_iso(start), utc_iso(end), {m: [] for m in MEASURES})
    for item in iter_items(store, Query(since=utc_iso(start), sort="time")):
        if within(item.get("first_seen"), start, end):
            data.items["found"].append(dict(item, event_at=item.get("first_seen")))
    reviewed: dict[str, dict] = {}
    for status in ("confirmed", "notice_sent", "removed", "still_online"):
        for item in iter_items(store, Query(status=status, include_all=True, sort="time")):
            reviewed[item["id"]] = item
    for item in sorted(reviewed.values(), key=lambda i: i["id"]):
        for measure in ("confirmed", "notice_sent", "removed"):
            at = moved_at(item, measure, start, end)
            if at and not (measure == "removed" and item.get("status") != "removed"):
                data.items[measure].append(dict(item, event_at=at))
    for found in data.items.values():
        found.sort(key=lambda i: (parse_utc(i.get("event_at")) or month_bounds(year, month)[0], i["id"]))
    return data


def write_monthly_xlsx(data: MonthlyData, path, config, filled_on: date | None = None) -> None:
    """Write the 汇总表 and its 明细 sheet to ``path``."""
    table_cfg = config.summary_table
    filled_on = filled_on or datetime.now(SHANGHAI).date()
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总表"
    last_col = AD_COLUMN
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=last_col)
    put(ws, 1, 1, f"{TITLE}（{data.year}年{data.month}月）", font=Font(name="黑体", size=16, bold=True),
        align=CENTER, border=False)
    ws.row_dimensions[1].height = 30
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=7)
    put(ws, 2, 1, f"区（县）/ 省：{table_cfg.region} / {table_cfg.province}", border=False,
        align=Alignment(vertical="center"))
    ws.merge_cells(start_row=2, start_column=8, end_row=2, end_column=last_col)
    put(ws, 2, 8, f"填表日期：{filled_on.year}年{filled_on.month}月{filled_on.day}日", border=False,
        align=Alignment(horizontal="right", vertical="center"))

    # Header: row 3 the column groups, row 4 the sub-columns of 非技术准入机构.
    top, sub = HEADER_TOP, HEADER_TOP + 1
    ws.merge_cells(start_row=top, start_column=1, end_row=sub, end_column=1)
    put(ws, top, 1, "项目", font=HEAD_FONT, align=CENTER)
    k = 2
    while k <= last_col:
        name, child = COLUMNS[k - 2]
        if child is None:
            ws.merge_cells(start_row=top, start_column=k, end_row=sub, end_column=k)
            put(ws, top, k, name, font=HEAD_FONT, align=CENTER)
            k += 1
            continue
        span = [j for j in range(k, last_col + 1) if COLUMNS[j - 2][0] == name]
        ws.merge_cells(start_row=top, start_column=span[0], end_row=top, end_column=span[-1])
        put(ws, top, span[0], name, font=HEAD_FONT, align=CENTER)
        for j in span:
            put(ws, sub, j, COLUMNS[j - 2][1], font=HEAD_FONT, align=CENTER)
        k = span[-1] + 1
    for r in (top, sub):  # merged cells keep their borders only when every cell has one
        for c in range(1, last_col + 1):
            ws.cell(row=r, column=c).border = BORDER
    ws.row_dimensions[top].height = 48
    ws.row_dimensions[sub].height = 30

    rows = {label: FIRST_ROW + n for n, label in enumerate(ROWS)}
    for label, r in rows.items():
        put(ws, r, 1, label, font=HEAD_FONT, align=CENTER)
        for c in range(2, last_col + 1):
            put(ws, r, c, None, align=CENTER)
        ws.row_dimensions[r].height = 22
    for measure, (name, row_label, note) in MEASURES.items():
        if row_label is None:
            continue
        r = rows[row_label]
        for category in CATEGORY_IDS:
            c = column_of(category)
            if c is not None:
                cell = put(ws, r, c, data.count(measure, category), align=CENTER)
                cell.comment = Comment(f"系统自动填写：{note}（{category_name(category)}）；明细见“明细”表", "reprowatch")
        cell = put(ws, r, AD_COLUMN, data.count(measure), align=CENTER)
        cell.comment = Comment(f"系统自动填写：{note}（全部类别，含非法销售辅助生殖药品器械，每条只计一次）；"
                               "明细见“明细”表", "reprowatch")

    # Supplementary block: what online monitoring measured, every category, with removals.
    r = FIRST_ROW + len(ROWS) + 1
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=last_col)
    put(ws, r, 1, "网络监测补充数据（系统自动统计；按类别计数时一条信息可计入多个类别，合计每条只计一次）",
        font=HEAD_FONT, border=False, align=Alignment(vertical="center"))
    r += 1
    headers = ["统计项"] + [category_name(c) for c in CATEGORY_IDS] + ["合计（条）"]
    for c, h in enumerate(headers, start=1):
        put(ws, r, c, h, font=HEAD_FONT, align=CENTER)
    for measure, (name, _, _) in MEASURES.items():
        r += 1
        put(ws, r, 1, name, font=HEAD_FONT, align=CENTER)
        for c, category in enumerate(CATEGORY_IDS, start=2):
            put(ws, r, c, data.count(measure, category), align=CENTER)
        put(ws, r, len(CATEGORY_IDS) + 2, data.count(measure), align=CENTER)

    r += 2
    contact = table_cfg.phone or config.contact.phone
    put(ws, r, 1, f"填表人：{table_cfg.filler}", border=False, align=Alignment(vertical="center"))
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=3)
    put(ws, r, 5, f"联系方式：{contact}", border=False, align=Alignment(vertical="center"))
    ws.merge_cells(start_row=r, start_column=5, end_row=r, end_column=8)
    put(ws, r, 9, "单位负责人（签字）：", border=False, align=Alignment(vertical="center"))
    ws.merge_cells(start_row=r, start_column=9, end_row=r, end_column=last_col)
    ws.row_dimensions[r].height = 28
    put(ws, r + 1, 1, "注：检查对象数、案件数、责令改正数中带批注的单元格由系统按网络监测数据自动填写（批注写明口径），"
                      "其余执法数据由承办人员填写。", font=Font(name="宋体", size=9), border=False,
        align=Alignment(vertical="center"))
    ws.merge_cells(start_row=r + 1, start_column=1, end_row=r + 1, end_column=last_col)

    ws.column_dimensions["A"].width = 20
    for c in range(2, last_col + 1):
        ws.column_dimensions[get_column_letter(c)].width = 11
    ws.column_dimensions[get_column_letter(AD_COLUMN)].width = 20
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.print_title_rows = f"{HEADER_TOP}:{HEADER_TOP + 1}"
    ws.print_area = f"A1:{get_column_letter(last_col)}{r + 1}"
    ws.page_margins.left = ws.page_margins.right = 0.4

    ds = wb.create_sheet("明细")
    rows_out = []
    for measure, (name, row_label, _) in MEASURES.items():
        for item in data.items[measure]:
            for category in item.get("labels") or []:
                col = column_of(category)
                column_name = COLUMNS[col - 2][0] if col else "（无对应列，计入广告列合计）"
                rows_out.append([name, row_label or "（补充数据）", category_name(category), column_name, item["id"],
                                 item.get("title") or item.get("url"), item.get("url"), item.get("site"),
                                 local_time(item.get("first_seen")), local_time(item.get("event_at")),
                                 status_name(item.get("status")),
                                 category_names(item.get("labels") or [])])
    table(ds, 1, ["统计项", "汇总表行", "类别", "汇总表列", "编号", "标题", "网址", "站点", "首次发现", "统计时间",
                  "当前状态", "全部类别"], rows_out,
          widths=[14, 14, 22, 26, 18, 40, 40, 18, 17, 17, 12, 30], links={6: 7, 7: 7})
    ds.freeze_panes = "A2"
    ds.auto_filter.ref = f"A1:L{len(rows_out) + 1}"
    ds.page_setup.orientation = "landscape"
    ds.page_setup.paperSize = ds.PAPERSIZE_A4
    ds.print_title_rows = "1:1"
    wb.save(path)

