"""Alerts: recorded for the daily report and sent at once to the webhook and/or by mail.

Where alerts are kept: ``<data>/alerts.jsonl``, one JSON line per alert, appended. Not in the
store, because (1) both store backends then work without a new table/index or a change to
the Store interface that the web UI and the scheduler also build on, (2) an alert about the
store itself being unreachable must still be recorded, and (3) an append of one short line
with O_APPEND is atomic between the processes that raise alerts at once (one crawl
subprocess per source, the scheduler's recheck). Alerts are events of this installation, like
``logs/`` and ``outbox/`` beside them; the daily report reads them from the same data folder.

Used by the crawl command (health checks after every run), the daily report (sources not run
when due) and the scheduler (failed or timed-out crawl subprocesses, items still online)::

    from reports.alerts import send_alert
    send_alert("crawl_failed", "抓取进程异常退出 (exit 1)", source="demo-forum")
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from reports import delivery

log = logging.getLogger("reprowatch.alerts")
ALERTS_FILE = "alerts.jsonl"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Chinese names of the alert kinds raised by this project; any other kind is shown as given.
KIND_NAMES = {
    "zero_items": "零条目",
    "error_rate": "错误率过高",
    "layout_change": "条目数骤降（疑似页面改版）",
    "robots_blocked": "robots.txt 拦截",
    "not_run_when_due": "未按时运行",
    "crawl_failed": "抓取失败",
    "crawl_timeout": "抓取超时",
    "still_online": "处置后仍在线",
    "job_failed": "定时作业失败",
}


def kind_name(kind: str) -> str:
    """The Chinese name of an alert kind."""
    return KIND_NAMES.get(kind, kind)


def _data_dir() -> Path:
    from reprowatch.paths import data_dir

    return data_dir()


def _config(config):
    """The office config in force; None (alerts recorded, nothing sent) when it cannot be read."""
    if config is not None and not isinstance(config, (str, Path)):
        return config
    from evidence.config import ConfigError, load_config

    try:
        return load_config(str(config) if config else None, _data_dir())
    except ConfigError as exc:
        log.error("告警配置无法读取，告警只记录不发送: %s", exc)
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def alert_text(record: dict) -> str:
    """The alert as one chat/mail text."""
    at = datetime.fromisoformat(record["at"].replace("Z", "+00:00")).astimezone(SHANGHAI)
    lines = [f"【reprowatch 告警】{kind_name(record['kind'])}"]
    if record.get("source"):
        lines.append(f"来源: {record['source']}")
    lines.append(record["message"])
    if record.get("items"):
        shown = record["items"][:20]
        more = len(record["items"]) - len(shown)
        lines.append("条目: " + ", ".join(shown) + (f" 等 {len(record['items'])} 条" if more > 0 else ""))
    lines.append(f"时间: {at:%Y-%m-%d %H:%M} (北京时间)")
    return "\n".join(lines)


def record_alert(record: dict, data: Path | None = None) -> None:
    """Append one alert record to ``<data>/alerts.jsonl`` (logged, never raised, on failure)."""
    path = Path(data or _data_dir()) / ALERTS_FILE
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError as exc:
        log.error("告警无法记录到 %s: %s", path, exc)


def read_alerts(since: str | None = None, until: str | None = None, data: Path | None = None) -> list[dict]:
    """Recorded alerts with ``since <= at < until`` (UTC ISO strings), oldest first."""
    path = Path(data or _data_dir()) / ALERTS_FILE
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by a full disk; the others are still good
        at = record.get("at", "")
        if (since is None or at >= since) and (until is None or at < until):
            out.append(record)
    return out


def send_alert(kind: str, message: str, *, source: str | None = None, items: list[str] = (),
               config=None) -> None:
    """Record an alert for the daily report and send it now to the configured webhook and/or mail.

    ``config``: an ``EvidenceConfig``, a path to the office config, or None for the usual lookup
    (``$REPROWATCH_EVIDENCE_CONFIG``, ``./evidence.yaml``, ``<data>/evidence.yaml``). Delivery
    failures are logged and kept in the outbox for the next send; nothing is raised.
    """
    try:
        data = _data_dir()
        cfg = _config(config)
        record = {"at": _now(), "kind": kind, "source": source, "message": message, "items": list(items)}
        channels = []
        if cfg is not None and cfg.alerts.webhook:
            channels.append("webhook")
        if cfg is not None and cfg.alerts.mail and cfg.mail is not None:
            channels.append("mail")
        record["channels"] = channels
        record_alert(record, data)
        text = alert_text(record)
        if "webhook" in channels:
            delivery.deliver({"channel": "webhook", "url": cfg.alerts.webhook, "label": f"告警 {kind}",
                              "payload": {"msgtype": "text", "text": {"content": text}}}, cfg, data)
        if "mail" in channels:
            subject = f"[reprowatch 告警] {kind_name(kind)}" + (f" {source}" if source else "")
            msg = delivery.build_mail(cfg.mail, subject, text)
            delivery.deliver({"channel": "mail", "message": msg.as_string(), "recipients": list(cfg.mail.to),
                              "label": f"告警邮件 {kind}"}, cfg, data)
    except Exception:  # noqa: BLE001 — an alert must never break the crawl or job that raised it
        log.exception("告警处理失败: %s %s", kind, message)
