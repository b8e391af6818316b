"""One live meeting as a sans-I/O state machine: ``handle(command, now) -> events``.

Every rule of a live meeting is decided here, once: who joins directly and who
waits in the lobby, who may admit, mute, remove or end, what chat is accepted.
``handle`` first checks everything and raises a :mod:`frontdesk.errors` error
without touching the state; only then does it create the events, each folded
into the state by :meth:`LiveState.apply` as it is created. The transport
stores and delivers the events; :meth:`Room.restore` folds stored events back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from frontdesk.domain import events as ev
from frontdesk.domain.commands import (
    Admit,
    Barge,
    Command,
    Deny,
    Disconnect,
    EndBySystem,
    EndMeeting,
    Join,
    Leave,
    MuteParticipant,
    Reconnect,
    Remove,
    SendChat,
    SetMedia,
    SetPolicy,
    Tick,
    Typing,
    Whisper,
)
from frontdesk.domain.events import Event
from frontdesk.domain.live import Limits, LiveState
from frontdesk.domain.model import (
    AccessPolicy,
    LobbyBypass,
    Meeting,
    Role,
    check_display_name,
    ensure_supervisor,
    guest_token_role,
)
from frontdesk.domain.participants import (
    ChatMessage,
    JoinMethod,
    LeaveReason,
    Participant,
    SessionState,
    SupervisorMode,
)
from frontdesk.domain.snapshot import Snapshot
from frontdesk.domain.text import has_surrogate
from frontdesk.errors import (
    IllegalState,
    LimitExceeded,
    MeetingEnded,
    ParticipantNotFound,
    PermissionDenied,
    ValidationFailed,
)

__all__ = ["MAX_CLIENT_MSG_ID", "MAX_IDENTITY", "MAX_PARTICIPANT_ID", "Room"]

MAX_PARTICIPANT_ID = 128
MAX_IDENTITY = 200
MAX_CLIENT_MSG_ID = 64
_E = TypeVar("_E", bound=StrEnum)
#: Reasons a session ends by itself or by its transport (not by a moderator).
_SELF_LEAVE_REASONS = (
    LeaveReason.LEFT,
    LeaveReason.TOKEN_EXPIRED,
    LeaveReason.CONNECTION_LOST,
    LeaveReason.REVOKED,
)
_MEDIA_FIELDS = ("audio_muted", "video_muted", "hand_raised", "screen_sharing")
#: Commands that change nobody's session state nor role, so no lobby position.
_LOBBY_NEUTRAL: frozenset[type[Command]] = frozenset(
    {SendChat, Whisper, Typing, SetMedia, MuteParticipant, SetPolicy}
)


class _Batch:
    """The events of one ``handle`` call; each is applied as it is created."""

    def __init__(self, state: LiveState, now: datetime) -> None:
        self.state = state
        self.now = now
        self.events: list[Event] = []

    def emit(
        self, payload: ev.EventPayload, to: Iterable[str], *, staff_only: bool = False
    ) -> None:
        event = Event(self.state.last_seq + 1, self.now, payload, frozenset(to), staff_only)
        self.state.apply(event)
        self.events.append(event)

    def signal(
        self, payload: ev.EventPayload, to: Iterable[str], *, staff_only: bool = False
    ) -> None:
        self.events.append(Event(None, self.now, payload, frozenset(to), staff_only))


class Room:
    """One live meeting. Not thread-safe: one task owns it and calls ``handle``."""

    def __init__(self, meeting: Meeting, limits: Limits = Limits(), *, last_seq: int = 0) -> None:
        self._s = LiveState(meeting, limits, last_seq)

    @classmethod
    def restore(cls, meeting: Meeting, events: Iterable[Event], limits: Limits = Limits()) -> Room:
        """Rebuild a room from its stored events (the meeting as it was created)."""
        room = cls(meeting, limits)
        room.catch_up(events)
        return room

    def catch_up(self, events: Iterable[Event]) -> None:
        """Apply stored events newer than :attr:`last_seq` (a read-only copy of
        a room hosted elsewhere follows it this way)."""
        for event in sorted((e for e in events if e.seq is not None), key=_seq):
            if _seq(event) > self._s.last_seq:
                self._s.apply(event)

    # --- reading -------------------------------------------------------------
    @property
    def last_seq(self) -> int:
        return self._s.last_seq

    @property
    def ended(self) -> bool:
        return self._s.ended

    @property
    def meeting(self) -> Meeting:
        return self._s.meeting

    @property
    def limits(self) -> Limits:
        return self._s.limits

    @property
    def participants(self) -> Mapping[str, Participant]:
        return MappingProxyType(self._s.participants)

    @property
    def chat(self) -> Sequence[ChatMessage]:
        return self._s.chat

    @property
    def whispers(self) -> Sequence[ChatMessage]:
        """Chat among agents and supervisors (never in a guest's chat)."""
        return self._s.whispers

    def find_whisper(self, participant_id: str, client_msg_id: str) -> ChatMessage | None:
        return self._s.whisper_index.get((participant_id, client_msg_id))

    def seen_by_guests(self) -> list[Participant]:
        """Who is in the meeting or its lobby as its guests (and the applications
        that read what their guests read) may know: no monitoring supervisor, and
        a supervisor who barged in as a plain participant."""
        return [dataclasses.replace(p, supervisor=None) for p in self._s.seen_by_guests()]

    def participant(self, participant_id: str) -> Participant:
        return self._s.get(participant_id)

    def roster(self) -> list[Participant]:
        """Joined and reconnecting participants, in joining order."""
        return self._s.roster()

    def lobby(self) -> list[Participant]:
        return self._s.lobby()

    def find_chat(self, participant_id: str, client_msg_id: str) -> ChatMessage | None:
        return self._s.chat_index.get((participant_id, client_msg_id))

    def snapshot_for(self, participant_id: str) -> Snapshot:
        return self._s.snapshot_for(participant_id)

    def chat_history(
        self, participant_id: str, before_seq: int, limit: int
    ) -> tuple[list[ChatMessage], bool]:
        """Up to ``limit`` chat messages older than ``before_seq``, oldest first, and
        whether there are older ones still; refused to anyone not in the meeting
        (a guest in the lobby, someone who left)."""
        if not self._s.may_read_chat(participant_id):
            raise PermissionDenied("chat history is for participants in the meeting")
        older = [c for c in self._s.chat if c.seq < before_seq]
        return (older[-limit:] if limit > 0 else []), len(older) > limit

    def next_deadline(self) -> datetime | None:
        return self._s.next_deadline()

    def redact_chat(self, before: datetime) -> int:
        """Apply the chat retention policy to the chat held in memory: the text of
        messages sent before ``before`` is deleted (see :meth:`LiveState.redact_chat`)."""
        return self._s.redact_chat(before)

    def can_signal(self, sender: str, target: str) -> bool:
        """Whether ``sender`` may relay WebRTC signals to ``target``: both in the
        meeting, and a monitoring supervisor only with agents (it never sends
        media to a guest, and no guest learns it is there)."""
        s, t = self._s.participants.get(sender), self._s.participants.get(target)
        return (
            sender != target
            and s is not None
            and t is not None
            and s.state is SessionState.JOINED
            and t.state is SessionState.JOINED
            and (not s.hidden or t.staff)
            and (not t.hidden or s.staff)
        )

    # --- deciding ------------------------------------------------------------
    def handle(self, command: Command, now: datetime) -> list[Event]:
        """Decide on ``command``: the events it causes, or a typed error and no change."""
        if now.tzinfo is None:
            raise ValidationFailed("now must carry a time zone")
        if self._s.ended:
            if isinstance(command, Tick):
                return []
            raise MeetingEnded(f"meeting {self._s.meeting.id} has ended")
        handler = _HANDLERS.get(type(command))
        if handler is None:
            raise ValidationFailed(f"unknown command {type(command).__name__}")
        # Chat, typing, media and policy leave the lobby and who may admit as
        # they are: their guests' positions are not even looked at.
        before = None if type(command) in _LOBBY_NEUTRAL else self._s.lobby_view()
        batch = _Batch(self._s, now)
        handler(self, command, batch)
        if before is not None and batch.events and not self._s.ended:
            self._announce_lobby_positions(before, batch)
        return batch.events

    def _announce_lobby_positions(self, before: dict[str, tuple[int, bool]], b: _Batch) -> None:
        after = self._s.lobby_view()
        for pid, (position, present) in after.items():
            if before.get(pid) == (position, present):
                continue
            timeout_at = self._s.lobby_timeout_at(self._s.participants[pid])
            b.emit(ev.LobbyPosition(pid, position, present, timeout_at), {pid})

    # Checks shared by several commands (they raise; they never change state).
    def _actor(self, actor: str) -> Participant:
        p = self._s.get(actor)
        if p.state is SessionState.LEFT:
            raise IllegalState(f"participant {actor!r} has left", reason=_reason(p))
        return p

    def _joined(self, actor: str) -> Participant:
        p = self._actor(actor)
        if p.state is not SessionState.JOINED:
            raise IllegalState(f"participant {actor!r} is {p.state.value}, not joined")
        return p

    def _moderator(self, actor: str) -> Participant:
        p = self._actor(actor)
        if not p.role.moderates:
            raise PermissionDenied(f"the {p.role.value} role may not moderate")
        if p.hidden:
            raise PermissionDenied("a monitoring supervisor does not moderate: barge in first")
        if p.state is not SessionState.JOINED:
            raise IllegalState(f"moderator {actor!r} is {p.state.value}, not joined")
        return p

    def _target(self, actor: Participant, participant_id: str) -> Participant:
        """The participant an action is aimed at; a monitoring supervisor does not
        exist for a guest (the same answer as an unknown id)."""
        target = self._s.get(participant_id)
        if target.hidden and not actor.staff:
            raise ParticipantNotFound(f"no participant {participant_id!r}")
        return target

    def _check_room_for_one_more(self, replacing: Sequence[Participant] = ()) -> None:
        # Counted as the guests see the roster: monitoring supervisors aside, and
        # the sessions a rejoin replaces (they leave as it comes in).
        gone = {p.id for p in replacing}
        roster = [p for p in self._s.visible_roster() if p.id not in gone]
        if len(roster) >= self._s.limits.max_participants:
            raise LimitExceeded(f"at most {self._s.limits.max_participants} participants")

    def _left_audience(self, p: Participant) -> set[str]:
        """Who learns that ``p`` left: the roster (its staff for a monitoring
        supervisor), or moderators and ``p`` from the lobby."""
        if p.in_roster:
            return self._s.audience_of(p) | {p.id}
        return self._s.moderator_ids() | {p.id}

    # --- one method per command ------------------------------------------------
    def _join(self, c: Join, b: _Batch) -> None:
        s = self._s
        pid = c.participant_id
        if not isinstance(pid, str) or not 0 < len(pid) <= MAX_PARTICIPANT_ID:
            raise ValidationFailed(f"participant_id must be 1..{MAX_PARTICIPANT_ID} characters")
        if pid in s.participants:
            raise IllegalState(f"participant id {pid!r} was used already; join with a new id")
        name = check_display_name(c.display_name)
        identity = c.identity
        if identity is not None and (
            not isinstance(identity, str) or not 0 < len(identity) <= MAX_IDENTITY
        ):
            raise ValidationFailed(f"an identity is 1..{MAX_IDENTITY} characters")
        # The same person's sessions still holding a seat (a reload, a second
        # tab): this join replaces them. One admitted already comes straight back
        # in; one removed or denied has no session left to come back to.
        stale = s.sessions_of(identity)
        came_back = any(p.in_roster for p in stale)
        method, role, meeting = _enum(JoinMethod, c.method), _enum(Role, c.role), s.meeting
        if c.monitor:
            self._check_monitor(c, method, role)
        if method is JoinMethod.USER:
            if role is Role.GUEST:
                raise ValidationFailed("a signed-in user joins as organizer, presenter or attendee")
            if not c.username:
                raise ValidationFailed("a user join needs the username")
            if role is Role.ORGANIZER and c.username != meeting.organizer:
                raise PermissionDenied("only the meeting's organizer joins as organizer")
            state = SessionState.JOINED
        elif method is JoinMethod.TOKEN:
            try:
                guest_token_role(role)
            except ValidationFailed as exc:
                raise PermissionDenied(exc.detail) from None
            direct = (
                came_back
                or meeting.access_policy is AccessPolicy.DIRECT
                or meeting.lobby_bypass is LobbyBypass.TOKEN_HOLDERS
            )
            state = SessionState.JOINED if direct else SessionState.LOBBY
        else:
            if role is not Role.GUEST:
                raise PermissionDenied("joining with the URL alone gives the guest role")
            if meeting.access_policy is AccessPolicy.DENY:
                raise PermissionDenied("this meeting needs a guest token to join")
            direct = came_back or meeting.access_policy is AccessPolicy.DIRECT
            state = SessionState.JOINED if direct else SessionState.LOBBY
        if c.monitor:
            pass  # counted apart (max_monitors, checked above)
        elif state is SessionState.JOINED:
            self._check_room_for_one_more(stale)
        else:
            waiting = [p for p in s.lobby() if p not in stale]
            if len(waiting) >= s.limits.max_lobby:
                raise LimitExceeded(f"at most {s.limits.max_lobby} guests may wait in the lobby")
            unvouched = sum(1 for p in waiting if not p.vouched)
            if method is JoinMethod.URL and unvouched >= s.limits.max_unvouched_lobby:
                raise LimitExceeded("the lobby is full for guests without an invitation")
        p = Participant(
            id=pid,
            display_name=name,
            role=role,
            method=method,
            state=state,
            username=c.username if method is JoinMethod.USER else None,
            guest_app=c.guest_app if method is JoinMethod.TOKEN else None,
            visit_id=c.visit_id if method is JoinMethod.TOKEN else None,
            vouched=method is not JoinMethod.URL,
            lobby_since=b.now if state is SessionState.LOBBY else None,
            joined_at=b.now if state is SessionState.JOINED else None,
            identity=identity,
        )
        for old in stale:
            self._emit_left(b, old, LeaveReason.REPLACED)
        if c.monitor:  # receives only, shown to the agents alone
            p.audio_muted = p.video_muted = True
            p.supervisor = SupervisorMode.MONITOR
            joined = ev.ParticipantJoined(p.view(), p.username, identity=identity)
            b.emit(joined, s.staff_ids() | {pid}, staff_only=True)
        elif state is SessionState.LOBBY:
            waiting_ev = ev.ParticipantWaiting(p.view(), p.username, p.guest_app, identity)
            b.emit(waiting_ev, s.moderator_ids())
        else:
            joined = ev.ParticipantJoined(p.view(), p.username, p.guest_app, identity)
            b.emit(joined, s.roster_ids() | {pid})

    def _check_monitor(self, c: Join, method: JoinMethod, role: Role) -> None:
        """A monitor join: a signed-in supervisor, not the organizer, within the cap."""
        if method is not JoinMethod.USER:
            raise PermissionDenied("only a signed-in supervisor may monitor a meeting")
        ensure_supervisor(c.user_role)
        if role is Role.ORGANIZER:
            raise ValidationFailed("the organizer joins its meeting visibly")
        if len(self._s.monitors()) >= self._s.limits.max_monitors:
            raise LimitExceeded(f"at most {self._s.limits.max_monitors} supervisors may monitor")

    def _admit(self, c: Admit, b: _Batch) -> None:
        actor = self._moderator(c.actor)
        target = self._target(actor, c.participant_id)
        if not target.in_lobby:
            raise IllegalState(f"participant {target.id!r} is not waiting in the lobby")
        self._check_room_for_one_more()
        admitted = ev.ParticipantAdmitted(target.id, actor.id)
        b.emit(admitted, self._s.moderator_ids() | {target.id})
        b.emit(
            ev.ParticipantJoined(target.view(), target.username, target.guest_app),
            self._s.roster_ids(),
        )

    def _deny(self, c: Deny, b: _Batch) -> None:
        actor = self._moderator(c.actor)
        target = self._target(actor, c.participant_id)
        if not target.in_lobby:
            raise IllegalState(f"participant {target.id!r} is not waiting in the lobby")
        to = self._s.moderator_ids() | {target.id}
        b.emit(ev.ParticipantDenied(target.id, actor.id), to)
        self._emit_left(b, target, LeaveReason.DENIED, by=actor.id)

    def _emit_left(
        self, b: _Batch, p: Participant, reason: LeaveReason, by: str | None = None
    ) -> None:
        left = ev.ParticipantLeft(p.id, p.display_name, reason, by)
        b.emit(left, self._left_audience(p), staff_only=p.hidden)

    def _leave(self, c: Leave, b: _Batch) -> None:
        p = self._actor(c.actor)
        reason = _enum(LeaveReason, c.reason)
        if reason not in _SELF_LEAVE_REASONS:
            raise ValidationFailed(f"a participant does not leave with reason {reason.value}")
        self._emit_left(b, p, reason)

    def _disconnect(self, c: Disconnect, b: _Batch) -> None:
        p = self._s.get(c.actor)
        if p.state in (SessionState.RECONNECTING, SessionState.LEFT):
            return  # nothing to wait for (again)
        to = self._s.audience_of(p) - {p.id} if p.in_roster else self._s.moderator_ids()
        b.emit(ev.ParticipantReconnecting(p.id), to, staff_only=p.hidden)

    def _reconnect(self, c: Reconnect, b: _Batch) -> None:
        p = self._actor(c.actor)
        if p.state is not SessionState.RECONNECTING:
            return  # the connection was back before we noticed it dropped
        to = self._s.audience_of(p) | {p.id} if p.in_roster else self._s.moderator_ids() | {p.id}
        b.emit(ev.ParticipantReconnected(p.id), to, staff_only=p.hidden)

    def _send_chat(self, c: SendChat, b: _Batch) -> None:
        s = self._s
        p = s.get(c.actor)
        cmid = c.client_msg_id
        if not isinstance(cmid, str) or not 0 < len(cmid) <= MAX_CLIENT_MSG_ID:
            raise ValidationFailed(f"client_msg_id must be 1..{MAX_CLIENT_MSG_ID} characters")
        if (p.id, cmid) in s.chat_index:
            return  # a retried send: stored once, find_chat() gives the original
        self._joined(c.actor)
        if p.hidden:
            raise PermissionDenied("a monitoring supervisor does not chat with guests: whisper")
        self._check_text(c.text, s.chat)
        b.emit(ev.ChatPosted(p.id, p.display_name, c.text, cmid), s.roster_ids())

    def _check_text(self, text: str, log: Sequence[ChatMessage]) -> None:
        limits = self._s.limits
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("a chat message needs some text")
        if has_surrogate(text):
            raise ValidationFailed("a chat message must be valid Unicode (a lone surrogate)")
        if len(text) > limits.max_chat_chars:
            raise LimitExceeded(f"a chat message holds at most {limits.max_chat_chars} chars")
        if len(log) >= limits.max_chat_messages:
            raise LimitExceeded(f"this meeting's chat is full ({limits.max_chat_messages})")

    def _whisper(self, c: Whisper, b: _Batch) -> None:
        s = self._s
        p = s.get(c.actor)
        cmid = c.client_msg_id
        if not isinstance(cmid, str) or not 0 < len(cmid) <= MAX_CLIENT_MSG_ID:
            raise ValidationFailed(f"client_msg_id must be 1..{MAX_CLIENT_MSG_ID} characters")
        if (p.id, cmid) in s.whisper_index:
            return  # a retried send: stored once, find_whisper() gives the original
        self._joined(c.actor)
        if not p.staff:
            raise PermissionDenied("whispers are for agents and supervisors")
        self._check_text(c.text, s.whispers)
        whisper = ev.WhisperPosted(p.id, p.display_name, c.text, cmid)
        b.emit(whisper, s.staff_ids(), staff_only=True)

    def _barge(self, c: Barge, b: _Batch) -> None:
        s = self._s
        p = self._joined(c.actor)
        if not p.hidden:
            raise IllegalState("only a monitoring supervisor barges in")
        self._check_room_for_one_more()
        b.emit(ev.SupervisorBarged(p.id), s.staff_ids(), staff_only=True)
        # To the guests it is someone joining, like any other.
        b.emit(ev.ParticipantJoined(p.guest_view(), p.username), s.guest_roster_ids())

    def _typing(self, c: Typing, b: _Batch) -> None:
        p = self._joined(c.actor)
        to = (self._s.staff_ids() if p.hidden else self._s.joined_ids()) - {p.id}
        b.signal(ev.TypingChanged(p.id, bool(c.typing)), to, staff_only=p.hidden)

    def _emit_media(self, b: _Batch, p: Participant, by: str, **changes: bool) -> None:
        current = {f: getattr(p, f) for f in _MEDIA_FIELDS}
        new = {**current, **changes}
        if new == current:
            return
        b.emit(ev.MediaChanged(p.id, by, **new), self._s.audience_of(p), staff_only=p.hidden)

    def _set_media(self, c: SetMedia, b: _Batch) -> None:
        p = self._joined(c.actor)
        if p.hidden:
            raise PermissionDenied("a monitoring supervisor receives only: barge in to talk")
        changes = {f: bool(v) for f in _MEDIA_FIELDS if (v := getattr(c, f)) is not None}
        self._emit_media(b, p, p.id, **changes)

    def _mute(self, c: MuteParticipant, b: _Batch) -> None:
        actor = self._moderator(c.actor)
        target = self._target(actor, c.participant_id)
        if not target.in_roster:
            raise IllegalState(f"participant {target.id!r} is not in the meeting")
        self._emit_media(b, target, actor.id, audio_muted=True)

    def _remove(self, c: Remove, b: _Batch) -> None:
        actor = self._moderator(c.actor)
        target = self._target(actor, c.participant_id)
        if target.id == actor.id:
            raise IllegalState("leave instead of removing yourself")
        if target.role is Role.ORGANIZER and actor.role is not Role.ORGANIZER:
            raise PermissionDenied("only an organizer may remove an organizer")
        if not target.active:
            raise IllegalState(f"participant {target.id!r} has left already")
        self._emit_left(b, target, LeaveReason.REMOVED, by=actor.id)

    def _end_meeting(self, c: EndMeeting, b: _Batch) -> None:
        actor = self._moderator(c.actor)
        self._emit_end(b, "ended_by_moderator", actor.id)

    def _end_by_system(self, c: EndBySystem, b: _Batch) -> None:
        if not isinstance(c.reason, str) or not c.reason.strip():
            raise ValidationFailed("an end reason is needed")
        self._emit_end(b, c.reason.strip(), None)

    def _emit_end(self, b: _Batch, reason: str, by: str | None) -> None:
        b.emit(ev.MeetingEnded(reason, by), self._s.active_ids())

    def _set_policy(self, c: SetPolicy, b: _Batch) -> None:
        m = self._s.meeting
        policy = (
            m.access_policy if c.access_policy is None else _enum(AccessPolicy, c.access_policy)
        )
        bypass = m.lobby_bypass if c.lobby_bypass is None else _enum(LobbyBypass, c.lobby_bypass)
        if (policy, bypass) == (m.access_policy, m.lobby_bypass):
            return
        b.emit(ev.PolicyChanged(policy, bypass), self._s.roster_ids())

    def _tick(self, c: Tick, b: _Batch) -> None:
        s, now = self._s, b.now
        for p in s.lobby():
            timeout_at = s.lobby_timeout_at(p)
            if timeout_at is not None and now >= timeout_at:
                self._emit_left(b, p, LeaveReason.LOBBY_TIMEOUT)
        grace = timedelta(seconds=s.limits.reconnect_grace_s)
        for p in list(s.participants.values()):
            since = p.reconnecting_since
            if p.state is SessionState.RECONNECTING and since is not None and now >= since + grace:
                self._emit_left(b, p, LeaveReason.CONNECTION_LOST)
        idle = s.idle_deadline()
        if idle is not None and now >= idle:
            self._emit_end(b, "idle", None)


def _seq(event: Event) -> int:
    return event.seq or 0


def _enum(cls: type[_E], value: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        raise ValidationFailed(f"{value!r} is not a valid {cls.__name__}") from None


def _reason(p: Participant) -> str | None:
    return None if p.left_reason is None else p.left_reason.value


_HANDLERS: dict[type[Any], Callable[[Room, Any, _Batch], None]] = {
    Join: Room._join,
    Admit: Room._admit,
    Deny: Room._deny,
    Leave: Room._leave,
    Disconnect: Room._disconnect,
    Reconnect: Room._reconnect,
    SendChat: Room._send_chat,
    Whisper: Room._whisper,
    Barge: Room._barge,
    Typing: Room._typing,
    SetMedia: Room._set_media,
    MuteParticipant: Room._mute,
    Remove: Room._remove,
    EndMeeting: Room._end_meeting,
    EndBySystem: Room._end_by_system,
    SetPolicy: Room._set_policy,
    Tick: Room._tick,
}
