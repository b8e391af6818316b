"""The bank's own customers: a users table in the bank's own SQLite file,
passwords hashed with argon2. Nothing here is shared with Frontdesk."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Accounts", "Customer"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    username      TEXT PRIMARY KEY,
    full_name     TEXT NOT NULL,
    password_hash TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Customer:
    username: str
    full_name: str  # verified by the bank: this is the name Frontdesk shows the advisor


class Accounts:
    """Customer accounts in one SQLite file (one short connection per call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._hasher = PasswordHasher()
        # a fixed hash to check against for unknown users, so both answers take as long
        self._dummy = self._hasher.hash("no such customer")
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def add(self, username: str, full_name: str, password: str) -> Customer:
        """Open an account (or reset its name and password)."""
        if not username or not full_name.strip() or len(password) < 8:
            raise ValueError("a username, a name and a password of 8+ characters are needed")
        with self._connect() as db:
            db.execute(
                "INSERT INTO customers VALUES (?, ?, ?) ON CONFLICT(username) DO UPDATE SET "
                "full_name = excluded.full_name, password_hash = excluded.password_hash",
                (username, full_name.strip(), self._hasher.hash(password)),
            )
        return Customer(username, full_name.strip())

    def get(self, username: str) -> Customer | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT username, full_name FROM customers WHERE username = ?", (username,)
            ).fetchone()
        return Customer(row[0], row[1]) if row else None

    def authenticate(self, username: str, password: str) -> Customer | None:
        """The customer if the password is right, else ``None``."""
        with self._connect() as db:
            row = db.execute(
                "SELECT username, full_name, password_hash FROM customers WHERE username = ?",
                (username,),
            ).fetchone()
        try:
            self._hasher.verify(row[2] if row else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        return Customer(row[0], row[1]) if row else None
