"""Meetings: created, read, listed, changed and ended, and the URLs that lead
into one (join URL, discovery URI, RTC URL, all shaped by
:mod:`frontdesk.protocol.urls`).

A change is written over the revision it was read at, so a concurrent end or
change is never overwritten; an application sees only its own meetings and
those made by no application.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime

from frontdesk.config import Settings
from frontdesk.domain.model import (
    MAX_SUBJECT,
    UNSET,
    AccessPolicy,
    App,
    LobbyBypass,
    Meeting,
    MeetingState,
    Unset,
    new_join_code,
    new_meeting_id,
)
from frontdesk.errors import Conflict, MeetingNotFound, UserNotFound, ValidationFailed
from frontdesk.protocol import urls
from frontdesk.server.timing import backoff
from frontdesk.store.base import Store

__all__ = ["Meetings", "subject_or_default"]

# How often a meeting change is re-read and re-applied when another won the race
# (with a short, growing, jittered pause between attempts).
_WRITE_ATTEMPTS = 8

#: How old a meeting record read for a join (or a discovery) may be. Changes made
#: through this node replace it at once; another node's (or the CLI's) change is
#: seen within this. A meeting ended elsewhere is refused anyway when its room is
#: loaded (read from the store) and, when live here, as the change reaches its host.
RECENT_S = 1.0
_RECENT_MAX = 20_000


class Meetings:
    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        # meeting id -> (monotonic time read, the meeting as stored)
        self._recent: dict[str, tuple[float, Meeting]] = {}

    async def create(
        self,
        *,
        subject: str,
        organizer: str,
        start: datetime | None = None,
        end: datetime | None = None,
        access_policy: AccessPolicy = AccessPolicy.LOBBY,
        lobby_bypass: LobbyBypass = LobbyBypass.NONE,
        app_id: str | None = None,
    ) -> Meeting:
        try:
            user = await self._store.get_user(organizer)
        except UserNotFound:
            raise ValidationFailed(f"organizer {organizer!r} is not a Frontdesk user") from None
        subject = subject_or_default(subject, user.display_name)
        meeting = self.prepare(
            subject=subject,
            organizer=organizer,
            start=start,
            end=end,
            access_policy=access_policy,
            lobby_bypass=lobby_bypass,
            app_id=app_id,
        )
        await self._store.create_meeting(meeting)
        self._remember(meeting)
        return meeting

    def prepare(
        self,
        *,
        subject: str,
        organizer: str,
        start: datetime | None = None,
        end: datetime | None = None,
        access_policy: AccessPolicy = AccessPolicy.LOBBY,
        lobby_bypass: LobbyBypass = LobbyBypass.NONE,
        app_id: str | None = None,
    ) -> Meeting:
        """A new meeting, not stored: whoever stores it (the helpdesk, with the
        visit it is made for) checked the organizer and calls :meth:`stored`."""
        now = self._clock()
        scheduled = start is not None and start > now
        meeting = Meeting(
            id=new_meeting_id(),
            join_code=new_join_code(),
            subject=subject,
            organizer=organizer,
            created_at=now,
            access_policy=access_policy,
            lobby_bypass=lobby_bypass,
            start=start,
            end=end,
            state=MeetingState.SCHEDULED if scheduled else MeetingState.ACTIVE,
            created_by_app=app_id,
        )
        return meeting

    def stored(self, meeting: Meeting) -> None:
        """A meeting from :meth:`prepare` was stored (joins read it from here)."""
        self._remember(meeting)

    def changed_elsewhere(self, meeting_id: str) -> None:
        """A meeting was changed in another service's transaction (its
        organizer handed over with a helpdesk decision): read it afresh."""
        self._recent.pop(meeting_id, None)

    async def get(self, meeting_id: str) -> Meeting:
        meeting = await self._store.get_meeting(meeting_id)
        self._remember(meeting)
        return meeting.as_of(self._clock())

    async def recent(self, meeting_id: str) -> Meeting:
        """The meeting, as read at most :data:`RECENT_S` ago (see there): what a
        join checks before its room, which is authoritative, takes it."""
        seen = self._recent.get(meeting_id)
        if seen is not None and time.monotonic() - seen[0] <= RECENT_S:
            return seen[1].as_of(self._clock())
        return await self.get(meeting_id)

    def _remember(self, meeting: Meeting) -> None:
        recent = self._recent
        if len(recent) >= _RECENT_MAX:
            recent.clear()
        recent[meeting.id] = (time.monotonic(), meeting)

    async def for_app(self, meeting_id: str, app: App | None) -> Meeting:
        """A meeting the application may see: one it made, or one made by no
        application (an agent's, from the console or the CLI). Another
        application's meeting is answered as not found, not as forbidden.
        ``app=None`` is the operator (CLI) or an agent: every meeting."""
        meeting = await self.get(meeting_id)
        if app is not None and meeting.created_by_app not in (None, app.client_id):
            raise MeetingNotFound(f"no meeting {meeting_id!r}")
        return meeting

    async def find(
        self,
        *,
        organizer: str | None = None,
        state: MeetingState | None = None,
        visible_to_app: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Meeting]:
        now = self._clock()
        found = await self._store.list_meetings(
            organizer=organizer,
            state=state,
            visible_to_app=visible_to_app,
            now=now,
            limit=limit,
            offset=offset,
        )
        return [m.as_of(now) for m in found]

    async def update(
        self,
        meeting_id: str,
        *,
        app: App | None = None,
        subject: str | None = None,
        start: datetime | Unset | None = UNSET,
        end: datetime | Unset | None = UNSET,
        access_policy: AccessPolicy | None = None,
        lobby_bypass: LobbyBypass | None = None,
    ) -> Meeting:
        """Change an open meeting: an ended one answers ``meeting_ended``."""
        return await self._write_over_revision(
            meeting_id,
            app,
            lambda meeting: meeting.updated(
                subject=subject,
                start=start,
                end=end,
                access_policy=access_policy,
                lobby_bypass=lobby_bypass,
            ).as_of(self._clock()),
        )

    async def end(self, meeting_id: str, *, app: App | None = None) -> Meeting:
        """End a meeting (idempotent): its tokens and join URL stop working."""
        try:
            return await self._write_over_revision(
                meeting_id,
                app,
                lambda meeting: meeting if meeting.ended else meeting.ended_copy(self._clock()),
            )
        except Conflict:
            return await self.get(meeting_id)

    async def _write_over_revision(
        self, meeting_id: str, app: App | None, change: Callable[[Meeting], Meeting]
    ) -> Meeting:
        """Read the meeting, apply ``change`` and write the result over the revision
        it was made from, so a concurrent end or change is never overwritten. The
        loser of a race (``Conflict``, or ``MeetingEnded`` meanwhile) re-reads and
        re-applies: ``change`` then sees the ended meeting. ``change`` returning the
        meeting itself means there is nothing to write."""
        for attempt in range(_WRITE_ATTEMPTS):
            meeting = await self.for_app(meeting_id, app)
            updated = change(meeting)
            if updated is meeting:
                return meeting
            try:
                await self._store.update_meeting(updated)
            except Conflict:  # MeetingEnded is one too
                self._recent.pop(meeting_id, None)
                await backoff(attempt)
                continue
            self._remember(updated)
            return updated
        raise Conflict(f"meeting {meeting_id} is being changed by others; try again")

    async def for_join_code(self, join_code: str) -> Meeting:
        if not join_code or len(join_code) > urls.MAX_JOIN_CODE:
            raise MeetingNotFound()
        return await self._store.get_meeting_by_join_code(join_code)

    def join_url(self, meeting: Meeting) -> str:
        return urls.join_url(self._settings.base_url, meeting.join_code)

    def discovery_uri(self, meeting_id: str) -> str:
        return urls.discovery_uri(self._settings.base_url, meeting_id)


def subject_or_default(subject: str, organizer_name: str) -> str:
    """The subject, or "Meeting with" the organizer when none was given: guests
    read it on the meeting's page and invitation, and a meeting made without one
    (``frontdesk meetings create`` without --subject, an empty console form)
    would otherwise show as untitled."""
    if isinstance(subject, str) and not subject.strip():
        return f"Meeting with {organizer_name}"[:MAX_SUBJECT]
    return subject
