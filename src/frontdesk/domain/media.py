"""How a meeting's media travels: a peer-to-peer mesh or through an SFU.

A meeting has a *mode* (what its owner wants: ``mesh``, ``sfu`` or ``auto``)
and, while live, a *route* (what its media does now). ``auto`` starts as a mesh
and moves to the SFU when one more participant would pass the mesh's cap; it
never moves back during the meeting, so a call is switched at most once.

Who may do what on the SFU is decided here too (:func:`may_publish`,
:func:`may_subscribe`): the same rules as relaying mesh signals, so a
monitoring supervisor never sends media to a guest nor shows up as a feed.
Sans-I/O: the node's SFU adapter asks, then drives Janus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from frontdesk.domain.participants import Participant, SessionState
from frontdesk.errors import ValidationFailed

__all__ = [
    "MESH_CAP",
    "MediaMode",
    "MediaPlan",
    "MediaRoute",
    "may_publish",
    "may_subscribe",
]

#: People with media a mesh carries (each browser holds MESH_CAP - 1 peer connections).
MESH_CAP = 4


class MediaMode(StrEnum):
    MESH = "mesh"
    SFU = "sfu"
    AUTO = "auto"

    @classmethod
    def parse(cls, value: str) -> MediaMode:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValidationFailed("media mode must be mesh, sfu or auto") from None


class MediaRoute(StrEnum):
    MESH = "mesh"
    SFU = "sfu"


@dataclass
class MediaPlan:
    """One live meeting's route. ``sfu_available`` is whether the node has an SFU:
    without one every mode is a mesh."""

    mode: MediaMode
    sfu_available: bool
    route: MediaRoute = MediaRoute.MESH

    def __post_init__(self) -> None:
        if self.mode is MediaMode.SFU and self.sfu_available:
            self.route = MediaRoute.SFU

    def update(self, participants: Mapping[str, Participant]) -> MediaRoute | None:
        """The new route when the roster makes one (``None``: no change)."""
        if self.route is MediaRoute.SFU or not self.sfu_available:
            return None
        if self.mode is MediaMode.AUTO and media_count(participants) > MESH_CAP:
            self.route = MediaRoute.SFU
            return self.route
        return None


def media_count(participants: Mapping[str, Participant]) -> int:
    """People who carry media: joined (or briefly reconnecting), not hidden."""
    live = (SessionState.JOINED, SessionState.RECONNECTING)
    return sum(1 for p in participants.values() if p.state in live and not p.hidden)


def may_publish(participants: Mapping[str, Participant], pid: str) -> bool:
    """Whether ``pid`` may send media up to the SFU: joined and not hidden."""
    p = participants.get(pid)
    return p is not None and p.state is SessionState.JOINED and not p.hidden


def may_subscribe(participants: Mapping[str, Participant], pid: str, feed: str) -> bool:
    """Whether ``pid`` may receive ``feed``: both joined, and the feed not a
    hidden supervisor's (it has none). A monitoring supervisor may receive:
    Janus tells no publisher who watches."""
    s, f = participants.get(pid), participants.get(feed)
    return (
        pid != feed
        and s is not None
        and f is not None
        and s.state is SessionState.JOINED
        and f.state is SessionState.JOINED
        and not f.hidden
    )
