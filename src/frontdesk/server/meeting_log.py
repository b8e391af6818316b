"""What happened in meetings, as stored: the meeting record and its event log.

The live rooms restore from it (the meeting as stored, its events folded over
it), a resumed connection replays the events it missed, and housekeeping finds
the ad hoc meetings nothing happened in for a while.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from frontdesk.domain.model import Meeting
from frontdesk.store.base import EventRecord, Store

__all__ = ["MeetingLog"]


class MeetingLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def meeting(self, meeting_id: str) -> Meeting:
        """The meeting as stored (not advanced to the clock: the room folds its
        own events over it)."""
        return await self._store.get_meeting(meeting_id)

    async def events_since(self, meeting_id: str, after_seq: int) -> Sequence[EventRecord]:
        """The meeting's events with ``seq > after_seq``, in order."""
        return await self._store.events_since(meeting_id, after_seq)

    async def last_seq(self, meeting_id: str) -> int:
        """The highest stored seq of the meeting, 0 when none."""
        return await self._store.last_seq(meeting_id)

    async def idle_meetings(self, before: datetime) -> Sequence[str]:
        """Open ad hoc meetings with nothing stored since ``before``."""
        return await self._store.idle_meetings(before)

    async def open_meetings_of(self, organizer: str, limit: int = 200) -> list[Meeting]:
        """``organizer``'s newest meetings that have not ended (at most ``limit``)."""
        recent = await self._store.list_meetings(organizer=organizer, limit=limit)
        return [m for m in recent if not m.ended]
