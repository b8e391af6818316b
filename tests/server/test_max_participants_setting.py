"""The per-meeting participant cap is a setting (FRONTDESK_MAX_PARTICIPANTS)."""

from __future__ import annotations

from frontdesk.config import Settings
from frontdesk.server.app import _limits


def test_the_participant_cap_is_a_setting() -> None:
    assert _limits(Settings()).max_participants == 50
    settings = Settings.from_env({"FRONTDESK_MAX_PARTICIPANTS": "120"})
    assert settings.max_participants == 120
    assert _limits(settings).max_participants == 120
