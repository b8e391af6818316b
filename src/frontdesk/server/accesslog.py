"""Keep credentials out of the access log.

A join code (``GET /j/<code>``) is a credential: whoever has it can join the
meeting. uvicorn logs every request line, path and query included, on the
``uvicorn.access`` logger; :class:`RedactCredentials`, installed on that logger
by :func:`install_access_log_filter` (called from ``create_app``, so from
``frontdesk serve`` and every embedding), rewrites the path before any handler
sees the record: ``/j/<code>`` becomes ``/j/…``, and the value of a query
parameter named like a credential (``token=``, ``code=``, ``secret=`` …)
becomes ``…``.
"""

from __future__ import annotations

import logging
import re

__all__ = ["ACCESS_LOGGER", "RedactCredentials", "install_access_log_filter", "redact_path"]

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "…"

_JOIN_PATH = re.compile(r"(/j/)[^/?#\s]+")
_SECRET_QUERY = re.compile(
    r"([?&](?:[\w.-]*token|code|join_code|secret|client_secret|password)=)[^&#\s]*",
    re.IGNORECASE,
)


def redact_path(path: str) -> str:
    """``path`` (with its query) without join codes or credential query values."""
    return _SECRET_QUERY.sub(r"\1" + REDACTED, _JOIN_PATH.sub(r"\1" + REDACTED, path))


class RedactCredentials(logging.Filter):
    """Redact the request path of uvicorn's access records (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn: (client_addr, method, full_path, http_version, status_code)
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        elif isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        return True


def install_access_log_filter() -> None:
    """Install the filter on ``uvicorn.access`` once (idempotent)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
