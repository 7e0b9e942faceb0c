"""The capturing machine as the record describes it: host, clock, software versions.

The 电子数据 rules ask a record to state the equipment and software used and how the time
was kept; these functions gather that once per process (it does not change mid-crawl, except
the clock's sync state, which is read at each capture).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import socket
import struct
import sys
from datetime import datetime, timedelta, timezone
from functools import lru_cache

BEIJING = timezone(timedelta(hours=8), "+08:00")
_TIME_STATES = {0: "TIME_OK", 1: "TIME_INS", 2: "TIME_DEL", 3: "TIME_OOP", 4: "TIME_WAIT", 5: "TIME_ERROR"}


def both_times(moment: datetime | None = None) -> dict:
    """A moment as ISO 8601 in UTC and in Beijing time (+08:00), millisecond precision."""
    moment = moment or datetime.now(timezone.utc)
    return {"utc": moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "beijing": moment.astimezone(BEIJING).isoformat(timespec="milliseconds")}


def clock_source() -> dict:
    """The kernel clocksource and the NTP discipline state (``ntp_gettime``) of this host.

    ``synchronized`` is False when the kernel says the clock is not disciplined (TIME_ERROR),
    None where that cannot be read (not Linux).
    """
    out: dict = {"clocksource": None, "synchronized": None, "ntp_state": None, "max_error_us": None,
                 "est_error_us": None}
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource", encoding="ascii") as fh:
            out["clocksource"] = fh.read().strip()
    except OSError:
        pass
    try:
        libc = _libc()
        buf = ctypes.create_string_buffer(128)  # struct ntptimeval is smaller on every ABI
        state = libc.ntp_gettime(buf)
        # struct ntptimeval: struct timeval time; long maxerror; long esterror; …
        _sec, _usec, maxerror, esterror = struct.unpack_from("4l", buf.raw, 0)
        out.update(ntp_state=_TIME_STATES.get(state, str(state)), synchronized=state != 5,
                   max_error_us=maxerror or None, est_error_us=esterror or None)
    except (OSError, AttributeError):
        pass
    return out


@lru_cache(maxsize=1)
def _libc():
    # find_library runs ldconfig/gcc in a subprocess: once per process, not once per capture.
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@lru_cache(maxsize=1)
def host() -> dict:
    """Name, OS and Python of this machine."""
    try:
        fqdn = socket.getfqdn()
    except OSError:
        fqdn = None
    return {"hostname": socket.gethostname(), "fqdn": fqdn, "os": platform.platform(),
            "machine": platform.machine(), "python": sys.version.split()[0]}


@lru_cache(maxsize=1)
def versions() -> dict:
    """Versions of reprowatch and the libraries that capture and package evidence."""
    from importlib import metadata

    from reprowatch import __version__

    out = {"reprowatch": __version__, "python": sys.version.split()[0]}
    for dist in ("scrapy", "playwright", "warcio", "twisted", "cryptography", "python-docx", "weasyprint"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out
