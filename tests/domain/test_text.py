"""Valid Unicode only: the checks every edge shares, and the repair of old data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.domain.commands import Join, SendChat
from frontdesk.domain.model import Meeting, check_display_name
from frontdesk.domain.room import Room
from frontdesk.domain.text import (
    has_surrogate,
    json_has_surrogate,
    maybe_escaped_surrogate,
    scrub,
    scrub_json,
)
from frontdesk.errors import ValidationFailed

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_text = st.text(st.characters(codec=None, exclude_categories=()))


@given(st.text(alphabet=st.one_of(st.characters(), surrogates)))
def test_scrub_leaves_valid_unicode_only(value: str) -> None:
    repaired = scrub(value)
    repaired.encode("utf-8")  # never raises
    assert len(repaired) == len(value)
    assert has_surrogate(value) == (repaired != value)


@given(
    st.recursive(
        st.text(st.one_of(st.characters(), surrogates)),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_json_checks_agree_with_the_text(value: object) -> None:
    text = json.dumps(value)  # escapes surrogates as \\udXXX
    if json_has_surrogate(value):
        assert maybe_escaped_surrogate(text)
    repaired = scrub_json(value)
    assert not json_has_surrogate(repaired)
    json.dumps(repaired, ensure_ascii=False).encode("utf-8")


def test_an_escaped_pair_is_valid_but_a_lone_escape_is_not() -> None:
    assert json.loads('"\\ud83d\\ude00"') == "😀"
    assert not json_has_surrogate(json.loads('{"a": "\\ud83d\\ude00"}'))
    assert json_has_surrogate(json.loads('{"a": ["\\udcff"]}'))
    assert json_has_surrogate(json.loads('{"\\ud800": 1}'))


def test_display_names_and_chat_refuse_surrogates() -> None:
    with pytest.raises(ValidationFailed, match="surrogate"):
        check_display_name("Eve \udcff")
    room = Room(Meeting(id="m_1", join_code="c", subject="s", organizer="alice", created_at=NOW))
    room.handle(Join("p_a", "Alice", "organizer", "user", username="alice"), NOW)
    with pytest.raises(ValidationFailed, match="valid Unicode"):
        room.handle(SendChat("p_a", "c1", "hi \ud800"), NOW)
    assert room.chat == [] and room.last_seq == 1
