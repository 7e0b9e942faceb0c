"""Request guards: every route but the login page and static files needs a user; state-changing
requests need a role and, from a browser session, the session's CSRF token.

API clients using HTTP Basic need no CSRF token: a browser only sends Basic credentials it was
asked for, and the API's state-changing routes accept JSON only, which another site's form
cannot send without a CORS preflight that we never answer.
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from fastapi import HTTPException, Request

from .auth import SESSION_COOKIE, basic_user
from .state import ctx

PUBLIC = ("/login", "/static/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class NotLoggedIn(Exception):
    """No valid session or credentials (pages redirect to /login, the API answers 401)."""


def authenticate(request: Request) -> None:
    """App-wide dependency: set ``request.state.user`` (and ``.via``, ``.csrf``) or raise NotLoggedIn."""
    path = request.url.path
    if path == "/login" or path.startswith("/static/"):
        request.state.user = None
        return
    c = ctx(request)
    header = request.headers.get("authorization")
    if header:
        user = basic_user(c.accounts, c.basic_cache, header)
        if user is None:
            raise NotLoggedIn()
        request.state.user, request.state.via, request.state.csrf = user, "basic", ""
        return
    session = c.sessions.read(request.cookies.get(SESSION_COOKIE))
    user = c.accounts.get(session["u"]) if session else None
    if user is None or user.disabled or user.epoch != session["e"]:
        raise NotLoggedIn()
    request.state.user, request.state.via, request.state.csrf = user, "session", session["c"]


async def check_csrf(request: Request) -> None:
    """403 unless a session request carries its CSRF token (X-CSRF-Token header or ``csrf`` field)."""
    if request.method in SAFE_METHODS or getattr(request.state, "via", None) != "session":
        return
    token = request.headers.get("x-csrf-token")
    if not token and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        token = (await request.form()).get("csrf")
    if not token or not hmac.compare_digest(str(token), request.state.csrf):
        raise HTTPException(403, "CSRF 校验失败：请刷新页面后重试")


def need(role: str):
    """A dependency: the logged-in user, 403 unless they hold ``role`` (and the CSRF check)."""
    async def guard(request: Request):
        await check_csrf(request)
        user = request.state.user
        if not user.can(role):
            raise HTTPException(403, "权限不足")
        return user
    guard.__name__ = f"need_{role}"
    return guard


def login_redirect(request: Request) -> str:
    """/login with the page asked for as ``next``."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(target, safe="")
