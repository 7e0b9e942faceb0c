"""Requests, responses and a tiny regex router: what a demo site's handlers take and return.

Handlers are plain functions of ``(request, match)`` that return a :class:`Response`; the
server turns it into bytes on the wire. Keeping the HTTP plumbing out of the site modules
lets each site read like a description of its pages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request as a site handler sees it."""

    method: str
    target: str  # raw request target as sent: path plus "?query"
    path: str  # path part, still percent-encoded (routes match on what was sent)
    query: dict[str, list[str]]  # decoded as UTF-8; undecodable bytes become U+FFFD
    headers: Mapping[str, str]  # case-insensitive (an email.message.Message)

    @classmethod
    def parse(cls, method: str, target: str, headers: Mapping[str, str]) -> "Request":
        """Split a request target into path and UTF-8 decoded query parameters."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True, encoding="utf-8", errors="replace")
        return cls(method, target, parts.path or "/", query, headers)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str, default: int) -> int | None:
        """Query parameter ``name`` as a positive int; ``default`` when absent, None when bad."""
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        return int(raw) if raw.isdigit() and int(raw) > 0 else None


@dataclass
class Response:
    """What a handler answers; ``delay`` seconds pass before the status line is sent."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def html_response(text: str, status: int = 200, *, encoding: str = "utf-8",
                  content_type: str | None = None) -> Response:
    """An HTML page encoded as ``encoding``; ``content_type`` overrides the header verbatim."""
    header = content_type or f"text/html; charset={encoding}"
    return Response(status, text.encode(encoding), header)


def json_response(obj: object, status: int = 200) -> Response:
    """A JSON document, UTF-8, with Chinese left readable (as app backends send it)."""
    body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body, "application/json; charset=utf-8")


def text_response(text: str, status: int = 200) -> Response:
    """A plain-text document (robots.txt, error bodies)."""
    return Response(status, text.encode("utf-8"), "text/plain; charset=utf-8")


def redirect(location: str, status: int = 302) -> Response:
    """A redirect with a tiny HTML body, like most servers send."""
    body = f'<html><body>Moved: <a href="{location}">{location}</a></body></html>'
    return Response(status, body.encode("utf-8"), headers={"Location": location})


@dataclass(frozen=True)
class SiteContext:
    """What a site needs to render: its own base URL, every site's, its private-page href."""

    name: str
    base: str  # e.g. http://127.0.0.1:8101 (no trailing slash)
    urls: dict[str, str]
    private_href: str


Handler = Callable[[Request, "re.Match[str]"], Response]


class Router:
    """Ordered (regex, handler) pairs; the first pattern that fully matches the path wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[re.Pattern[str], Handler]] = []

    def add(self, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for paths that fully match ``pattern``."""
        self._routes.append((re.compile(pattern), handler))

    def dispatch(self, request: Request) -> Response | None:
        """The handler's response, or None when no route matches."""
        for pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match:
                return handler(request, match)
        return None
