"""The live state of one meeting, as folded from its event log.

:class:`LiveState` is what :class:`~frontdesk.domain.room.Room` decides on.
Only :meth:`LiveState.apply` changes it, and it reads nothing but the event and
the state, so replaying a meeting's stored events rebuilds the same state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from frontdesk.domain import events as ev
from frontdesk.domain.events import Event
from frontdesk.domain.model import Meeting
from frontdesk.domain.participants import (
    ChatMessage,
    LeaveReason,
    LobbyEntry,
    Participant,
    ParticipantView,
    SessionState,
    SupervisorMode,
)
from frontdesk.domain.snapshot import MeetingView, Snapshot
from frontdesk.errors import ParticipantNotFound

__all__ = ["Limits", "LiveState"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_chat_chars: int = 4000
    max_participants: int = 50  # joined + reconnecting
    max_lobby: int = 100
    max_unvouched_lobby: int = 50  # URL-only guests; the rest is kept for vouched ones
    max_chat_messages: int = 10_000
    lobby_timeout_s: float = 900
    reconnect_grace_s: float = 30
    idle_timeout_s: float = 8 * 3600  # ad hoc meetings only (no scheduled start)
    #: Supervisors monitoring at once (not counted in ``max_participants``: the
    #: guests must not find the meeting full because of people they cannot see).
    max_monitors: int = 5


class LiveState:
    """Participants, chat and sequence of one meeting; mutated by ``apply`` only."""

    def __init__(self, meeting: Meeting, limits: Limits, last_seq: int = 0) -> None:
        self.meeting = meeting
        self.limits = limits
        self.last_seq = last_seq
        self.ended = meeting.ended
        self.participants: dict[str, Participant] = {}
        self.chat: list[ChatMessage] = []
        self.chat_index: dict[tuple[str, str], ChatMessage] = {}
        #: Chat among agents and supervisors only, kept apart from the guests' chat.
        self.whispers: list[ChatMessage] = []
        self.whisper_index: dict[tuple[str, str], ChatMessage] = {}
        self.last_activity: datetime = meeting.created_at

    # --- folding events ------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one sequenced event in (ephemeral and already-seen ones are skipped)."""
        if event.seq is None or event.seq <= self.last_seq:
            return
        self.last_seq = event.seq
        self.last_activity = max(self.last_activity, event.at)
        match event.payload:
            case ev.ParticipantWaiting(participant=view, username=username, guest_app=app) as w:
                self.participants[view.id] = Participant.from_view(view, username, app, w.identity)
            case ev.ParticipantJoined(participant=view, username=username, guest_app=app) as j:
                # an admitted guest exists already
                self.participants.setdefault(
                    view.id, Participant.from_view(view, username, app, j.identity)
                )
            case ev.ParticipantAdmitted(participant_id=pid):
                p = self.participants[pid]
                p.lobby_since = None
                p.joined_at = event.at
                if p.state is SessionState.RECONNECTING:
                    p.resume_state = SessionState.JOINED
                else:
                    p.state = SessionState.JOINED
            case ev.ParticipantLeft(participant_id=pid, reason=reason):
                self._mark_left(self.participants[pid], reason)
            case ev.ParticipantReconnecting(participant_id=pid):
                p = self.participants[pid]
                p.resume_state = p.state
                p.state = SessionState.RECONNECTING
                p.reconnecting_since = event.at
            case ev.ParticipantReconnected(participant_id=pid):
                p = self.participants[pid]
                p.state = p.resume_state or SessionState.JOINED
                p.resume_state = None
                p.reconnecting_since = None
            case ev.MediaChanged() as media:
                p = self.participants[media.participant_id]
                p.audio_muted = media.audio_muted
                p.video_muted = media.video_muted
                p.hand_raised = media.hand_raised
                p.screen_sharing = media.screen_sharing
            case ev.ChatPosted() as chat:
                msg = chat.message(event.seq, event.at)
                self.chat.append(msg)
                self.chat_index[(msg.participant_id, msg.client_msg_id)] = msg
            case ev.WhisperPosted() as whisper:
                msg = whisper.message(event.seq, event.at)
                self.whispers.append(msg)
                self.whisper_index[(msg.participant_id, msg.client_msg_id)] = msg
            case ev.SupervisorBarged(participant_id=pid):
                p = self.participants[pid]
                p.supervisor = SupervisorMode.BARGED
                p.joined_at = event.at  # when the guests saw it come in
            case ev.PolicyChanged(access_policy=policy, lobby_bypass=bypass):
                self.meeting = dataclasses.replace(
                    self.meeting, access_policy=policy, lobby_bypass=bypass
                )
            case ev.MeetingEnded():
                self.ended = True
                if not self.meeting.ended:
                    self.meeting = self.meeting.ended_copy(event.at)
                for p in self.participants.values():
                    if p.active:
                        self._mark_left(p, LeaveReason.MEETING_ENDED)
            case _:  # denied (a left follows), lobby positions: nothing to fold
                pass

    def redact_chat(self, before: datetime) -> int:
        """Delete the text of chat messages sent before ``before`` (the chat
        retention policy), keeping who said something and when. Returns how many
        messages changed. Not an event: retention changes no session, and what
        is stored is redacted by the store, not replayed from here."""
        changed = 0
        for log, index in ((self.chat, self.chat_index), (self.whispers, self.whisper_index)):
            for i, msg in enumerate(log):
                if msg.redacted or msg.at >= before:
                    continue
                kept = msg.redacted_copy()
                log[i] = kept
                index[(kept.participant_id, kept.client_msg_id)] = kept
                changed += 1
        return changed

    @staticmethod
    def _mark_left(p: Participant, reason: LeaveReason) -> None:
        p.state = SessionState.LEFT
        p.left_reason = reason
        p.lobby_since = None
        p.reconnecting_since = None
        p.resume_state = None

    # --- queries -------------------------------------------------------------
    def get(self, participant_id: str) -> Participant:
        try:
            return self.participants[participant_id]
        except KeyError:
            raise ParticipantNotFound(f"no participant {participant_id!r}") from None

    def roster(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.in_roster]

    def roster_ids(self) -> set[str]:
        return {p.id for p in self.participants.values() if p.in_roster}

    def visible_roster(self) -> list[Participant]:
        """The roster as the guests see it: without monitoring supervisors."""
        return [p for p in self.participants.values() if p.in_roster and not p.hidden]

    def staff_ids(self) -> set[str]:
        """Agents and supervisors in the meeting: who may hear of a hidden
        supervisor and receive whispers."""
        return {p.id for p in self.participants.values() if p.in_roster and p.staff}

    def guest_roster_ids(self) -> set[str]:
        return {p.id for p in self.participants.values() if p.in_roster and not p.staff}

    def audience_of(self, p: Participant) -> set[str]:
        """Who in the roster may learn what ``p`` does: everyone, or only the
        agents and supervisors while ``p`` monitors unseen."""
        return self.staff_ids() if p.hidden else self.roster_ids()

    def sessions_of(self, identity: str | None) -> list[Participant]:
        """The active sessions of one person (none for an unknown identity)."""
        if identity is None:
            return []
        return [p for p in self.participants.values() if p.active and p.identity == identity]

    def monitors(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.active and p.hidden]

    def joined_ids(self) -> set[str]:
        return {p.id for p in self.participants.values() if p.state is SessionState.JOINED}

    def moderator_ids(self) -> set[str]:
        return {p.id for p in self.participants.values() if p.in_roster and p.role.moderates}

    def active_ids(self) -> set[str]:
        return {p.id for p in self.participants.values() if p.active}

    def lobby(self) -> list[Participant]:
        """Waiting guests in arrival order (a guest enters the lobby only at join)."""
        return [p for p in self.participants.values() if p.in_lobby]

    def organizer_present(self) -> bool:
        """Someone who can admit (an organizer or presenter) is in the meeting."""
        return any(
            p.in_roster and p.role.moderates and not p.hidden for p in self.participants.values()
        )

    def lobby_timeout_at(self, p: Participant) -> datetime | None:
        if p.lobby_since is None:
            return None
        return p.lobby_since + timedelta(seconds=self.limits.lobby_timeout_s)

    def lobby_view(self) -> dict[str, tuple[int, bool]]:
        """Each waiting guest's (position, organizer_present), to notice changes."""
        lobby = self.lobby()
        if not lobby:
            return {}
        present = self.organizer_present()
        return {p.id: (i, present) for i, p in enumerate(lobby, start=1)}

    def idle_deadline(self) -> datetime | None:
        """When an ad hoc meeting nobody is in expires (None while someone is in)."""
        if self.ended or self.meeting.start is not None:
            return None
        if any(p.active for p in self.participants.values()):
            return None
        return self.last_activity + timedelta(seconds=self.limits.idle_timeout_s)

    def next_deadline(self) -> datetime | None:
        if self.ended:
            return None
        grace = timedelta(seconds=self.limits.reconnect_grace_s)
        times: list[datetime] = []
        for p in self.participants.values():
            timeout_at = self.lobby_timeout_at(p) if p.in_lobby else None
            if timeout_at is not None:
                times.append(timeout_at)
            if p.state is SessionState.RECONNECTING and p.reconnecting_since is not None:
                times.append(p.reconnecting_since + grace)
        idle = self.idle_deadline()
        if idle is not None:
            times.append(idle)
        return min(times, default=None)

    def lobby_entry(self, p: Participant) -> LobbyEntry:
        return LobbyEntry(
            participant_id=p.id,
            display_name=p.display_name,
            role=p.role,
            method=p.method,
            vouched=p.vouched,
            state=p.state,
            waiting_since=p.lobby_since,
            timeout_at=self.lobby_timeout_at(p),
            visit_id=p.visit_id,
        )

    def may_read_chat(self, participant_id: str) -> bool:
        """Chat (snapshot and history) is for participants in the meeting, not
        for guests still waiting in the lobby nor for those who left."""
        return self.get(participant_id).in_roster

    def seen_by_guests(self) -> list[Participant]:
        """Everyone in the meeting or its lobby as a guest may know of them (no
        monitoring supervisor): what an application reading the meeting sees."""
        return [p for p in self.participants.values() if p.active and not p.hidden]

    def snapshot_for(self, participant_id: str) -> Snapshot:
        me = self.get(participant_id)
        if not me.staff:
            return self._guest_snapshot(me)
        return self._snapshot(me, tuple(p.view() for p in self.roster()), self.whispers)

    def _guest_snapshot(self, me: Participant) -> Snapshot:
        """A guest's snapshot: no monitoring supervisor, no whisper."""
        return self._snapshot(me, tuple(p.guest_view() for p in self.visible_roster()), ())

    def _snapshot(
        self, me: Participant, roster: tuple[ParticipantView, ...], whispers: Sequence[ChatMessage]
    ) -> Snapshot:
        inside = me.in_roster
        position: int | None = None
        if me.in_lobby:
            position = [p.id for p in self.lobby()].index(me.id) + 1
        m = self.meeting
        return Snapshot(
            meeting=MeetingView(
                id=m.id,
                subject=m.subject,
                access_policy=m.access_policy,
                lobby_bypass=m.lobby_bypass,
                state=m.state,
                ended=self.ended,
            ),
            me=me.view(),
            roster=roster if inside else (),
            lobby=(
                tuple(self.lobby_entry(p) for p in self.lobby())
                if inside and me.role.moderates
                else ()
            ),
            chat=tuple(self.chat) if inside else (),
            lobby_position=position,
            organizer_present=self.organizer_present() if me.in_lobby else None,
            timeout_at=self.lobby_timeout_at(me) if me.in_lobby else None,
            last_seq=self.last_seq,
            whispers=tuple(whispers) if inside else (),
        )
