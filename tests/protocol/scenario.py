"""One scripted meeting that emits every kind of event, with fixed ids and times.

The golden files under ``golden/`` hold what it produced before the typed
contract: the stored record and the wire frame of each event, and each
participant's snapshot. The codec must keep producing the same JSON, and the
stored records must restore the same room.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from frontdesk.domain import commands as cmd
from frontdesk.domain.model import AccessPolicy, LobbyBypass, Meeting, Role
from frontdesk.domain.participants import JoinMethod, LeaveReason
from frontdesk.domain.room import Room

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
MEETING = Meeting(
    id="m_golden",
    join_code="code",
    subject="Mortgage advice",
    organizer="alice",
    created_at=T0,
)


def commands() -> Iterator[cmd.Command]:
    yield cmd.Join("p_alice", "Alice Advisor", Role.ORGANIZER, JoinMethod.USER, username="alice")
    yield cmd.Join("p_ann", "Ann Visitor", Role.GUEST, JoinMethod.TOKEN)
    yield cmd.Join("p_url", "Bob <b>", Role.GUEST, JoinMethod.URL)
    yield cmd.Admit("p_alice", "p_ann")
    yield cmd.Deny("p_alice", "p_url")
    yield cmd.Join("p_bob", "Bob Partner", Role.ATTENDEE, JoinMethod.TOKEN)
    yield cmd.Admit("p_alice", "p_bob")
    yield cmd.SendChat("p_ann", "c1", "Hello 😀 <script>")
    yield cmd.Typing("p_ann", True)
    yield cmd.SetMedia("p_ann", audio_muted=False, video_muted=True, hand_raised=True)
    yield cmd.MuteParticipant("p_alice", "p_bob")
    yield cmd.Disconnect("p_ann")
    yield cmd.Reconnect("p_ann")
    yield cmd.SetPolicy(access_policy=AccessPolicy.DIRECT, lobby_bypass=LobbyBypass.TOKEN_HOLDERS)
    yield cmd.SendChat("p_alice", "c2", "Welcome")
    yield cmd.Remove("p_alice", "p_bob")
    yield cmd.Join("p_late", "Late Guest", Role.GUEST, JoinMethod.TOKEN)
    yield cmd.Leave("p_late", LeaveReason.LEFT)
    yield cmd.EndMeeting("p_alice")


def run() -> Iterator[tuple[Room, cmd.Command, list[object]]]:
    """Each command with the events it caused, on one room, one second apart."""
    room = Room(MEETING)
    for i, command in enumerate(commands()):
        events = room.handle(command, T0 + timedelta(seconds=i + 1))
        yield room, command, list(events)
