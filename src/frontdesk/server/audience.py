"""Which applications may read what happens inside a meeting.

One rule for every way an application learns about people in a meeting — the
service API's participant list and the webhooks — so that the two cannot drift:

* a meeting **created by application X** is read by X alone;
* a meeting **created by no application** (an agent's, from the console, the user
  API or the CLI) is read by the applications that *vouched a guest into it*:
  those whose guest token a guest presented, and the node accepted, to join it
  (the token's ``app_id`` claim, noted in the store by :func:`note_guest_app` as
  the guest joins or enters the lobby). An application that merely can see the
  meeting (any application can look up an agent's meeting and mint tokens for
  it, see ``Meetings.for_app``) learns nothing of the people in it
  until one of its own guests is let in; from then on it reads what its guest
  reads in the meeting.

What an application reads is what its guests are shown: a supervisor
monitoring unseen and the whispers among agents are left out of both (the
meeting core marks those events ``staff_only`` and leaves the monitors out of
``Room.seen_by_guests``).

The operator and the agents (``app=None`` callers) are not limited by this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from frontdesk.domain.model import Meeting
from frontdesk.store.base import Store

__all__ = ["Audience", "may_read", "note_guest_app", "readers"]


async def readers(store: Store, meeting: Meeting) -> frozenset[str]:
    """The client ids of the applications that may read the meeting's participants
    and events (the rule of the module docstring)."""
    if meeting.created_by_app is not None:
        return frozenset({meeting.created_by_app})
    return await store.meeting_guest_apps(meeting.id)


async def may_read(store: Store, meeting: Meeting, app_id: str) -> bool:
    """Whether application ``app_id`` may read the meeting's participants and events."""
    return app_id in await readers(store, meeting)


async def note_guest_app(store: Store, meeting: Meeting, app_id: str | None, now: datetime) -> None:
    """Record that ``app_id``'s guest token let a guest into an agent's meeting.

    Called before the join is run, so that the webhook of the guest's own
    ``participant.joined`` or ``lobby.waiting`` already finds its application.
    Nothing to note for a meeting made by an application: it is that
    application's alone, and only it can mint tokens for it."""
    if app_id is None or meeting.created_by_app is not None:
        return
    await store.add_meeting_guest_app(meeting.id, app_id, now)


class Audience:
    """The rule of the module over one store, for callers that hold no store."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def may_read(self, meeting: Meeting, app_id: str) -> bool:
        return await may_read(self._store, meeting, app_id)

    async def note_guest_app(self, meeting: Meeting, app_id: str | None) -> None:
        await note_guest_app(self._store, meeting, app_id, self._clock())
