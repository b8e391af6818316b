"""Database failures translated at the store boundary, without their text.

A driver's message names hosts, ports, databases, roles and SQL: useful to the
operator, none of the caller's business. :func:`translate_db_error` logs the
real failure on the server and hands the caller a ``frontdesk`` error that says
only what it may do about it:

* the database cannot be reached or went away (refused or lost connection,
  timeout, pool exhausted, server shutting down, too many connections, lock
  wait) → :class:`~frontdesk.errors.Unavailable` with ``retry_after``: the
  problem handler answers 503 with ``Retry-After``, the RTC endpoint an
  ``error`` of code ``unavailable``;
* anything else → a plain internal :class:`~frontdesk.errors.FrontdeskError`.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc

from frontdesk.errors import FrontdeskError, Unavailable

__all__ = ["RETRY_AFTER_S", "is_outage", "translate_db_error"]

log = logging.getLogger(__name__)

#: What a caller is told to wait before trying again while the database is away.
RETRY_AFTER_S = 2

# SQLSTATE classes and codes that mean "not now" rather than "never":
# 08 connection exception, 53 insufficient resources (too many connections,
# out of memory or disk), 57P01-57P03 admin/crash shutdown and "cannot connect
# now", 55P03 lock not available, 40001/40P01 serialisation failure/deadlock.
_OUTAGE_SQLSTATE_CLASSES = ("08", "53")
_OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "55P03", "40001", "40P01"})

_OUTAGE_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # ConnectionRefusedError, ConnectionResetError, socket errors
    TimeoutError,
    sa_exc.TimeoutError,  # the pool had no connection to give
    sa_exc.OperationalError,  # SQLite "database is locked", "unable to open"
    sa_exc.InterfaceError,  # asyncpg "connection was closed in the middle"
    sa_exc.DisconnectionError,
)


def _sqlstate(exc: BaseException) -> str | None:
    for obj in (getattr(exc, "orig", None), exc):
        for attr in ("sqlstate", "pgcode"):
            state = getattr(obj, attr, None)
            if isinstance(state, str) and state:
                return state
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)  # SQLAlchemy's asyncpg adapter wraps asyncpg
    state = getattr(cause, "sqlstate", None)
    return state if isinstance(state, str) and state else None


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable or refusing for now."""
    if isinstance(exc, _OUTAGE_TYPES):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc.orig, OSError | TimeoutError):
            return True
    state = _sqlstate(exc)
    return state is not None and (
        state[:2] in _OUTAGE_SQLSTATE_CLASSES or state in _OUTAGE_SQLSTATES
    )


def translate_db_error(exc: BaseException, what: str = "database") -> FrontdeskError:
    """The ``frontdesk`` error a caller gets for a driver or SQLAlchemy failure
    that is not a conflict; the details go to the server log only."""
    if isinstance(exc, FrontdeskError):
        return exc
    if isinstance(exc, sa_exc.StatementError) and isinstance(exc.orig, FrontdeskError):
        return exc.orig
    if is_outage(exc):
        log.warning("%s unavailable: %s", what, _describe(exc))
        return Unavailable(
            "the database is unavailable; try again shortly", retry_after=RETRY_AFTER_S
        )
    log.error("%s error: %s", what, _describe(exc))
    return FrontdeskError("internal database error; see the server log")


def _describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).splitlines()[0][:300] if str(orig) else ""
    return f"{type(orig).__name__}: {text}"
