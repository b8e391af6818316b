"""Opening hours in a time zone: open or not, and when it opens next."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frontdesk.domain.helpdesk import OpeningHours
from frontdesk.errors import ValidationFailed

PARIS = OpeningHours.from_dict(
    "Europe/Paris", {"mon": [("09:00", "12:00"), ("14:00", "17:30")], "sat": [("10:00", "24:00")]}
)


def test_open_in_local_time_across_daylight_saving() -> None:
    assert PARIS.is_open(datetime(2026, 1, 5, 8, 30, tzinfo=UTC))  # 09:30 CET
    assert not PARIS.is_open(datetime(2026, 7, 6, 6, 30, tzinfo=UTC))  # 08:30 CEST
    assert PARIS.is_open(datetime(2026, 7, 6, 7, 0, tzinfo=UTC))  # 09:00 CEST
    assert not PARIS.is_open(datetime(2026, 1, 5, 11, 30, tzinfo=UTC))  # 12:30 lunch


def test_next_opening_is_the_next_interval_start_in_utc() -> None:
    monday_lunch = datetime(2026, 1, 5, 11, 30, tzinfo=UTC)
    assert PARIS.next_opening(monday_lunch) == datetime(2026, 1, 5, 13, 0, tzinfo=UTC)
    monday_evening = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)
    assert PARIS.next_opening(monday_evening) == datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    assert OpeningHours.from_dict("UTC", {}).next_opening(monday_evening) is None


def test_the_round_trip_of_the_dict_form() -> None:
    assert OpeningHours.from_dict(PARIS.time_zone, PARIS.to_dict()) == PARIS


@pytest.mark.parametrize(
    ("zone", "days"),
    [
        ("Mars/Olympus", {}),
        ("UTC", {"mon": [("17:00", "09:00")]}),
        ("UTC", {"mon": [("09:00", "12:00"), ("11:00", "13:00")]}),
        ("UTC", {"someday": [("09:00", "12:00")]}),
        ("UTC", {"mon": [("9:00", "12:00")]}),
        ("UTC", {"mon": [("09:60", "12:00")]}),
        ("UTC", {"mon": [("09:00", "24:01")]}),
    ],
)
def test_bad_hours_are_refused(zone: str, days: dict[str, list[tuple[str, str]]]) -> None:
    with pytest.raises(ValidationFailed):
        OpeningHours.from_dict(zone, days)
