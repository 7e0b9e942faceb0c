"""One capture as a WARC 1.1 file (warcio): warcinfo, request and response records of each
HTTP exchange, and the DOMs Chromium rendered as ``resource`` records.

The crawler hands over bodies with their content and transfer encodings already removed, so the
response records say so: ``Content-Encoding`` and ``Transfer-Encoding`` are dropped and
``Content-Length`` is set to the body stored (the original values are kept as
``X-Reprowatch-Original-*`` headers). That is what warcio and replay tools require of a record
whose payload is not the bytes on the wire.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

_STRIPPED = ("content-encoding", "transfer-encoding")


@dataclass
class Exchange:
    """One HTTP request and its response, as the capture recorded them."""

    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    method: str = "GET"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    ip: str | None = None
    protocol: str | None = None


def _text(value: str) -> str:
    """A header value handed over as latin-1 text of its bytes, as the UTF-8 text it usually is;
    warcio then %-encodes it as UTF-8, which gives back the bytes sent."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _response_headers(exchange: Exchange) -> StatusAndHeaders:
    headers: list[tuple[str, str]] = []
    for name, value in exchange.headers:
        low = name.lower()
        if low in _STRIPPED:
            headers.append((f"X-Reprowatch-Original-{name}", value))
        elif low == "content-length":
            if value.strip() != str(len(exchange.body)):
                headers.append(("X-Reprowatch-Original-Content-Length", value))
        else:
            headers.append((name, _text(value)))
    headers.append(("Content-Length", str(len(exchange.body))))
    protocol = "HTTP/2" if (exchange.protocol or "").lower().startswith("h2") else "HTTP/1.1"
    return StatusAndHeaders(f"{exchange.status} {_reason(exchange.status)}".strip(), headers, protocol=protocol)


def _request_headers(exchange: Exchange) -> StatusAndHeaders:
    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [(k, _text(v)) for k, v in exchange.request_headers]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return StatusAndHeaders(f"{exchange.method} {target} HTTP/1.1", headers, is_http_request=True)


def write_warc(fh, exchanges: list[Exchange], resources: list[tuple[str, bytes]], info: dict,
               filename: str = "capture.warc.gz") -> list[str]:
    """Write a gzipped WARC of ``exchanges`` and ``resources`` ((URI, HTML bytes): the DOMs) to
    the binary file ``fh``; returns the record ids written."""
    writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
    ids = []
    record = writer.create_warcinfo_record(filename, info)
    writer.write_record(record)
    ids.append(record.rec_headers.get_header("WARC-Record-ID"))
    for exchange in exchanges:
        warc_headers = {}
        if exchange.ip:
            warc_headers["WARC-IP-Address"] = exchange.ip
        response = writer.create_warc_record(exchange.url, "response", payload=io.BytesIO(exchange.body),
                                             length=len(exchange.body), http_headers=_response_headers(exchange),
                                             warc_headers_dict=warc_headers)
        request = writer.create_warc_record(exchange.url, "request", payload=io.BytesIO(b""), length=0,
                                            http_headers=_request_headers(exchange),
                                            warc_headers_dict={"WARC-Concurrent-To":
                                                               response.rec_headers.get_header("WARC-Record-ID")})
        writer.write_record(request)
        writer.write_record(response)
        ids += [request.rec_headers.get_header("WARC-Record-ID"), response.rec_headers.get_header("WARC-Record-ID")]
    for uri, dom in resources:
        # Resource records of their own URIs (urn:rendered-dom:<url>), so replay tools never serve
        # a DOM in place of the page's real response (the urn:…:<url> form Browsertrix uses).
        record = writer.create_warc_record(uri, "resource", payload=io.BytesIO(dom),
                                           length=len(dom), warc_content_type="text/html; charset=utf-8")
        writer.write_record(record)
        ids.append(record.rec_headers.get_header("WARC-Record-ID"))
    return ids
