"""Random command sequences against one room, checking the invariants after each step.

* no participant reaches the roster without an Admit, unless the policy or the
  lobby bypass let it in at join time;
* sequence numbers rise by one, never skip, never repeat;
* a refused command changes nothing, and the permission rules are never bypassed;
* every accepted chat message is in the history exactly once;
* lobby guests never receive roster, chat or media events;
* ``Room.restore`` of the stored events equals the live room;
* no event about a monitoring supervisor and no whisper ever reaches a guest
  (live or from the store, as a resume replays it), nor a guest's snapshot,
  nor what an application reads of the meeting; only supervisors monitor.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from room_support import T0, make_meeting, state_key, through_store, wire

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Barge,
    Command,
    Deny,
    Disconnect,
    EndBySystem,
    EndMeeting,
    Event,
    EventType,
    Join,
    JoinMethod,
    Leave,
    LeaveReason,
    Limits,
    LobbyBypass,
    MuteParticipant,
    Participant,
    Reconnect,
    Remove,
    Role,
    Room,
    SendChat,
    SessionState,
    SetMedia,
    SetPolicy,
    Tick,
    Typing,
    UserRole,
    Whisper,
)
from frontdesk.errors import FrontdeskError, MeetingEnded
from frontdesk.protocol.events import snapshot_to_wire

MODERATION = (Admit, Deny, MuteParticipant, Remove, EndMeeting)
ROSTER_ONLY_TYPES = {
    EventType.CHAT_MESSAGE,
    EventType.MEDIA_CHANGED,
    EventType.TYPING,
    EventType.POLICY_CHANGED,
    EventType.PARTICIPANT_JOINED,
    EventType.WHISPER,
    EventType.SUPERVISOR_BARGED,
}
STAFF_ONLY_TYPES = {EventType.WHISPER, EventType.SUPERVISOR_BARGED}

# A participant is picked from a pool of the current room (or is unknown).
picks = st.tuples(st.sampled_from(["any", "roster", "lobby", "mod"]), st.integers(0, 12))
names = st.sampled_from(["Ann", "  Bob  ", "Cy", "", "x" * 81])
texts = st.sampled_from(["hi", "  hello  ", "", "   ", "y" * 21])
msg_ids = st.sampled_from(["a", "b", "c", ""])
maybe_bool = st.none() | st.booleans()
JOINS = {
    "organizer": (Role.ORGANIZER, JoinMethod.USER),
    "presenter": (Role.PRESENTER, JoinMethod.USER),
    "attendee": (Role.ATTENDEE, JoinMethod.USER),
    "token_guest": (Role.GUEST, JoinMethod.TOKEN),
    "token_attendee": (Role.ATTENDEE, JoinMethod.TOKEN),
    "token_presenter": (Role.PRESENTER, JoinMethod.TOKEN),
    "url_guest": (Role.GUEST, JoinMethod.URL),
    "url_guest_2": (Role.GUEST, JoinMethod.URL),
}


class RoomMachine(RuleBasedStateMachine):
    @initialize(
        policy=st.sampled_from(AccessPolicy),
        bypass=st.sampled_from(LobbyBypass),
        scheduled=st.booleans(),
        cast=st.lists(st.sampled_from(list(JOINS)), max_size=5),
    )
    def setup(
        self, policy: AccessPolicy, bypass: LobbyBypass, scheduled: bool, cast: list[str]
    ) -> None:
        limits = Limits(
            max_chat_chars=20,
            max_participants=6,
            max_lobby=4,
            max_chat_messages=6,
            lobby_timeout_s=300,
            reconnect_grace_s=30,
            idle_timeout_s=3600,
            max_monitors=2,
        )
        self.meeting = make_meeting(policy, bypass, start=T0 if scheduled else None)
        self.room = Room(self.meeting, limits)
        self.now = T0
        self.events: list[Event] = []
        self.ids: list[str] = []
        self.authorized: set[str] = set()  # allowed into the roster: at join, or admitted
        self.accepted_chat: dict[tuple[str, str], int] = {}
        self.steps = 0
        for kind in ["organizer", *cast]:
            self.join(kind, "Ann")

    # --- helpers -------------------------------------------------------------
    def pick(self, choice: tuple[str, int]) -> str:
        pool_name, i = choice
        ps = list(self.room.participants.values())
        pool = {
            "any": ps,
            "roster": [p for p in ps if p.in_roster],
            "lobby": [p for p in ps if p.in_lobby],
            "mod": [
                p
                for p in ps
                if p.role.moderates and p.state is SessionState.JOINED and not p.hidden
            ],
            "staff": [p for p in ps if p.staff and p.in_roster],
            "hidden": [p for p in ps if p.hidden],
        }[pool_name]
        if not pool or i == 12:
            return "nobody"
        return pool[i % len(pool)].id

    def step(self, command: Command) -> list[Event] | None:
        room = self.room
        self.steps += 1
        before = state_key(room)
        pre = {pid: dataclasses.replace(p) for pid, p in room.participants.items()}
        meeting_before, last = room.meeting, room.last_seq
        try:
            events = room.handle(command, self.now)
        except FrontdeskError as err:
            assert state_key(room) == before, f"{command} refused ({err.code}) but changed state"
            if before[1]:  # ended
                assert isinstance(err, MeetingEnded)
            return None
        self.check_nothing_hidden_reaches_a_guest(command, pre, events)
        seqs = [e.seq for e in events if e.seq is not None]
        assert seqs == list(range(last + 1, last + 1 + len(seqs)))
        assert room.last_seq == last + len(seqs)
        assert all(e.at == self.now for e in events)
        self.events.extend(events)
        self.check_accepted(command, pre, meeting_before, events)
        return events

    def check_nothing_hidden_reaches_a_guest(
        self, command: Command, pre: dict[str, Participant], events: list[Event]
    ) -> None:
        """The model: who was monitoring unseen before the command (and who starts
        to); no event a guest receives names one of them, no whisper reaches a
        guest. Checked on the events as stored too (a resume replays those)."""
        hidden = {pid for pid, p in pre.items() if p.hidden}
        if isinstance(command, Join) and command.monitor:
            hidden.add(command.participant_id)
        room = self.room
        for live in events:
            guests = {pid for pid in live.to if not room.participant(pid).staff}
            if live.type in STAFF_ONLY_TYPES:
                assert not guests and live.staff_only, live
            if not guests:
                continue
            assert not live.staff_only, live
            barge_join = isinstance(command, Barge) and live.type == EventType.PARTICIPANT_JOINED
            if barge_join:
                assert "supervisor" not in wire(live)["participant"], live
                continue
            assert not _mentions(wire(live), hidden), (live, hidden)
        for e in through_store(events):
            if e.type in STAFF_ONLY_TYPES:
                assert all(room.participant(pid).staff for pid in e.to), e

    def check_accepted(
        self,
        command: Command,
        pre: dict[str, Participant],
        meeting: object,
        events: list[Event],
    ) -> None:
        room = self.room
        if isinstance(command, MODERATION):
            actor = pre[command.actor]
            assert actor.role.moderates and actor.state is SessionState.JOINED, command
            assert not actor.hidden, command
            if isinstance(command, Remove):
                target = pre[command.participant_id]
                assert not (target.role is Role.ORGANIZER and actor.role is Role.PRESENTER)
        if isinstance(command, (Typing, SetMedia)) or (isinstance(command, SendChat) and events):
            assert pre[command.actor].state is SessionState.JOINED
        if isinstance(command, Join):
            self.ids.append(command.participant_id)
            p = room.participant(command.participant_id)
            assert isinstance(meeting, type(self.meeting))
            same = [
                q
                for q in pre.values()
                if q.active and command.identity is not None and q.identity == command.identity
            ]
            # the sessions it replaces leave first, and only they leave
            left = [e for e in events if e.type == EventType.PARTICIPANT_LEFT]
            assert [wire(e)["participant_id"] for e in left] == [q.id for q in same]
            assert all(wire(e)["reason"] == "replaced" for e in left)
            direct = (
                any(q.in_roster for q in same)  # admitted before: back straight in
                or command.method is JoinMethod.USER
                or meeting.access_policy is AccessPolicy.DIRECT
                or (
                    command.method is JoinMethod.TOKEN
                    and meeting.lobby_bypass is LobbyBypass.TOKEN_HOLDERS
                )
            )
            assert p.state is (SessionState.JOINED if direct else SessionState.LOBBY)
            if command.method is JoinMethod.URL:
                assert meeting.access_policy is not AccessPolicy.DENY
                assert p.role is Role.GUEST
            if command.monitor:
                assert command.method is JoinMethod.USER
                assert command.user_role is UserRole.SUPERVISOR
                assert p.hidden
            if direct:
                self.authorized.add(p.id)
        if isinstance(command, Admit):
            self.authorized.add(command.participant_id)
        if isinstance(command, Whisper) and events:
            assert pre[command.actor].staff and pre[command.actor].state is SessionState.JOINED
        if isinstance(command, Barge):
            assert pre[command.actor].hidden and not room.participant(command.actor).hidden
        for e in events:
            if e.type == EventType.CHAT_MESSAGE:
                key = (wire(e)["participant_id"], wire(e)["client_msg_id"])
                assert key not in self.accepted_chat
                assert e.seq is not None
                self.accepted_chat[key] = e.seq
            if e.type in ROSTER_ONLY_TYPES:
                for pid in e.to:
                    assert room.participant(pid).in_roster, (e, pid)

    # --- rules ---------------------------------------------------------------
    @rule(
        kind=st.sampled_from(list(JOINS)),
        name=st.sampled_from(["Ann", "  Bob  ", "Cy"]),
        person=st.sampled_from([None, 0, 1]),
    )
    def join(self, kind: str, name: str, person: int | None = None) -> None:
        """A join; with ``person``, one of two people of that kind who may come
        back (a reload, a second tab) while their first session holds a seat."""
        role, method = JOINS[kind]
        username = (
            ("alice" if role is Role.ORGANIZER else "bob") if method is JoinMethod.USER else None
        )
        identity = None if person is None else f"{kind}:{person}"
        self.step(Join(f"p{self.steps}", name, role, method, username, identity=identity))

    @rule(
        method=st.sampled_from(JoinMethod),
        role=st.sampled_from(Role),
        name=names,
        username=st.sampled_from(["alice", "bob", None]),
        reuse=picks,
    )
    def odd_join(
        self,
        method: JoinMethod,
        role: Role,
        name: str,
        username: str | None,
        reuse: tuple[str, int],
    ) -> None:
        """Any combination, often refused; may reuse an id."""
        pid = self.pick(reuse) if reuse[1] % 2 else f"p{self.steps}"
        self.step(Join(pid, name, role, method, username))

    @rule(
        user_role=st.sampled_from([UserRole.SUPERVISOR, UserRole.SUPERVISOR, UserRole.AGENT]),
        name=st.sampled_from(["Sam", "Sue"]),
    )
    def monitor(self, user_role: UserRole, name: str) -> None:
        """A signed-in user asks to watch unseen (granted to supervisors only)."""
        self.step(
            Join(f"p{self.steps}", name, Role.PRESENTER, JoinMethod.USER, "sam", user_role, True)
        )

    @rule(
        method=st.sampled_from(JoinMethod),
        role=st.sampled_from(Role),
        user_role=st.none() | st.sampled_from(UserRole),
    )
    def odd_monitor(self, method: JoinMethod, role: Role, user_role: UserRole | None) -> None:
        username = "alice" if role is Role.ORGANIZER else "sam"
        self.step(Join(f"p{self.steps}", "Sam", role, method, username, user_role, True))

    @rule(actor=picks, cmid=msg_ids, text=texts)
    def whisper(self, actor: tuple[str, int], cmid: str, text: str) -> None:
        pid = self.pick(actor)
        known = self.room.find_whisper(pid, cmid)
        ended = self.room.ended
        events = self.step(Whisper(pid, cmid, text))
        if known is not None and not ended:
            assert events == [] and self.room.find_whisper(pid, cmid) == known

    @precondition(lambda self: self.has("staff"))
    @rule(actor=st.integers(0, 11), cmid=msg_ids)
    def whisper_from_staff(self, actor: int, cmid: str) -> None:
        self.step(Whisper(self.pick(("staff", actor)), cmid, "psst"))

    @rule(actor=picks)
    def barge(self, actor: tuple[str, int]) -> None:
        self.step(Barge(self.pick(actor)))

    @precondition(lambda self: self.has("hidden"))
    @rule(actor=st.integers(0, 11))
    def barge_hidden(self, actor: int) -> None:
        self.step(Barge(self.pick(("hidden", actor))))

    def has(self, pool: str) -> bool:
        return self.pick((pool, 0)) != "nobody"

    @precondition(lambda self: self.has("mod") and self.has("lobby"))
    @rule(actor=st.integers(0, 11), other=st.integers(0, 11), admit=st.booleans())
    def decide_on_waiting(self, actor: int, other: int, admit: bool) -> None:
        """A joined moderator admits or denies a waiting guest (accepted unless full)."""
        command = Admit if admit else Deny
        events = self.step(command(self.pick(("mod", actor)), self.pick(("lobby", other))))
        if not admit:
            assert events is not None

    @precondition(lambda self: self.has("roster"))
    @rule(actor=st.integers(0, 11), cmid=msg_ids)
    def chat_from_roster(self, actor: int, cmid: str) -> None:
        self.step(SendChat(self.pick(("roster", actor)), cmid, "hello"))

    @rule(actor=picks, other=picks)
    def admit(self, actor: tuple[str, int], other: tuple[str, int]) -> None:
        self.step(Admit(self.pick(actor), self.pick(other)))

    @rule(actor=picks, other=picks)
    def deny(self, actor: tuple[str, int], other: tuple[str, int]) -> None:
        self.step(Deny(self.pick(actor), self.pick(other)))

    @rule(actor=picks, reason=st.sampled_from([LeaveReason.LEFT, LeaveReason.REMOVED]))
    def leave(self, actor: tuple[str, int], reason: LeaveReason) -> None:
        self.step(Leave(self.pick(actor), reason))

    @rule(actor=picks)
    def disconnect(self, actor: tuple[str, int]) -> None:
        self.step(Disconnect(self.pick(actor)))

    @rule(actor=picks)
    def reconnect(self, actor: tuple[str, int]) -> None:
        self.step(Reconnect(self.pick(actor)))

    @rule(actor=picks, cmid=msg_ids, text=texts)
    def send_chat(self, actor: tuple[str, int], cmid: str, text: str) -> None:
        pid = self.pick(actor)
        known = self.room.find_chat(pid, cmid)
        ended = self.room.ended
        events = self.step(SendChat(pid, cmid, text))
        if known is not None and not ended:  # a retry: answered, stored once
            assert events == [] and self.room.find_chat(pid, cmid) == known

    @rule(actor=picks, typing=st.booleans())
    def typing(self, actor: tuple[str, int], typing: bool) -> None:
        events = self.step(Typing(self.pick(actor), typing))
        if events is not None:
            assert [e.seq for e in events] == [None]

    @rule(actor=picks, audio=maybe_bool, video=maybe_bool, hand=maybe_bool, screen=maybe_bool)
    def set_media(
        self,
        actor: tuple[str, int],
        audio: bool | None,
        video: bool | None,
        hand: bool | None,
        screen: bool | None = None,
    ) -> None:
        self.step(SetMedia(self.pick(actor), audio, video, hand, screen))

    @rule(actor=picks, other=picks)
    def mute(self, actor: tuple[str, int], other: tuple[str, int]) -> None:
        if self.step(MuteParticipant(self.pick(actor), self.pick(other))) is not None:
            assert self.room.participant(self.pick(other)).audio_muted

    @rule(actor=picks, other=picks)
    def remove(self, actor: tuple[str, int], other: tuple[str, int]) -> None:
        self.step(Remove(self.pick(actor), self.pick(other)))

    @precondition(lambda self: self.steps >= 20)  # the end stops everything else
    @rule(actor=picks)
    def end_meeting(self, actor: tuple[str, int]) -> None:
        self.step(EndMeeting(self.pick(actor)))

    @precondition(lambda self: self.steps >= 25)
    @rule()
    def end_by_system(self) -> None:
        self.step(EndBySystem("deleted"))

    @rule(
        policy=st.none() | st.sampled_from(AccessPolicy),
        bypass=st.none() | st.sampled_from(LobbyBypass),
    )
    def set_policy(self, policy: AccessPolicy | None, bypass: LobbyBypass | None) -> None:
        self.step(SetPolicy(policy, bypass))

    @rule(seconds=st.sampled_from([0, 1, 10, 29, 31, 120, 299, 301, 3601]))
    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        deadline = self.room.next_deadline()
        events = self.step(Tick())
        assert events is not None  # Tick is never refused
        if deadline is None or self.now < deadline:
            assert events == []
        else:
            assert [e for e in events if e.type != EventType.LOBBY_POSITION]

    # --- invariants ----------------------------------------------------------
    @invariant()
    def only_authorized_in_roster(self) -> None:
        for p in self.room.participants.values():
            if p.in_roster or p.joined_at is not None:
                assert p.id in self.authorized, p

    @invariant()
    def sequence_has_no_gap(self) -> None:
        seqs = [e.seq for e in self.events if e.seq is not None]
        assert seqs == list(range(1, len(seqs) + 1))
        assert self.room.last_seq == len(seqs)

    @invariant()
    def chat_history_holds_each_accepted_message_once(self) -> None:
        history = [(m.participant_id, m.client_msg_id) for m in self.room.chat]
        assert len(history) == len(set(history))
        assert {k: m.seq for k, m in zip(history, self.room.chat, strict=True)} == (
            self.accepted_chat
        )
        seqs = [m.seq for m in self.room.chat]
        assert seqs == sorted(seqs)

    @invariant()
    def restore_equals_live(self) -> None:
        restored = Room.restore(self.meeting, through_store(self.events), self.room.limits)
        assert state_key(restored) == state_key(self.room)

    @invariant()
    def guests_never_see_a_monitor_nor_a_whisper(self) -> None:
        room = self.room
        hidden = {p.id for p in room.participants.values() if p.hidden}
        whispers = {m.seq for m in room.whispers}
        for p in room.participants.values():
            if p.staff:
                continue
            snap = snapshot_to_wire(room.snapshot_for(p.id))
            assert not _mentions(snap, hidden), (p.id, snap)
            assert "whispers" not in snap
            assert not whispers & {m["seq"] for m in snap["chat"]}
            assert all("supervisor" not in v for v in snap["roster"])
        seen = room.seen_by_guests()
        assert not {p.id for p in seen} & hidden
        assert all(p.supervisor is None for p in seen)
        live_monitors = [p for p in room.participants.values() if p.active and p.hidden]
        assert len(live_monitors) <= room.limits.max_monitors
        visible = [p for p in room.roster() if not p.hidden]
        assert len(visible) <= room.limits.max_participants

    @invariant()
    def one_person_one_session(self) -> None:
        active = [p.identity for p in self.room.participants.values() if p.active and p.identity]
        assert len(active) == len(set(active)), active

    @invariant()
    def lobby_and_roster_are_disjoint(self) -> None:
        for p in self.room.participants.values():
            assert not (p.in_lobby and p.in_roster)
            assert (p.state is SessionState.LEFT) == (p.left_reason is not None)
        assert len(self.room.roster()) <= (
            self.room.limits.max_participants + self.room.limits.max_monitors
        )
        assert len(self.room.lobby()) <= self.room.limits.max_lobby


RoomMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRoomMachine = RoomMachine.TestCase


def _mentions(value: object, ids: set[str]) -> bool:
    """Whether any string inside a wire value is one of ``ids``."""
    if isinstance(value, str):
        return value in ids
    if isinstance(value, dict):
        return any(_mentions(v, ids) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, ids) for v in value)
    return False
