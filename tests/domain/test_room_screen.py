"""Screen sharing: a typed media flag, so the others know the video is a screen."""

from __future__ import annotations

import pytest
from room_support import T0, at, make_room, organizer, through_store, url_guest, wire

from frontdesk.domain import AccessPolicy, EventType, Room, SetMedia
from frontdesk.errors import IllegalState
from frontdesk.protocol.events import snapshot_to_wire


def test_a_guest_shares_a_screen_and_everyone_is_told() -> None:
    room = make_room(AccessPolicy.DIRECT)
    events = room.handle(organizer("org"), T0) + room.handle(url_guest("g1"), T0)
    (shared,) = room.handle(SetMedia("g1", screen_sharing=True), at(1))
    assert shared.type == EventType.MEDIA_CHANGED
    assert shared.to == {"org", "g1"}
    assert wire(shared)["screen_sharing"] is True
    assert room.participant("g1").screen_sharing
    roster = snapshot_to_wire(room.snapshot_for("org"))["roster"]
    assert [p.get("screen_sharing", False) for p in roster] == [False, True]
    restored = Room.restore(room.meeting, through_store([*events, shared]))
    assert restored.participant("g1").screen_sharing

    (stopped,) = room.handle(SetMedia("g1", screen_sharing=False), at(2))
    # said only when true: frames of those who never share stay as they were
    assert "screen_sharing" not in wire(stopped)
    assert not room.participant("g1").screen_sharing
    assert room.handle(SetMedia("g1", screen_sharing=False), at(3)) == []


def test_only_someone_in_the_meeting_shares() -> None:
    room = make_room()  # lobby
    room.handle(organizer("org"), T0)
    room.handle(url_guest("g1"), T0)
    with pytest.raises(IllegalState):
        room.handle(SetMedia("g1", screen_sharing=True), at(1))
