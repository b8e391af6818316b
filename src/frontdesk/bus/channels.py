"""The names of the bus channels, all in one place.

A channel name here is *logical* (``meeting:m_abc``): a :class:`~frontdesk.bus.Bus`
puts its ``redis_prefix`` in front on the wire, so consumers never see or pass
the prefix. A name ending in ``*`` is a *prefix subscription*
(``meeting:*``: every meeting channel); a published channel never ends in ``*``.
"""

from __future__ import annotations

__all__ = [
    "ALL_LOBBIES",
    "ALL_MEETINGS",
    "WILDCARD",
    "check_channel",
    "check_pattern",
    "is_prefix",
    "lobby_channel",
    "matches",
    "meeting_channel",
]

WILDCARD = "*"

_MEETING = "meeting:"
_LOBBY = "lobby:"

#: Subscribe to these for every meeting / every organizer's lobby.
ALL_MEETINGS = _MEETING + WILDCARD
ALL_LOBBIES = _LOBBY + WILDCARD


def meeting_channel(meeting_id: str) -> str:
    """Hints about one meeting (its room's events moved on)."""
    return check_channel(_MEETING + _part(meeting_id))


def lobby_channel(username: str) -> str:
    """Hints about one organizer's lobby (a guest is waiting)."""
    return check_channel(_LOBBY + _part(username))


def _part(name: str) -> str:
    if not name:
        raise ValueError("a channel names a meeting or a user: empty name")
    return name


def check_channel(channel: str) -> str:
    """A channel one may publish to: not empty, no ``*``, no control characters."""
    if not channel or WILDCARD in channel or not channel.isprintable():
        raise ValueError(f"not a bus channel name: {channel!r}")
    return channel


def check_pattern(pattern: str) -> str:
    """A channel, or a prefix followed by one trailing ``*``."""
    if is_prefix(pattern):
        head = pattern[:-1]
        if WILDCARD in head or not head.isprintable():
            raise ValueError(f"not a bus subscription: {pattern!r}")
        return pattern
    return check_channel(pattern)


def is_prefix(pattern: str) -> bool:
    return pattern.endswith(WILDCARD)


def matches(pattern: str, channel: str) -> bool:
    """Whether a subscription to ``pattern`` receives what is published on ``channel``."""
    if is_prefix(pattern):
        return channel.startswith(pattern[:-1])
    return channel == pattern
