"""The bank's own customers: a users table in the bank's own SQLite file,
passwords hashed with argon2, and each customer's office-hours booking.
Nothing here is shared with Frontdesk."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Accounts", "Customer"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS customers (
        username      TEXT PRIMARY KEY,
        full_name     TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        since         INTEGER
    )""",
    # the Frontdesk meeting ("Office hours") a customer booked a place in
    """CREATE TABLE IF NOT EXISTS bookings (
        username   TEXT PRIMARY KEY REFERENCES customers(username),
        meeting_id TEXT NOT NULL
    )""",
)


@dataclass(frozen=True)
class Customer:
    username: str
    full_name: str  # verified by the bank: this is the name Frontdesk shows the advisor
    since: int | None = None  # the year the account was opened (context for the advisor)


class Accounts:
    """Customer accounts in one SQLite file (one short connection per call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._hasher = PasswordHasher()
        # a fixed hash to check against for unknown users, so both answers take as long
        self._dummy = self._hasher.hash("no such customer")
        with self._connect() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            columns = {row[1] for row in db.execute("PRAGMA table_info(customers)")}
            if "since" not in columns:  # a database from before the column
                db.execute("ALTER TABLE customers ADD COLUMN since INTEGER")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def add(
        self, username: str, full_name: str, password: str, since: int | None = None
    ) -> Customer:
        """Open an account (or reset its name and password)."""
        if not username or not full_name.strip() or len(password) < 8:
            raise ValueError("a username, a name and a password of 8+ characters are needed")
        since = since or datetime.now(UTC).year
        with self._connect() as db:
            db.execute(
                "INSERT INTO customers (username, full_name, password_hash, since) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET "
                "full_name = excluded.full_name, password_hash = excluded.password_hash, "
                "since = excluded.since",
                (username, full_name.strip(), self._hasher.hash(password), since),
            )
        return Customer(username, full_name.strip(), since)

    def get(self, username: str) -> Customer | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT username, full_name, since FROM customers WHERE username = ?", (username,)
            ).fetchone()
        return Customer(row[0], row[1], row[2]) if row else None

    def book(self, username: str, meeting_id: str) -> None:
        """Book the customer a place in office hours (one booking each)."""
        with self._connect() as db:
            db.execute(
                "INSERT INTO bookings VALUES (?, ?) "
                "ON CONFLICT(username) DO UPDATE SET meeting_id = excluded.meeting_id",
                (username, meeting_id),
            )

    def booking(self, username: str) -> str | None:
        """The meeting the customer booked, if any."""
        with self._connect() as db:
            row = db.execute(
                "SELECT meeting_id FROM bookings WHERE username = ?", (username,)
            ).fetchone()
        return str(row[0]) if row else None

    def authenticate(self, username: str, password: str) -> Customer | None:
        """The customer if the password is right, else ``None``."""
        with self._connect() as db:
            row = db.execute(
                "SELECT username, full_name, since, password_hash FROM customers "
                "WHERE username = ?",
                (username,),
            ).fetchone()
        try:
            self._hasher.verify(row[3] if row else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        return Customer(row[0], row[1], row[2]) if row else None
