"""Web accounts and saved searches, in a small SQLite file of their own: ``data/web.db``.

Why not in the item store: accounts must work the same whether items live in SQLite or in
Elasticsearch; they belong to this installation's web server, not to the crawled data (which
may be shared with another office); and password hashes should not travel in a store's backups
or snapshots. SQLite (WAL) lets the CLI (`reprowatch user …`) change accounts while `serve` runs.

Passwords are hashed with Argon2id (argon2-cffi's defaults). Every account has an ``epoch``
raised by a password change or a disable; sessions carry the epoch they were made in, so both
end every open session at once.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from search.items import now_iso

ROLES = ("viewer", "reviewer", "admin")
# viewer: search and read; reviewer: + review and export; admin: + accounts and the audit log.
RANK = {role: n for n, role in enumerate(ROLES)}
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing cost must not be something a request can choose
NAME = re.compile(r"^[A-Za-z0-9_.@\-\u4e00-\u9fff]{1,64}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
    epoch INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, changed TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS saved_searches (
    id INTEGER PRIMARY KEY, user TEXT NOT NULL, name TEXT NOT NULL, params TEXT NOT NULL, created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS saved_searches_user ON saved_searches (user);
"""


class UserError(ValueError):
    """A bad account operation (unknown or duplicate name, bad role, weak password)."""


@dataclass
class User:
    """An account as the web app sees it (the hash stays here)."""

    name: str
    role: str
    disabled: bool
    epoch: int
    created: str
    changed: str
    hash: str = ""

    def can(self, role: str) -> bool:
        """True when this account has ``role``'s rights (roles are ranked)."""
        return RANK[self.role] >= RANK[role]

    def public(self) -> dict:
        """The account without its hash."""
        return {"name": self.name, "role": self.role, "disabled": self.disabled, "created": self.created,
                "changed": self.changed}


def check_password(password: str) -> None:
    """UserError unless the password is long enough (and not absurdly long)."""
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"password too long: at most {MAX_PASSWORD} characters")


class Accounts:
    """The accounts file; safe to share between threads."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.hasher = PasswordHasher()
        self._local = threading.local()
        # Verifying an unknown name against this costs as much as a real check, so timing does
        # not tell which names exist.
        self._dummy = self.hasher.hash("reprowatch-no-such-user")
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            self._local.conn = conn
        return conn

    @staticmethod
    def _user(row) -> User:
        return User(name=row["name"], role=row["role"], disabled=bool(row["disabled"]), epoch=row["epoch"],
                    created=row["created"], changed=row["changed"], hash=row["hash"])

    def get(self, name: str) -> User | None:
        """The account called ``name``, or None."""
        row = self._conn().execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return self._user(row) if row else None

    def all(self) -> list[User]:
        """Every account, by name."""
        return [self._user(r) for r in self._conn().execute("SELECT * FROM users ORDER BY name")]

    def add(self, name: str, role: str, password: str) -> User:
        """Create an account; UserError for a bad or taken name, unknown role or weak password."""
        if not NAME.match(name or ""):
            raise UserError(f"bad user name {name!r}: 1-64 letters, digits, Chinese characters or _ . @ -")
        if role not in ROLES:
            raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        check_password(password)
        now = now_iso()
        try:
            with self._conn() as conn:
                conn.execute("INSERT INTO users (name, role, hash, created, changed) VALUES (?, ?, ?, ?, ?)",
                             (name, role, self.hasher.hash(password), now, now))
        except sqlite3.IntegrityError:
            raise UserError(f"user {name!r} already exists (use `user passwd` to change the password)") from None
        return self.get(name)

    def _change(self, name: str, sql: str, args: tuple) -> User:
        with self._conn() as conn:
            done = conn.execute(sql + ", epoch = epoch + 1, changed = ? WHERE name = ?", args + (now_iso(), name))
        if not done.rowcount:
            raise UserError(f"no user {name!r}")
        return self.get(name)

    def set_password(self, name: str, password: str) -> User:
        """New password (and re-enable the account); ends the account's open sessions."""
        check_password(password)
        return self._change(name, "UPDATE users SET hash = ?, disabled = 0", (self.hasher.hash(password),))

    def disable(self, name: str) -> User:
        """Lock the account out; ends its open sessions."""
        return self._change(name, "UPDATE users SET disabled = 1", ())

    def verify(self, name: str, password: str) -> User | None:
        """The enabled account when the password is right, else None."""
        user = self.get(name) if NAME.match(name or "") else None
        if not password or len(password) > MAX_PASSWORD:
            return None
        try:
            self.hasher.verify(user.hash if user else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if self.hasher.check_needs_rehash(user.hash):
            with self._conn() as conn:
                conn.execute("UPDATE users SET hash = ? WHERE name = ?", (self.hasher.hash(password), name))
        return user

    # -- saved searches --------------------------------------------------------------------

    def save_search(self, user: str, name: str, params: str) -> int:
        """Keep a search (its query string) under a name for ``user``; returns its id."""
        with self._conn() as conn:
            cur = conn.execute("INSERT INTO saved_searches (user, name, params, created) VALUES (?, ?, ?, ?)",
                               (user, name, params, now_iso()))
        return cur.lastrowid

    def searches(self, user: str) -> list[dict]:
        """``user``'s saved searches, newest first."""
        rows = self._conn().execute("SELECT id, name, params, created FROM saved_searches WHERE user = ? "
                                    "ORDER BY id DESC", (user,))
        return [dict(r) for r in rows]

    def delete_search(self, user: str, search_id: int) -> bool:
        """Remove one of ``user``'s saved searches; False if it is not theirs or not there."""
        with self._conn() as conn:
            done = conn.execute("DELETE FROM saved_searches WHERE id = ? AND user = ?", (search_id, user))
        return bool(done.rowcount)


def accounts_path(data: Path) -> Path:
    """Where the accounts file of the data folder ``data`` lives."""
    return Path(data) / "web.db"
