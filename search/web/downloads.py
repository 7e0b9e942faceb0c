"""What officers download: the result list as CSV or XLSX, and evidence packages (made by the
same ``evidence.package.export`` that `reprowatch export` runs)."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from .present import BEIJING, STATUS_NAMES, beijing, category, safe_cell
from .state import client_ip, ctx

EXPORT_ROWS = 5000        # rows in a CSV/XLSX result list; more is a job for the CLI
MAX_PACKAGE_ITEMS = 500   # items in one evidence package from the web
COLUMNS = (("id", "编号"), ("title", "标题"), ("url", "网址"), ("labels", "类别"), ("score", "得分"),
           ("status", "状态"), ("site", "站点"), ("source", "来源"), ("first_seen", "首次发现（北京时间）"),
           ("last_seen", "最近发现（北京时间）"), ("contacts", "联系方式"), ("highlight", "摘要"))


def _row(item: dict) -> list[str]:
    contacts = item.get("contacts") or {}
    values = {
        "labels": "、".join(category(c) for c in item.get("labels") or []),
        "score": f"{item.get('score', 0):.2f}",
        "status": STATUS_NAMES.get(item.get("status"), item.get("status")),
        "first_seen": beijing(item.get("first_seen"), seconds=True),
        "last_seen": beijing(item.get("last_seen"), seconds=True),
        "contacts": "；".join(f"{k}: {', '.join(map(str, v))}" for k, v in contacts.items() if v),
    }
    return [safe_cell(values.get(name, item.get(name, ""))) for name, _ in COLUMNS]


def result_csv(items: list[dict]) -> bytes:
    """The result list as CSV, UTF-8 with a BOM so that Excel on Chinese Windows reads it right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in COLUMNS])
    for item in items:
        writer.writerow(_row(item))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def result_xlsx(items: list[dict]) -> bytes:
    """The result list as an XLSX workbook (one sheet, every cell a string)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("检索结果")
    sheet.append([title for _, title in COLUMNS])
    for item in items:
        sheet.append(_row(item))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def download_name(stem: str, ext: str) -> str:
    """``stem-YYYYmmdd-HHMMSS.ext`` in Beijing time."""
    return f"{stem}-{datetime.now(BEIJING):%Y%m%d-%H%M%S}.{ext}"


def evidence_package(request: Request, ids: list[str], operators: list[str], case: str | None,
                     pdf: bool = True) -> FileResponse:
    """The evidence package of ``ids`` as a download; 404 naming unknown ids, 422 for other
    reasons an export cannot be made (no capture, fewer than two operators, …)."""
    from evidence.config import ConfigError, load_config
    from evidence.package import ExportError, export

    c = ctx(request)
    ids = list(dict.fromkeys(i.strip() for i in ids if i and i.strip()))
    if not ids:
        raise HTTPException(422, "请至少选择一条")
    if len(ids) > MAX_PACKAGE_ITEMS:
        raise HTTPException(422, f"一次最多导出 {MAX_PACKAGE_ITEMS} 条")
    missing = [i for i in ids if c.store.get(i) is None]
    if missing:
        raise HTTPException(404, f"没有这些条目：{', '.join(missing)}")
    try:
        config = load_config(None, c.data)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    operators = [o.strip() for o in operators if o and o.strip()] or list(config.operators)
    folder = Path(tempfile.mkdtemp(prefix="rw-export-", dir=c.data))
    out = folder / download_name("证据包", "zip")
    user = request.state.user.name
    try:
        export(c.store, ids, out, data=c.data, config=config, case=case or None, operators=operators, pdf=pdf,
               actor=user, audit={"ip": client_ip(request), "target": ",".join(ids)[:500], "via": "web"})
    except ExportError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(422, f"无法导出：{exc}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(out, media_type="application/zip", filename=out.name,
                        background=BackgroundTask(shutil.rmtree, folder, True))
