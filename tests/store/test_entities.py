"""Apps, users and meetings: round trips, time zones, duplicates, not-founds, listing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from frontdesk.domain.model import AccessPolicy, LobbyBypass, MeetingState, UserRole
from frontdesk.errors import (
    AlreadyExists,
    AppNotFound,
    Conflict,
    MeetingEnded,
    MeetingNotFound,
    UserNotFound,
    ValidationFailed,
)
from frontdesk.store.base import EventRecord
from frontdesk.store.sql import SqlStore
from tests.store import samples as s
from tests.store.samples import T0, at


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# --- apps ---------------------------------------------------------------------------------
async def test_app_round_trip(store: SqlStore) -> None:
    app = s.app()
    await store.create_app(app)
    got = await store.get_app("app_1")
    assert got == app
    assert_utc(got.created_at)
    assert got.active


async def test_duplicate_app_is_already_exists(store: SqlStore) -> None:
    await store.create_app(s.app())
    with pytest.raises(AlreadyExists):
        await store.create_app(s.app(name="Other"))
    assert (await store.get_app("app_1")).name == "Harbor Bank"


async def test_missing_app(store: SqlStore) -> None:
    with pytest.raises(AppNotFound):
        await store.get_app("nope")
    with pytest.raises(AppNotFound):
        await store.revoke_app("nope", T0)


async def test_list_and_revoke_apps(store: SqlStore) -> None:
    await store.create_app(s.app("app_b", created_at=at(2)))
    await store.create_app(s.app("app_a", created_at=at(1)))
    assert [a.client_id for a in await store.list_apps()] == ["app_a", "app_b"]

    revoked = await store.revoke_app("app_b", at(10))
    assert revoked.revoked_at == at(10)
    assert not revoked.active
    # Revoking again keeps the first revocation time.
    assert (await store.revoke_app("app_b", at(20))).revoked_at == at(10)
    assert (await store.get_app("app_b")).revoked_at == at(10)
    assert (await store.get_app("app_a")).active


# --- users --------------------------------------------------------------------------------
async def test_user_round_trip_and_update(store: SqlStore) -> None:
    user = s.user()
    await store.create_user(user)
    assert await store.get_user("alice") == user

    changed = dataclasses.replace(user, display_name="Alice A.", disabled=True, password_hash="h2")
    await store.update_user(changed)
    assert await store.get_user("alice") == changed


async def test_user_role_round_trip(store: SqlStore) -> None:
    await store.create_user(s.user())
    assert (await store.get_user("alice")).role is UserRole.AGENT  # the default
    await store.create_user(s.user("sam", role=UserRole.SUPERVISOR))
    assert (await store.get_user("sam")).role is UserRole.SUPERVISOR
    promoted = dataclasses.replace(await store.get_user("alice"), role=UserRole.SUPERVISOR)
    await store.update_user(promoted)
    assert [u.role for u in await store.list_users()] == [UserRole.SUPERVISOR] * 2


async def test_user_duplicates_and_missing(store: SqlStore) -> None:
    await store.create_user(s.user())
    with pytest.raises(AlreadyExists):
        await store.create_user(s.user(display_name="Impostor"))
    with pytest.raises(UserNotFound):
        await store.get_user("bob")
    with pytest.raises(UserNotFound):
        await store.update_user(s.user("bob"))


async def test_list_users_sorted(store: SqlStore) -> None:
    for name in ("carol", "alice", "bob"):
        await store.create_user(s.user(name))
    assert [u.username for u in await store.list_users()] == ["alice", "bob", "carol"]


# --- meetings -----------------------------------------------------------------------------
async def test_meeting_round_trip_every_field(store: SqlStore) -> None:
    plus2 = timezone(timedelta(hours=2))
    meeting = s.meeting(
        access_policy=AccessPolicy.DENY,
        lobby_bypass=LobbyBypass.TOKEN_HOLDERS,
        start=datetime(2024, 6, 1, 10, 0, tzinfo=plus2),
        end=datetime(2024, 6, 1, 11, 0, tzinfo=plus2),
        state=MeetingState.SCHEDULED,
        created_by_app="app_1",
    )
    await store.create_meeting(meeting)
    got = await store.get_meeting("m_1")
    assert got == meeting  # aware datetimes compare by instant
    assert got.start == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    for value in (got.created_at, got.start, got.end):
        assert_utc(value)
    assert got.created_at.microsecond == 123456
    assert type(got.access_policy) is AccessPolicy
    assert type(got.state) is MeetingState
    assert await store.get_meeting_by_join_code("code-m_1") == meeting


async def test_meeting_duplicate_id_or_join_code(store: SqlStore) -> None:
    await store.create_meeting(s.meeting("m_1"))
    with pytest.raises(AlreadyExists):
        await store.create_meeting(s.meeting("m_1", join_code="fresh"))
    with pytest.raises(AlreadyExists):
        await store.create_meeting(s.meeting("m_2", join_code="code-m_1"))
    with pytest.raises(MeetingNotFound):
        await store.get_meeting("m_2")


async def test_missing_meeting(store: SqlStore) -> None:
    with pytest.raises(MeetingNotFound):
        await store.get_meeting("m_x")
    with pytest.raises(MeetingNotFound):
        await store.get_meeting_by_join_code("no-such-code")
    with pytest.raises(MeetingNotFound):
        await store.update_meeting(s.meeting("m_x"))


async def test_update_meeting(store: SqlStore) -> None:
    meeting = s.meeting()
    await store.create_meeting(meeting)
    changed = meeting.updated(subject="Car loan", access_policy=AccessPolicy.DIRECT)
    await store.update_meeting(changed)
    assert await store.get_meeting("m_1") == changed
    ended = changed.ended_copy(at(60))
    await store.update_meeting(ended)
    got = await store.get_meeting("m_1")
    assert got == ended and got.revision == 2
    assert got.state is MeetingState.ENDED
    assert got.ended_at == at(60)
    assert_utc(got.ended_at)


async def test_update_meeting_is_written_over_its_revision_only(store: SqlStore) -> None:
    """Two changes made from the same revision: the second is refused (Conflict)
    and stores nothing; a change made from before an end never revives it."""
    meeting = s.meeting()
    await store.create_meeting(meeting)
    first = meeting.updated(subject="First")
    second = meeting.updated(subject="Second")
    await store.update_meeting(first)
    with pytest.raises(Conflict):
        await store.update_meeting(second)
    assert (await store.get_meeting("m_1")).subject == "First"
    await store.update_meeting(first.ended_copy(at(60)))
    stale = first.updated(access_policy=AccessPolicy.DIRECT)  # made before the end
    with pytest.raises(MeetingEnded):
        await store.update_meeting(stale)
    got = await store.get_meeting("m_1")
    assert got.state is MeetingState.ENDED and got.access_policy is AccessPolicy.LOBBY


async def test_update_meeting_to_taken_join_code(store: SqlStore) -> None:
    await store.create_meeting(s.meeting("m_1"))
    await store.create_meeting(s.meeting("m_2"))
    with pytest.raises(AlreadyExists):
        await store.update_meeting(s.meeting("m_2", join_code="code-m_1", revision=1))
    assert (await store.get_meeting("m_2")).join_code == "code-m_2"


async def test_list_meetings_newest_first_with_filters(store: SqlStore) -> None:
    specs = [
        ("m_a", 1, "alice", MeetingState.ACTIVE, "app_1"),
        ("m_b", 2, "bob", MeetingState.ENDED, "app_1"),
        ("m_c", 3, "alice", MeetingState.ENDED, None),
        ("m_d", 3, "alice", MeetingState.SCHEDULED, "app_2"),  # same time as m_c
        ("m_e", 4, "bob", MeetingState.ACTIVE, "app_2"),
    ]
    for mid, t, org, state, app_id in specs:
        await store.create_meeting(
            s.meeting(mid, created_at=at(t), organizer=org, state=state, created_by_app=app_id)
        )

    async def ids(**kw: object) -> list[str]:
        return [m.id for m in await store.list_meetings(**kw)]  # type: ignore[arg-type]

    assert await ids() == ["m_e", "m_d", "m_c", "m_b", "m_a"]
    assert await ids(organizer="alice") == ["m_d", "m_c", "m_a"]
    assert await ids(state=MeetingState.ENDED) == ["m_c", "m_b"]
    assert await ids(app_id="app_2") == ["m_e", "m_d"]
    assert await ids(organizer="alice", state=MeetingState.ACTIVE) == ["m_a"]
    assert await ids(organizer="nobody") == []
    assert await ids(limit=2) == ["m_e", "m_d"]
    assert await ids(limit=2, offset=2) == ["m_c", "m_b"]
    assert await ids(limit=10, offset=4) == ["m_a"]
    assert await ids(limit=0) == []
    with pytest.raises(ValidationFailed):
        await ids(limit=-1)


async def test_naive_datetime_is_refused_not_leaked(store: SqlStore) -> None:
    naive = datetime(2024, 1, 1, 12, 0)
    with pytest.raises(ValidationFailed):
        await store.create_app(s.app(created_at=naive))
    with pytest.raises(ValidationFailed):
        await store.consume_token("jti", "m_1", naive)
    assert await store.list_apps() == []


async def test_idle_meetings_are_open_ad_hoc_ones_quiet_since_before(store: SqlStore) -> None:
    await store.create_meeting(s.meeting("m_quiet", created_at=at(0)))
    await store.create_meeting(s.meeting("m_talked", created_at=at(0)))
    await store.create_meeting(s.meeting("m_new", created_at=at(100)))
    await store.create_meeting(s.meeting("m_sched", created_at=at(0), start=at(500), end=at(600)))
    await store.create_meeting(s.meeting("m_ended", created_at=at(0), state=MeetingState.ENDED))
    await store.append_events([EventRecord("m_talked", 1, "chat_message", {"to": []}, at(90))])
    assert await store.idle_meetings(at(50)) == ["m_quiet"]
    assert sorted(await store.idle_meetings(at(95))) == ["m_quiet", "m_talked"]
    assert sorted(await store.idle_meetings(at(200))) == ["m_new", "m_quiet", "m_talked"]
    assert len(await store.idle_meetings(at(200), limit=1)) == 1
