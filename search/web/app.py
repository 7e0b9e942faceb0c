"""The officers' web app: ``create_app(store_url, data)`` builds it, ``reprowatch serve`` runs it.

Server-rendered Jinja pages plus a JSON API under ``/api``; one small script of our own
(static/app.js) for key presses and copy buttons; nothing loaded from elsewhere, so it works
on an offline network. Security is set here for every response: CSP without inline scripts,
``frame-ancestors 'none'``, nosniff, no referrer, request size limits.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from reprowatch import __version__
from search.store import StoreError, open_store

from . import present
from .access import NotLoggedIn, authenticate, login_redirect, need
from .auth import LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECONDS, BasicCache, LoginLimiter, Sessions, load_secret, safe_next
from .state import Context, client_ip, ctx
from .users import Accounts, accounts_path

HERE = Path(__file__).resolve().parent
MAX_BODY = 1 << 20        # 1 MiB: a review, a note or a list of ids; nothing bigger is ever posted
MAX_URL = 8192            # request line; a search link is far shorter
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class Guard:
    """ASGI middleware: refuses oversized requests (413, 414) and adds the security headers
    to every response that has not set its own CSP (the evidence files do)."""

    def __init__(self, app, max_body: int = MAX_BODY):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") > MAX_URL:
            return await _plain(send, 414, "URI too long")
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await _plain(send, 413, "request body too large")
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:  # chunked bodies have no Content-Length to check up front
                    raise HTTPException(413, "request body too large")
            return message

        async def secured_send(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", PAGE_CSP.encode()))
                else:
                    extra = [h for h in extra if h[0] != b"x-frame-options"]
                if b"cache-control" not in names:
                    extra.append((b"cache-control", b"no-store"))  # pages show evidence: keep them out of caches
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        await self.app(scope, limited_receive, secured_send)


async def _plain(send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": text.encode()})


def create_app(store_url: str | None = None, data: str | Path | None = None, secure_cookies: bool = False,
               store=None) -> FastAPI:
    """The web app over the store at ``store_url`` (or an open ``store``), with accounts, the
    signing key and evidence files in ``data`` (default: reprowatch.paths.data_dir())."""
    from reprowatch.paths import data_dir

    data = Path(data) if data else data_dir()
    secret = load_secret(data)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    present.register(templates.env)
    c = Context(store=store or open_store(store_url), accounts=Accounts(accounts_path(data)),
                sessions=Sessions(secret), data=data, limiter=LoginLimiter(), basic_cache=BasicCache(secret),
                secure_cookies=secure_cookies, templates=templates)
    app = FastAPI(title="reprowatch 违法辅助生殖广告监测 API", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, dependencies=[Depends(authenticate)])
    app.state.ctx = c
    app.add_middleware(Guard)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    from . import api, pages

    app.include_router(pages.router)
    app.include_router(api.router)
    _login_routes(app)
    _error_handlers(app, templates)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():
        return app.openapi()

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request):
        # Our own page from the OpenAPI document: Swagger UI would load scripts from a CDN.
        return templates.TemplateResponse(request, "docs.html", {"spec": app.openapi(), "user": request.state.user})

    return app


def app_from_env() -> FastAPI:
    """The app as each worker process of `serve --workers N` builds it: store, data folder and
    cookie flag come from REPROWATCH_STORE, REPROWATCH_DATA and REPROWATCH_SECURE_COOKIES."""
    return create_app(os.environ.get("REPROWATCH_STORE"),
                      secure_cookies=os.environ.get("REPROWATCH_SECURE_COOKIES") == "1")


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    """A page from templates/, with the user and their CSRF token."""
    c = ctx(request)
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("csrf", getattr(request.state, "csrf", ""))
    return c.templates.TemplateResponse(request, template, context, status_code=status)


def _login_routes(app: FastAPI) -> None:
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/"):
        cookie, token = ctx(request).sessions.login_token()
        response = render(request, "login.html", next=safe_next(next), token=token, error="")
        _set_cookie(request, response, LOGIN_COOKIE, cookie, 3600)
        return response

    @app.post("/login", include_in_schema=False)
    def login(request: Request, name: str = Form("", max_length=200), password: str = Form("", max_length=2000),
              csrf: str = Form(""), next: str = Form("/")):
        c = ctx(request)
        ip = client_ip(request)
        target = safe_next(next)

        def again(error: str, status: int):
            cookie, token = c.sessions.login_token()
            response = render(request, "login.html", status=status, next=target, token=token, error=error,
                              name=name)
            _set_cookie(request, response, LOGIN_COOKIE, cookie, 3600)
            return response

        if not c.sessions.login_token_ok(request.cookies.get(LOGIN_COOKIE), csrf):
            return again("页面已过期，请重新登录", 403)
        if c.limiter.blocked(ip, name):
            c.audit(request, "login_failed", target=name, actor=name or "-", reason="rate_limited")
            return again("登录失败次数过多，请 15 分钟后再试", 429)
        user = c.accounts.verify(name, password)
        if user is None:
            c.limiter.failed(ip, name)
            c.audit(request, "login_failed", target=name, actor=name or "-", reason="bad_credentials")
            return again("用户名或密码错误", 401)
        c.limiter.succeeded(ip, name)
        cookie, _ = c.sessions.make(user)
        request.state.user = user
        c.audit(request, "login", target=user.name)
        response = RedirectResponse(target, status_code=303)
        _set_cookie(request, response, SESSION_COOKIE, cookie, SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, user=Depends(need("viewer"))):
        ctx(request).audit(request, "logout", target=user.name)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _set_cookie(request: Request, response, name: str, value: str, max_age: int) -> None:
    c = ctx(request)
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=c.secure_cookies or request.url.scheme == "https")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/openapi.json",)


def _error_handlers(app: FastAPI, templates) -> None:
    @app.exception_handler(NotLoggedIn)
    async def not_logged_in(request: Request, exc: NotLoggedIn):
        if _wants_json(request) or request.headers.get("authorization"):
            return JSONResponse({"detail": "需要登录（HTTP Basic 或会话）"}, status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="reprowatch", charset="UTF-8"'})
        return RedirectResponse(login_redirect(request), status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if _wants_json(request) or not hasattr(request.state, "user"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return render(request, "error.html", status=exc.status_code, code=exc.status_code, message=exc.detail)

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        detail = getattr(exc, "detail", "Not Found")
        if _wants_json(request) or not getattr(request.state, "user", None):
            return JSONResponse({"detail": detail if detail != "Not Found" else "没有这个地址"}, status_code=404)
        return render(request, "error.html", status=404, code=404, message="没有找到：" + str(detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = [{"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "loc": list(e["loc"]),
                   "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        if _wants_json(request):
            return JSONResponse({"detail": errors}, status_code=422)
        message = "；".join(f"{e['field']}: {e['msg']}" for e in errors)
        return render(request, "error.html", status=422, code=422, message="请求参数有误：" + message)

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError):
        if _wants_json(request):
            return JSONResponse({"detail": f"存储不可用：{exc}"}, status_code=503)
        return render(request, "error.html", status=503, code=503, message="存储暂不可用，请稍后再试。")
