"""The URL shapes of the contract, held once: the join URL, the discovery URI and
the RTC URL.

A node publishes ``{base}/j/{code}`` (the meeting URL a guest opens) and
``{base}/v1/discovery/{meeting_id}`` (what a guest token is resolved against),
and serves the RTC WebSocket at ``ws(s)://{host}[/prefix]/v1/rtc``. The browser
SDK's ``protocol.js`` carries the same functions, rendered from the constants
below (:mod:`frontdesk.protocol.jscontract`), so the two parse alike. The
functions work on strings (no percent-decoding, no host normalisation) for that
reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from frontdesk.errors import MeetingNotFound, ValidationFailed

__all__ = [
    "DISCOVERY_PATH",
    "JOIN_INFO_PATH",
    "JOIN_PATH",
    "MAX_JOIN_CODE",
    "RTC_PATH",
    "WS_SCHEMES",
    "JoinUrl",
    "discovery_uri",
    "join_code",
    "join_info_url",
    "join_url",
    "parse_join_url",
    "rtc_url",
    "rtc_url_for_join_url",
]

#: ``{base}{JOIN_PATH}{code}`` is a meeting's join URL.
JOIN_PATH = "/j/"
#: ``{base}{JOIN_INFO_PATH}{code}``: what a join URL's meeting shows before
#: joining (subject, state, start, brand), for anyone holding the link.
JOIN_INFO_PATH = "/v1/join/"
#: ``{base}{DISCOVERY_PATH}{meeting_id}`` is a meeting's discovery URI.
DISCOVERY_PATH = "/v1/discovery/"
#: The RTC WebSocket endpoint, below the node's base path.
RTC_PATH = "/v1/rtc"
#: Longest join code a parser accepts (longer ones are not ours).
MAX_JOIN_CODE = 64
#: The WebSocket scheme that goes with each HTTP scheme of a base URL.
WS_SCHEMES: dict[str, str] = {"http": "ws", "https": "wss"}


@dataclass(frozen=True, slots=True)
class JoinUrl:
    """A parsed join URL: the node's base URL (may be empty for a bare path) and
    the meeting's join code."""

    base_url: str
    code: str

    def __str__(self) -> str:
        return join_url(self.base_url, self.code)


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def join_url(base_url: str, code: str) -> str:
    """``{base}/j/{code}``: the meeting URL published by the node at ``base_url``."""
    return f"{_base(base_url)}{JOIN_PATH}{code}"


def parse_join_url(url: str) -> JoinUrl:
    """Split a join URL into base and code. Query and fragment are ignored, as are
    trailing slashes; the code is the last path segment and must follow
    ``/j/``. Raises :class:`~frontdesk.errors.MeetingNotFound` otherwise (what the
    server answers for a URL that names no meeting)."""
    head = url.split("#", 1)[0].split("?", 1)[0].rstrip("/")
    base, sep, code = head.rpartition(JOIN_PATH)
    if not sep or not code or "/" in code or len(code) > MAX_JOIN_CODE:
        raise MeetingNotFound("not a join URL")
    return JoinUrl(base_url=base, code=code)


def join_code(url: str) -> str:
    """The join code of a join URL (see :func:`parse_join_url`)."""
    return parse_join_url(url).code


def join_info_url(url: str) -> str:
    """Where the meeting of the join URL ``url`` says what it is before joining."""
    parsed = parse_join_url(url)
    return f"{_base(parsed.base_url)}{JOIN_INFO_PATH}{parsed.code}"


def discovery_uri(base_url: str, meeting_id: str) -> str:
    """``{base}/v1/discovery/{meeting_id}``: where a guest token is resolved."""
    return f"{_base(base_url)}{DISCOVERY_PATH}{meeting_id}"


def rtc_url(base_url: str) -> str:
    """``http(s)://host[/prefix]`` → ``ws(s)://host[/prefix]/v1/rtc``; query and
    fragment are dropped. Raises :class:`~frontdesk.errors.ValidationFailed` for
    anything but an absolute http or https URL."""
    try:
        parts = urlsplit(base_url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise ValidationFailed("the base URL is not a URL") from None
    scheme = WS_SCHEMES.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValidationFailed("the base URL must start with http:// or https://")
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}{RTC_PATH}"


def rtc_url_for_join_url(url: str) -> str:
    """The RTC URL of the node that published the join URL ``url``."""
    return rtc_url(parse_join_url(url).base_url)
