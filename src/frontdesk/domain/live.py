"""The live state of one meeting, as folded from its event log.

:class:`LiveState` is what :class:`~frontdesk.domain.room.Room` decides on.
Only :meth:`LiveState.apply` changes it, and it reads nothing but the event and
the state, so replaying a meeting's stored events rebuilds the same state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from frontdesk.domain.events import Event, EventType
from frontdesk.domain.model import AccessPolicy, LobbyBypass, Meeting
from frontdesk.domain.participants import (
    ChatMessage,
    LeaveReason,
    Participant,
    SessionState,
    format_time,
)
from frontdesk.errors import ParticipantNotFound

__all__ = ["Limits", "LiveState"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_chat_chars: int = 4000
    max_participants: int = 50  # joined + reconnecting
    max_lobby: int = 100
    max_chat_messages: int = 10_000
    lobby_timeout_s: float = 900
    reconnect_grace_s: float = 30
    idle_timeout_s: float = 8 * 3600  # ad hoc meetings only (no scheduled start)


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
        self.last_activity: datetime = meeting.created_at

    # --- folding events ------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one sequenced event in (ephemeral and already-seen ones are skipped)."""
        if event.seq is None or event.seq <= self.last_seq:
            return
        self.last_seq = event.seq
        self.last_activity = max(self.last_activity, event.at)
        handler = _APPLY.get(event.type)
        if handler is not None:  # types of a newer version change nothing known here
            handler(self, event)

    def _waiting(self, event: Event) -> None:
        p = Participant.from_public(event.data["participant"])
        self.participants[p.id] = p

    def _joined(self, event: Event) -> None:
        p = Participant.from_public(event.data["participant"])
        self.participants.setdefault(p.id, p)  # an admitted guest exists already

    def _admitted(self, event: Event) -> None:
        p = self.participants[event.data["participant_id"]]
        p.lobby_since = None
        p.joined_at = event.at
        if p.state is SessionState.RECONNECTING:
            p.resume_state = SessionState.JOINED
        else:
            p.state = SessionState.JOINED

    def _left(self, event: Event) -> None:
        self._mark_left(self.participants[event.data["participant_id"]], event.data["reason"])

    @staticmethod
    def _mark_left(p: Participant, reason: str) -> None:
        p.state = SessionState.LEFT
        p.left_reason = LeaveReason(reason)
        p.lobby_since = None
        p.reconnecting_since = None
        p.resume_state = None

    def _reconnecting(self, event: Event) -> None:
        p = self.participants[event.data["participant_id"]]
        p.resume_state = p.state
        p.state = SessionState.RECONNECTING
        p.reconnecting_since = event.at

    def _reconnected(self, event: Event) -> None:
        p = self.participants[event.data["participant_id"]]
        p.state = p.resume_state or SessionState.JOINED
        p.resume_state = None
        p.reconnecting_since = None

    def _media(self, event: Event) -> None:
        p = self.participants[event.data["participant_id"]]
        p.audio_muted = bool(event.data["audio_muted"])
        p.video_muted = bool(event.data["video_muted"])
        p.hand_raised = bool(event.data["hand_raised"])

    def _chat(self, event: Event) -> None:
        assert event.seq is not None
        d = event.data
        msg = ChatMessage(
            seq=event.seq,
            participant_id=d["participant_id"],
            display_name=d["display_name"],
            text=d["text"],
            client_msg_id=d["client_msg_id"],
            at=event.at,
        )
        self.chat.append(msg)
        self.chat_index[(msg.participant_id, msg.client_msg_id)] = msg

    def _policy(self, event: Event) -> None:
        self.meeting = dataclasses.replace(
            self.meeting,
            access_policy=AccessPolicy(event.data["access_policy"]),
            lobby_bypass=LobbyBypass(event.data["lobby_bypass"]),
        )

    def _ended(self, event: Event) -> None:
        self.ended = True
        if not self.meeting.ended:
            self.meeting = self.meeting.ended_copy(event.at)
        for p in self.participants.values():
            if p.active:
                self._mark_left(p, LeaveReason.MEETING_ENDED)

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
        return any(p.in_roster and p.role.moderates for p in self.participants.values())

    def lobby_timeout_at(self, p: Participant) -> datetime | None:
        if p.lobby_since is None:
            return None
        return p.lobby_since + timedelta(seconds=self.limits.lobby_timeout_s)

    def lobby_view(self) -> dict[str, tuple[int, bool]]:
        """Each waiting guest's (position, organizer_present), to notice changes."""
        present = self.organizer_present()
        return {p.id: (i, present) for i, p in enumerate(self.lobby(), start=1)}

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

    def lobby_entry(self, p: Participant) -> dict[str, Any]:
        return {
            "participant_id": p.id,
            "display_name": p.display_name,
            "role": p.role.value,
            "method": p.method.value,
            "vouched": p.vouched,
            "state": p.state.value,
            "waiting_since": format_time(p.lobby_since),
            "timeout_at": format_time(self.lobby_timeout_at(p)),
        }

    def snapshot_for(self, participant_id: str) -> dict[str, Any]:
        me = self.get(participant_id)
        inside = me.in_roster
        position: int | None = None
        if me.in_lobby:
            position = [p.id for p in self.lobby()].index(me.id) + 1
        m = self.meeting
        return {
            "meeting": {
                "id": m.id,
                "subject": m.subject,
                "organizer": m.organizer,
                "access_policy": m.access_policy.value,
                "lobby_bypass": m.lobby_bypass.value,
                "state": m.state.value,
                "ended": self.ended,
            },
            "me": me.public(),
            "roster": [p.public() for p in self.roster()] if inside else [],
            "lobby": (
                [self.lobby_entry(p) for p in self.lobby()] if inside and me.role.moderates else []
            ),
            "chat": [c.to_dict() for c in self.chat] if inside else [],
            "lobby_position": position,
            "organizer_present": self.organizer_present() if me.in_lobby else None,
            "timeout_at": format_time(self.lobby_timeout_at(me)) if me.in_lobby else None,
            "last_seq": self.last_seq,
        }


_APPLY: dict[str, Callable[[LiveState, Event], None]] = {
    EventType.PARTICIPANT_WAITING: LiveState._waiting,
    EventType.PARTICIPANT_JOINED: LiveState._joined,
    EventType.PARTICIPANT_ADMITTED: LiveState._admitted,
    EventType.PARTICIPANT_LEFT: LiveState._left,
    EventType.PARTICIPANT_RECONNECTING: LiveState._reconnecting,
    EventType.PARTICIPANT_RECONNECTED: LiveState._reconnected,
    EventType.MEDIA_CHANGED: LiveState._media,
    EventType.CHAT_MESSAGE: LiveState._chat,
    EventType.POLICY_CHANGED: LiveState._policy,
    EventType.MEETING_ENDED: LiveState._ended,
}
