"""The daily report as a workbook (``日报-YYYY-MM-DD.xlsx``): 概况, 采集运行, 新增违法信息 (with
links), 类别×站点, 采集健康, 处置跟踪. Same figures as the HTML (both render one DailyReport)."""

from __future__ import annotations

from openpyxl import Workbook

from reports.categories import CATEGORY_IDS, category_name, category_names
from reports.daily import DailyReport
from reports.daily_tables import (ALERT_HEADERS, HEALTH_HEADERS, RUN_HEADERS, alert_rows, category_site_table,
                                  contacts_text, health_rows, local_time, run_rows, status_name, trend_table)
from reports.workbook import HEAD_FONT, put, table

SUMMARY_ROWS = [
    ("抓取运行（次）", "runs"), ("抓取页面", "pages"), ("采集条目", "items"), ("新入库条目", "new_items"),
    ("抓取错误", "errors"), ("新增违法信息（条）", "new_flagged"), ("跨站重复联系方式", "repeat_contacts"),
    ("采集异常来源", "unhealthy_sources"), ("告警", "alerts"), ("当日发出处置通知", "notices_sent"),
    ("处置期限内", "pending"), ("逾期未处置", "overdue"), ("当日确认下线", "removed_today"),
    ("累计已下线", "removed_total"), ("复查仍在线", "still_online"),
]


def write_daily_xlsx(report: DailyReport, path, office: str = "") -> None:
    """Write the workbook to ``path``."""
    s = report.summary()
    wb = Workbook()
    ws = wb.active
    ws.title = "概况"
    put(ws, 1, 1, f"违法辅助生殖广告监测日报 {report.day.isoformat()}", font=HEAD_FONT, border=False)
    put(ws, 2, 1, f"{office + ' · ' if office else ''}北京时间 00:00–24:00 · 生成于 {local_time(report.generated)}",
        border=False)
    row = table(ws, 4, ["项目", "数值"], [[label, s[key]] for label, key in SUMMARY_ROWS], widths=[24, 14])
    row = table(ws, row + 1, ["类别", "新增违法信息（条）"],
                [[category_name(c), report.by_category.get(c, 0)] for c in CATEGORY_IDS])
    table(ws, row + 1, *trend_table(report.trend))

    ws = wb.create_sheet("采集运行")
    table(ws, 1, RUN_HEADERS, run_rows(report), widths=[22, 18, 10, 8, 8, 8, 8, 8, 8, 10, 24])

    ws = wb.create_sheet("新增违法信息")
    table(ws, 1, ["序号", "编号", "类别", "得分", "标题", "网址", "站点", "来源", "联系方式", "首次发现", "状态"],
          [[k + 1, i["id"], category_names(i.get("labels") or []), round(i.get("score") or 0, 3),
            i.get("title") or i.get("url"), i.get("url"), i.get("site"), i.get("source"), contacts_text(i),
            local_time(i.get("first_seen")), status_name(i.get("status"))]
           for k, i in enumerate(report.new_items)],
          widths=[6, 18, 22, 7, 40, 40, 18, 18, 30, 17, 12], links={5: 6, 6: 6})
    ws.freeze_panes = "A2"

    ws = wb.create_sheet("类别×站点")
    headers, rows = category_site_table(report)
    table(ws, 1, headers, rows, widths=[26] + [18] * (len(headers) - 1))

    ws = wb.create_sheet("采集健康")
    rows = [values[:6] + [None if values[6] is None else round(values[6], 3)] + values[7:]
            for values in health_rows(report)]
    row = table(ws, 1, HEALTH_HEADERS, rows, widths=[22, 14, 9, 17, 10, 10, 10, 8, 60])
    table(ws, row + 1, ALERT_HEADERS, alert_rows(report))

    ws = wb.create_sheet("处置跟踪")
    td = report.takedown
    row = table(ws, 1, ["项目", "数值"], [[label, s[key]] for label, key in SUMMARY_ROWS[9:]], widths=[20, 20])
    rows = []
    for title, key in (("逾期未处置", "overdue"), ("处置期限内", "pending"), ("复查仍在线", "still_online"),
                       ("当日确认下线", "removed_today"), ("当日发出通知", "sent_today")):
        for i in td.get(key, []):
            rows.append([title, i["id"], category_names(i.get("labels") or []), i.get("title") or i.get("url"),
                         i.get("url"), i.get("site"), status_name(i.get("status")),
                         local_time(i.get("deadline_at")) if i.get("deadline_at") else ""])
    table(ws, row + 1, ["分组", "编号", "类别", "标题", "网址", "站点", "状态", "处置期限"], rows,
          widths=[20, 18, 22, 40, 40, 18, 12, 17], links={4: 5, 5: 5})
    for sheet in wb.worksheets:
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    wb.save(path)
