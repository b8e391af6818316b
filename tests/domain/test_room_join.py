"""Joining: each method under each access policy and lobby bypass, roles, limits."""

from __future__ import annotations

import pytest
from room_support import (
    T0,
    make_meeting,
    make_room,
    organizer,
    state_key,
    token_guest,
    types,
    url_guest,
    wire,
)

from frontdesk.domain import (
    AccessPolicy,
    EndBySystem,
    EventType,
    Join,
    JoinMethod,
    Leave,
    Limits,
    LobbyBypass,
    Role,
    Room,
    SessionState,
)
from frontdesk.errors import (
    IllegalState,
    LimitExceeded,
    MeetingEnded,
    PermissionDenied,
    ValidationFailed,
)

LOBBY, JOINED = SessionState.LOBBY, SessionState.JOINED


@pytest.mark.parametrize(
    ("policy", "bypass", "expected"),
    [
        (AccessPolicy.DIRECT, LobbyBypass.NONE, JOINED),
        (AccessPolicy.DIRECT, LobbyBypass.TOKEN_HOLDERS, JOINED),
        (AccessPolicy.LOBBY, LobbyBypass.NONE, LOBBY),
        (AccessPolicy.LOBBY, LobbyBypass.TOKEN_HOLDERS, JOINED),
        (AccessPolicy.DENY, LobbyBypass.NONE, LOBBY),
        (AccessPolicy.DENY, LobbyBypass.TOKEN_HOLDERS, JOINED),
    ],
)
@pytest.mark.parametrize("role", [Role.GUEST, Role.ATTENDEE, Role.PRESENTER])
def test_token_join_follows_policy_and_bypass(
    policy: AccessPolicy, bypass: LobbyBypass, expected: SessionState, role: Role
) -> None:
    room = make_room(policy, bypass)
    events = room.handle(token_guest(role=role), T0)
    p = room.participant("t1")
    assert p.state is expected
    assert p.role is role
    assert p.vouched is True
    assert p.method is JoinMethod.TOKEN
    if expected is JOINED:
        assert types(events) == [EventType.PARTICIPANT_JOINED]
        assert p.joined_at == T0 and p.lobby_since is None
    else:
        assert types(events) == [EventType.PARTICIPANT_WAITING, EventType.LOBBY_POSITION]
        assert p.lobby_since == T0 and p.joined_at is None


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(AccessPolicy.DIRECT, JOINED), (AccessPolicy.LOBBY, LOBBY)],
)
@pytest.mark.parametrize("bypass", list(LobbyBypass))
def test_url_join_follows_policy(
    policy: AccessPolicy, expected: SessionState, bypass: LobbyBypass
) -> None:
    room = make_room(policy, bypass)
    room.handle(url_guest(), T0)
    p = room.participant("g1")
    assert p.state is expected
    assert p.vouched is False


@pytest.mark.parametrize("bypass", list(LobbyBypass))
def test_url_join_is_refused_under_deny(bypass: LobbyBypass) -> None:
    room = make_room(AccessPolicy.DENY, bypass)
    with pytest.raises(PermissionDenied) as err:
        room.handle(url_guest(), T0)
    assert err.value.code == "forbidden"
    assert room.participants == {} and room.last_seq == 0


@pytest.mark.parametrize("policy", list(AccessPolicy))
@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.PRESENTER, Role.ATTENDEE])
def test_signed_in_user_joins_directly_under_any_policy(policy: AccessPolicy, role: Role) -> None:
    room = make_room(policy)
    events = room.handle(Join("u", "Alice", role, JoinMethod.USER, username="alice"), T0)
    p = room.participant("u")
    assert p.state is JOINED and p.vouched and p.username == "alice"
    assert events[0].to == frozenset({"u"})
    assert wire(events[0])["participant"]["role"] == role.value


def test_signed_in_user_cannot_join_as_guest() -> None:
    with pytest.raises(ValidationFailed):
        make_room().handle(Join("u", "Alice", Role.GUEST, JoinMethod.USER, username="a"), T0)


def test_user_join_needs_a_username() -> None:
    with pytest.raises(ValidationFailed):
        make_room().handle(Join("u", "Alice", Role.ATTENDEE, JoinMethod.USER), T0)


