"""Media state and moderation: mute, remove, end; who may do what."""

from __future__ import annotations

import pytest
from room_support import (
    T0,
    at,
    attendee,
    make_room,
    organizer,
    presenter,
    state_key,
    token_guest,
    url_guest,
    wire,
)

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Command,
    EndMeeting,
    EventType,
    Join,
    JoinMethod,
    LeaveReason,
    MeetingState,
    MuteParticipant,
    Remove,
    Role,
    Room,
    SendChat,
    SessionState,
    SetMedia,
    Tick,
)
from frontdesk.errors import IllegalState, MeetingEnded, PermissionDenied


def full_room() -> Room:
    """organizer, presenter, attendee, URL guest, token guest: all joined."""
    room = make_room(AccessPolicy.DIRECT)
    for join in (organizer(), presenter(), attendee(), url_guest(), token_guest()):
        room.handle(join, T0)
    return room


def test_set_media_changes_own_state_for_the_roster() -> None:
    room = full_room()
    room.handle(url_guest("waiting"), T0)  # policy direct: joined too
    [event] = room.handle(SetMedia("g1", audio_muted=True, hand_raised=True), at(1))
    assert event.type == EventType.MEDIA_CHANGED
    assert wire(event) == {
        "participant_id": "g1",
        "by": "g1",
        "audio_muted": True,
        "video_muted": False,
        "hand_raised": True,
    }
    assert event.to == frozenset(room.participants)
    p = room.participant("g1")
    assert (p.audio_muted, p.video_muted, p.hand_raised) == (True, False, True)
    assert room.handle(SetMedia("g1", audio_muted=True), at(2)) == []  # no change, no event
    room.handle(SetMedia("g1", audio_muted=False), at(3))
    assert room.participant("g1").audio_muted is False


def test_set_media_needs_joined() -> None:
    room = make_room()
    room.handle(url_guest(), T0)
    with pytest.raises(IllegalState):
        room.handle(SetMedia("g1", video_muted=True), T0)


@pytest.mark.parametrize("moderator", ["org", "pres"])
def test_moderators_mute_others(moderator: str) -> None:
    room = full_room()
    [event] = room.handle(MuteParticipant(moderator, "g1"), T0)
    assert wire(event)["by"] == moderator and wire(event)["audio_muted"] is True
    assert room.participant("g1").audio_muted is True
    assert room.handle(MuteParticipant(moderator, "g1"), T0) == []  # already muted


def test_presenter_may_mute_the_organizer() -> None:
    room = full_room()
    room.handle(MuteParticipant("pres", "org"), T0)
    assert room.participant("org").audio_muted


def test_mute_needs_a_target_in_the_meeting() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    with pytest.raises(IllegalState):
        room.handle(MuteParticipant("org", "g1"), T0)


def test_muted_participant_may_unmute_itself() -> None:
    room = full_room()
    room.handle(MuteParticipant("org", "g1"), T0)
    room.handle(SetMedia("g1", audio_muted=False), T0)
    assert room.participant("g1").audio_muted is False


NON_MODERATORS = ["att", "g1", "t1"]


def moderation_commands(actor: str) -> list[Command]:
    return [
        Admit(actor, "waiting"),
        MuteParticipant(actor, "org"),
        MuteParticipant(actor, "g1" if actor != "g1" else "t1"),
        Remove(actor, "org"),
        Remove(actor, "att" if actor != "att" else "g1"),
        EndMeeting(actor),
    ]


@pytest.mark.parametrize("actor", NON_MODERATORS)
def test_guests_and_attendees_never_moderate(actor: str) -> None:
    room = full_room()
    room.handle(Join("waiting", "Wendy", Role.GUEST, JoinMethod.TOKEN), T0)
    for command in moderation_commands(actor):
        before = state_key(room)
        with pytest.raises(PermissionDenied) as err:
            room.handle(command, T0)
        assert err.value.code == "forbidden"
        assert state_key(room) == before


@pytest.mark.parametrize("target", ["att", "g1", "t1", "pres"])
def test_organizer_removes_anyone(target: str) -> None:
    room = full_room()
    [left] = room.handle(Remove("org", target), at(1))
    assert left.type == EventType.PARTICIPANT_LEFT
    assert wire(left) == {
        "participant_id": target,
        "display_name": room.participant(target).display_name,
        "reason": "removed",
        "by": "org",
    }
    assert target in left.to  # the removed one is told
    p = room.participant(target)
    assert p.state is SessionState.LEFT and p.left_reason is LeaveReason.REMOVED
    with pytest.raises(IllegalState):
        room.handle(SendChat(target, "c", "still here?"), T0)
    with pytest.raises(IllegalState):
        room.handle(Remove("org", target), T0)


def test_presenter_cannot_remove_the_organizer() -> None:
    room = full_room()
    before = state_key(room)
    with pytest.raises(PermissionDenied):
        room.handle(Remove("pres", "org"), T0)
    assert state_key(room) == before
    room.handle(Remove("pres", "g1"), T0)  # but others, yes


def test_remove_a_waiting_guest() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    [left] = room.handle(Remove("org", "g1"), T0)
    assert left.to == frozenset({"org", "g1"})
    assert room.lobby() == []


def test_removing_oneself_is_refused() -> None:
    with pytest.raises(IllegalState):
        full_room().handle(Remove("org", "org"), T0)


@pytest.mark.parametrize("moderator", ["org", "pres"])
def test_moderator_ends_the_meeting_for_everyone(moderator: str) -> None:
    room = full_room()
    room.handle(Join("waiting", "Wendy", Role.GUEST, JoinMethod.TOKEN), T0)  # direct
    room.handle(url_guest("gone"), T0)
    room.handle(Remove("org", "gone"), T0)
    [ended] = room.handle(EndMeeting(moderator), at(10))
    assert ended.type == EventType.MEETING_ENDED
    assert wire(ended) == {"reason": "ended_by_moderator", "by": moderator}
    assert ended.to == frozenset(room.participants) - {"gone"}
    assert room.ended and room.meeting.state is MeetingState.ENDED
    assert room.meeting.ended_at == at(10)
    for pid, p in room.participants.items():
        assert p.state is SessionState.LEFT
        if pid != "gone":
            assert p.left_reason is LeaveReason.MEETING_ENDED
    assert room.next_deadline() is None


def test_after_the_end_only_tick_is_accepted() -> None:
    room = full_room()
    room.handle(EndMeeting("org"), T0)
    last = room.last_seq
    commands: list[Command] = [
        SendChat("org", "c", "hi"),
        SetMedia("org", audio_muted=True),
        EndMeeting("org"),
        url_guest("late"),
        Remove("org", "g1"),
    ]
    for command in commands:
        with pytest.raises(MeetingEnded):
            room.handle(command, at(1))
    assert room.handle(Tick(), at(10**6)) == []
    assert room.last_seq == last
