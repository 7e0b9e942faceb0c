"""Who is asking: signed session cookies for browsers, HTTP Basic for API clients, CSRF tokens,
login rate limiting and the ``next=`` check after login.

The session cookie holds ``{user, epoch, csrf}`` signed with a key kept in ``data/web-secret.key``
(created on first start, mode 0600), so restarting the server keeps people logged in and a
password change (which raises the account's epoch) logs them out everywhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

from .users import Accounts, User

SESSION_COOKIE = "rw_session"
LOGIN_COOKIE = "rw_login"      # carries the login form's CSRF token before there is a session
SESSION_SECONDS = 12 * 3600    # one working day; then log in again
SECRET_FILE = "web-secret.key"


def load_secret(data: Path) -> bytes:
    """The signing key in ``data``, created (readable by its owner only) on first use."""
    path = Path(data) / SECRET_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


class Sessions:
    """Makes and reads the signed session and login cookies."""

    def __init__(self, secret: bytes):
        self.session = URLSafeTimedSerializer(secret, salt="reprowatch-session")
        self.login = URLSafeTimedSerializer(secret, salt="reprowatch-login-form")

    def make(self, user: User) -> tuple[str, str]:
        """(cookie value, CSRF token) of a new session for ``user``."""
        token = secrets.token_urlsafe(24)
        return self.session.dumps({"u": user.name, "e": user.epoch, "c": token}), token

    def read(self, value: str | None) -> dict | None:
        """The session's ``{u, e, c}``, or None when missing, forged or expired."""
        if not value:
            return None
        try:
            data = self.session.loads(value, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and {"u", "e", "c"} <= set(data) else None

    def login_token(self) -> tuple[str, str]:
        """(cookie value, token) for the login form."""
        token = secrets.token_urlsafe(24)
        return self.login.dumps(token), token

    def login_token_ok(self, cookie: str | None, token: str | None) -> bool:
        """True when the login form's token matches its cookie."""
        if not cookie or not token:
            return False
        try:
            expected = self.login.loads(cookie, max_age=3600)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected, token)


class LoginLimiter:
    """Failed logins are limited per user name (``per_name`` in ``window`` seconds: guessing one
    officer's password) and per client address (``per_ip``, higher: several officers may share
    an office's NAT address). Past a limit every login for that name, or from that address, is
    refused until the window has passed. Per process: one `serve` is one process."""

    def __init__(self, per_name: int = 5, per_ip: int = 20, window: float = 900.0):
        self.limits = {"user": per_name, "ip": per_ip}
        self.window = window
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, ip: str, name: str) -> bool:
        """True when this address or this name has used up its attempts."""
        now = time.monotonic()
        with self._lock:
            return (len(self._recent(f"ip:{ip}", now)) >= self.limits["ip"]
                    or len(self._recent(f"user:{name}", now)) >= self.limits["user"])

    def failed(self, ip: str, name: str) -> None:
        """Count a failed login."""
        now = time.monotonic()
        with self._lock:
            for key in (f"ip:{ip}", f"user:{name}"):
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # a spray of names must not grow memory without end
                self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}

    def succeeded(self, ip: str, name: str) -> None:
        """Forget the failures of a name that just logged in (not those of the address)."""
        with self._lock:
            self._failures.pop(f"user:{name}", None)


class BasicCache:
    """Remembers recently verified Basic credentials for a minute.

    Argon2 is slow on purpose (tens of ms); an API client sends its password with every
    request, and re-hashing each time would cost more than the search itself. The key is a
    keyed hash of name, password and stored hash, so a password change misses the cache.
    """

    def __init__(self, secret: bytes, ttl: float = 60.0, size: int = 256):
        self.secret, self.ttl, self.size = secret, ttl, size
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, name: str, password: str, stored_hash: str) -> bytes:
        return hmac.new(self.secret, f"{name}\0{password}\0{stored_hash}".encode(), hashlib.sha256).digest()

    def check(self, name: str, password: str, stored_hash: str) -> bool:
        """True when these credentials were verified less than ``ttl`` seconds ago."""
        key = self._key(name, password, stored_hash)
        with self._lock:
            at = self._seen.get(key)
            return at is not None and time.monotonic() - at < self.ttl

    def remember(self, name: str, password: str, stored_hash: str) -> None:
        """Note credentials that just verified."""
        with self._lock:
            self._seen[self._key(name, password, stored_hash)] = time.monotonic()
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(name, password) from an ``Authorization: Basic …`` header, or None."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


def basic_user(accounts: Accounts, cache: BasicCache, header: str | None) -> User | None:
    """The enabled account named by valid Basic credentials, or None."""
    creds = basic_credentials(header)
    if creds is None:
        return None
    name, password = creds
    user = accounts.get(name)
    if user is not None and not user.disabled and cache.check(name, password, user.hash):
        return user
    user = accounts.verify(name, password)
    if user is not None:
        cache.remember(name, password, user.hash)
    return user


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site, never another site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\\\r\n\t") or any(ord(c) < 32 for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target