def test_only_the_meetings_organizer_joins_as_organizer() -> None:
    room = make_room()
    with pytest.raises(PermissionDenied):
        room.handle(Join("u", "Bob", Role.ORGANIZER, JoinMethod.USER, username="bob"), T0)


def test_token_never_grants_organizer() -> None:
    with pytest.raises(PermissionDenied):
        make_room(AccessPolicy.DIRECT).handle(token_guest(role=Role.ORGANIZER), T0)


@pytest.mark.parametrize("role", [Role.ORGANIZER, Role.PRESENTER, Role.ATTENDEE])
def test_url_join_gives_guest_role_only(role: Role) -> None:
    with pytest.raises(PermissionDenied):
        make_room(AccessPolicy.DIRECT).handle(Join("g", "Ann", role, JoinMethod.URL), T0)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "x" * 81,
        "bad\x00name",
        "Alice\u202eAdvisor",
        "\u200b",
        "Al\u200dice",
        "\ufeffAnn",
    ],
)
def test_display_name_is_validated(name: str) -> None:
    room = make_room(AccessPolicy.DIRECT)
    with pytest.raises(ValidationFailed):
        room.handle(url_guest(name=name), T0)
    assert room.last_seq == 0


def test_display_name_is_trimmed() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(url_guest(name="  Ann  "), T0)
    assert room.participant("g1").display_name == "Ann"


def test_display_name_is_normalised() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(url_guest(name="\u3000\uff21\uff4e\uff4e \t Visitor"), T0)
    assert room.participant("g1").display_name == "Ann Visitor"


@pytest.mark.parametrize("pid", ["", "x" * 129])
def test_participant_id_is_validated(pid: str) -> None:
    with pytest.raises(ValidationFailed):
        make_room(AccessPolicy.DIRECT).handle(url_guest(pid), T0)


def test_bad_enum_values_are_validation_errors() -> None:
    room = make_room(AccessPolicy.DIRECT)
    with pytest.raises(ValidationFailed):
        room.handle(Join("g", "Ann", Role.GUEST, "carrier-pigeon"), T0)  # type: ignore[arg-type]


def test_joining_an_ended_meeting_is_refused() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(EndBySystem("deleted"), T0)
    with pytest.raises(MeetingEnded) as err:
        room.handle(url_guest(), T0)
    assert err.value.code == "meeting_ended"


def test_room_for_a_stored_ended_meeting_refuses_joins() -> None:
    room = Room(make_meeting().ended_copy(T0))
    assert room.ended
    with pytest.raises(MeetingEnded):
        room.handle(organizer(), T0)


def test_reusing_the_id_of_a_participant_who_left_is_refused() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(url_guest(), T0)
    room.handle(Leave("g1"), T0)
    before = state_key(room)
    with pytest.raises(IllegalState):
        room.handle(url_guest(), T0)
    assert state_key(room) == before
    room.handle(url_guest("g1-again"), T0)  # re-entry uses a new id
    assert room.participant("g1-again").state is JOINED


def test_reusing_the_id_of_a_present_participant_is_refused() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(url_guest(), T0)
    with pytest.raises(IllegalState):
        room.handle(url_guest(), T0)


def test_max_participants() -> None:
    room = make_room(AccessPolicy.DIRECT, limits=Limits(max_participants=2))
    room.handle(organizer(), T0)
    room.handle(url_guest("g1"), T0)
    with pytest.raises(LimitExceeded) as err:
        room.handle(url_guest("g2"), T0)
    assert err.value.code == "limit_exceeded"
    room.handle(Leave("g1"), T0)
    room.handle(url_guest("g2"), T0)


def test_max_lobby() -> None:
    room = make_room(limits=Limits(max_lobby=1))
    room.handle(url_guest("g1"), T0)
    with pytest.raises(LimitExceeded):
        room.handle(url_guest("g2"), T0)
    room.handle(organizer(), T0)  # a direct join is not limited by the lobby


def test_joiner_receives_its_own_joined_event_and_roster_learns() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(organizer(), T0)
    [event] = room.handle(url_guest(), T0)
    assert event.type == EventType.PARTICIPANT_JOINED
    assert event.to == frozenset({"org", "g1"})
    assert wire(event)["participant"]["display_name"] == "Ann Visitor"


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        make_room().handle(organizer(), T0.replace(tzinfo=None))
