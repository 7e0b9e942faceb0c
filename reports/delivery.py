"""Getting messages out: SMTP mail and webhook POSTs, with an outbox for what failed.

A delivery that fails after a short retry is written to ``<data>/outbox/`` as one JSON file
and tried again at the start of every later delivery (the next alert, the next mailed report)
or by ``reprowatch report outbox``. Nothing here raises into the caller: a report or an alert
must never be lost because a mail server or a chat robot is down.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

log = logging.getLogger("reprowatch.delivery")

# Two quick tries: enough for a dropped connection, short enough not to hold up a crawl
# that ends with an alert; anything longer-lived is the outbox's job.
ATTEMPTS = 2
PAUSE = 1.0
WEBHOOK_TIMEOUT = 10.0


class DeliveryError(RuntimeError):
    """One delivery attempt failed; the message says where and why."""


def outbox_dir(data: Path) -> Path:
    """The folder of pending deliveries under the data folder."""
    return Path(data) / "outbox"


# -- building and sending -----------------------------------------------------------------

def build_mail(mail, subject: str, text: str, html: str | None = None,
               attachments: list[tuple[str, bytes, str]] = ()) -> EmailMessage:
    """A mail from the configured sender to the configured recipients: plain text, an optional
    HTML alternative and attachments ``(filename, bytes, mime type)``."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="reprowatch")
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def smtp_send(mail, message: bytes, recipients: list[str]) -> None:
    """Send one raw message through the configured SMTP server; DeliveryError on failure."""
    host, port = mail.host, mail.effective_port
    # smtplib passes bytes through untouched, and a message kept as text has bare \n line ends
    # that a server reads as one endless line: SMTP wants CRLF.
    message = re.sub(rb"\r?\n", b"\r\n", message)
    try:
        if mail.security == "ssl":
            server = smtplib.SMTP_SSL(host, port, timeout=mail.timeout, context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(host, port, timeout=mail.timeout)
        with server:
            if mail.security == "starttls":
                server.starttls(context=ssl.create_default_context())
            if mail.user:
                password = mail.password()
                if password is None:
                    raise DeliveryError(f"SMTP {host}:{port}: user {mail.user} set but env "
                                        f"{mail.password_env or '(password_env)'} holds no password")
                server.login(mail.user, password)
            refused = server.sendmail(mail.sender, recipients, message)
            if refused:
                raise DeliveryError(f"SMTP {host}:{port} refused {', '.join(refused)}")
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {exc}") from None


def webhook_post(url: str, payload: dict, timeout: float = WEBHOOK_TIMEOUT) -> None:
    """POST JSON to a DingTalk/WeCom-style robot; DeliveryError unless it answers 2xx and,
    when it answers JSON with ``errcode``, errcode 0 (how those robots report a refusal)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read(65536)
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"webhook {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        parsed = json.loads(answer or b"{}")
    except ValueError:
        return
    if isinstance(parsed, dict) and parsed.get("errcode", 0) not in (0, "0"):
        raise DeliveryError(f"webhook {url}: errcode {parsed.get('errcode')} {parsed.get('errmsg', '')}")


# -- the outbox -------------------------------------------------------------------------------

def _attempt(entry: dict, config) -> None:
    """One try at one outbox entry; DeliveryError on failure."""
    if entry["channel"] == "webhook":
        webhook_post(entry["url"], entry["payload"])
    elif entry["channel"] == "mail":
        if config is None or config.mail is None:
            raise DeliveryError("mail is not configured (section mail: in evidence.yaml)")
        smtp_send(config.mail, entry["message"].encode("utf-8"), entry["recipients"])
    else:
        raise DeliveryError(f"unknown channel {entry['channel']!r}")


def _describe(entry: dict) -> str:
    return entry.get("label") or entry["channel"]


def deliver(entry: dict, config, data: Path) -> bool:
    """Deliver ``entry`` (``{"channel": "webhook", "url", "payload"}`` or ``{"channel": "mail",
    "message": str, "recipients"}``, plus an optional ``label``) now, retrying once; on failure
    keep it in the outbox. Pending entries go first. True when delivered now; never raises."""
    flush_outbox(config, data)
    error = None
    for attempt in range(ATTEMPTS):
        try:
            _attempt(entry, config)
            return True
        except DeliveryError as exc:
            error = exc
            if attempt + 1 < ATTEMPTS:
                time.sleep(PAUSE)
        except Exception as exc:  # noqa: BLE001 — a delivery bug must not take the caller down
            error = exc
            break
    log.warning("投递失败，已放入待发件箱稍后重试 (%s): %s", _describe(entry), error)
    _keep(entry, data, str(error))
    return False


def _keep(entry: dict, data: Path, error: str) -> None:
    folder = outbox_dir(data)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        record = dict(entry)
        record.setdefault("id", datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8])
        record.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        record["attempts"] = record.get("attempts", 0) + ATTEMPTS
        record["last_error"] = error
        path = folder / f"{record['id']}.json"
        tmp = path.with_suffix(".part")
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)  # atomically: a concurrent flush never reads half a file
    except OSError as exc:
        log.error("待发件箱 %s 无法写入，投递丢失 (%s): %s", folder, _describe(entry), exc)


@contextmanager
def _outbox_lock(folder: Path):
    """Hold the outbox lock, or yield False when another process is flushing it (so one
    message is never sent twice by two processes at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pending(data: Path) -> list[dict]:
    """The deliveries waiting in the outbox, oldest first."""
    folder = outbox_dir(data)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            log.error("待发件箱条目 %s 无法读取: %s", path, exc)
    return out


def flush_outbox(config, data: Path) -> tuple[int, int]:
    """Try every pending delivery once; returns (delivered, still pending). Never raises."""
    folder = outbox_dir(data)
    if not folder.is_dir() or not any(folder.glob("*.json")):
        return 0, 0
    sent = left = 0
    try:
        with _outbox_lock(folder) as locked:
            if not locked:
                return 0, len(list(folder.glob("*.json")))
            for path in sorted(folder.glob("*.json")):
                try:
                    entry = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    left += 1
                    continue
                try:
                    _attempt(entry, config)
                except Exception as exc:  # noqa: BLE001 — keep it for the next flush
                    entry["attempts"] = entry.get("attempts", 0) + 1
                    entry["last_error"] = str(exc)
                    tmp = path.with_suffix(".part")
                    tmp.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
                    os.replace(tmp, path)
                    left += 1
                    continue
                path.unlink(missing_ok=True)
                sent += 1
                log.info("待发件箱已投递: %s", _describe(entry))
    except OSError as exc:
        log.error("待发件箱 %s 无法处理: %s", folder, exc)
    return sent, left
