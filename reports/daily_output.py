"""Writing the daily report's two files and mailing them.

The files are always written first (atomically: a half-written report never has the final
name); mailing comes after and can only fail into the outbox (``delivery.py``), so a mail
server that is down never costs the report.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reports import delivery
from reports.daily import DailyReport
from reports.daily_html import render_daily_html
from reports.daily_xlsx import write_daily_xlsx

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class DailyFiles:
    """Where the report went."""

    html: Path
    xlsx: Path


def daily_names(report: DailyReport) -> tuple[str, str]:
    """The report's file names: 日报-YYYY-MM-DD.html and .xlsx."""
    stem = f"日报-{report.day.isoformat()}"
    return f"{stem}.html", f"{stem}.xlsx"


def atomic_write(path: Path, write) -> None:
    """Run ``write(tmp_path)`` and move the result to ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=path.suffix + ".part")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the report from the web UI's user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_daily(report: DailyReport, out_dir: Path, office: str = "") -> DailyFiles:
    """Write ``日报-YYYY-MM-DD.html`` and ``.xlsx`` into ``out_dir`` (created if needed);
    OSError when the folder cannot be written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_name, xlsx_name = daily_names(report)
    html_path, xlsx_path = out_dir / html_name, out_dir / xlsx_name
    page = render_daily_html(report, office)
    atomic_write(html_path, lambda p: p.write_text(page, encoding="utf-8"))
    atomic_write(xlsx_path, lambda p: write_daily_xlsx(report, p, office))
    return DailyFiles(html_path, xlsx_path)


def mail_text(report: DailyReport) -> str:
    """The plain-text part of the report mail (for clients that show no HTML)."""
    s = report.summary()
    lines = [f"违法辅助生殖广告监测日报 {s['date']}", "",
             f"抓取运行 {s['runs']} 次，页面 {s['pages']}，条目 {s['items']}，错误 {s['errors']}",
             f"新增违法信息 {s['new_flagged']} 条；跨站重复联系方式 {s['repeat_contacts']} 个",
             f"采集异常来源 {s['unhealthy_sources']} 个，告警 {s['alerts']} 条",
             f"处置跟踪：当日发出通知 {s['notices_sent']}，逾期未处置 {s['overdue']}，"
             f"当日确认下线 {s['removed_today']}，复查仍在线 {s['still_online']}",
             "", "完整报告见附件（HTML 与 XLSX）。"]
    return "\n".join(lines)


def mail_daily(report: DailyReport, files: DailyFiles, config, data: Path) -> bool:
    """Mail the report (HTML body, both files attached) to ``mail.to``; True when sent now,
    False when it waits in the outbox. ValueError when mail is not configured."""
    if config.mail is None:
        raise ValueError("邮件未配置：请在 evidence.yaml 中添加 mail: 段（host, from, to …）")
    s = report.summary()
    subject = f"违法辅助生殖广告监测日报 {s['date']}：新增违法信息 {s['new_flagged']} 条"
    if s["alerts"] or s["overdue"]:
        subject += f"，告警 {s['alerts']} 条，逾期 {s['overdue']} 条"
    html = files.html.read_text(encoding="utf-8")
    msg = delivery.build_mail(config.mail, subject, mail_text(report), html,
                              [(files.html.name, files.html.read_bytes(), "text/html"),
                               (files.xlsx.name, files.xlsx.read_bytes(), XLSX_MIME)])
    return delivery.deliver({"channel": "mail", "message": msg.as_string(), "recipients": list(config.mail.to),
                             "label": f"日报邮件 {s['date']}"}, config, data)
