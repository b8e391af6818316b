"""Opening hours of a queue: weekly intervals in one IANA time zone.

Times are wall-clock minutes of the local day (0 … 1440) in the queue's zone,
so "09:00-17:00 Europe/Paris" stays 09:00-17:00 across daylight saving
changes. An interval never crosses midnight; a night shift is two intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from frontdesk.errors import ValidationFailed

__all__ = ["DAYS", "OpeningHours", "parse_clock"]

#: Day keys in ``datetime.weekday()`` order.
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_INTERVALS_PER_DAY = 8
_DAY_MINUTES = 24 * 60


def parse_clock(value: str) -> int:
    """``"HH:MM"`` (``"24:00"`` allowed as an end) → minutes since midnight."""
    if not isinstance(value, str):
        raise ValidationFailed("a time of day is HH:MM")
    hh, sep, mm = value.partition(":")
    if not sep or len(hh) != 2 or len(mm) != 2 or not (hh + mm).isdigit():
        raise ValidationFailed(f"a time of day is HH:MM, not {value[:16]!r}")
    minutes = int(hh) * 60 + int(mm)
    if int(mm) >= 60 or minutes > _DAY_MINUTES:
        raise ValidationFailed(f"no such time of day: {value[:16]!r}")
    return minutes


def _span(span: Sequence[str]) -> tuple[int, int]:
    if isinstance(span, str) or len(span) != 2:
        raise ValidationFailed('an interval is ["HH:MM", "HH:MM"]')
    return parse_clock(span[0]), parse_clock(span[1])


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """``weekly[d]`` holds the open intervals ``(start, end)`` of weekday ``d``
    (Monday = 0) in minutes, sorted and not overlapping."""

    time_zone: str
    weekly: tuple[tuple[tuple[int, int], ...], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.time_zone, str) or len(self.time_zone) > 64:
            raise ValidationFailed("time_zone must be an IANA zone name")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(f"unknown time zone {self.time_zone!r}") from None
        if len(self.weekly) != 7:
            raise ValidationFailed("opening hours need one entry per weekday")
        for day in self.weekly:
            if len(day) > _MAX_INTERVALS_PER_DAY:
                raise ValidationFailed("at most 8 intervals a day")
            previous_end = -1
            for start, end in day:
                if not 0 <= start < end <= _DAY_MINUTES:
                    raise ValidationFailed("an interval must start before it ends, within the day")
                if start < previous_end:
                    raise ValidationFailed("intervals of a day must be sorted and not overlap")
                previous_end = end

    @classmethod
    def from_dict(cls, time_zone: str, days: Mapping[str, Sequence[Sequence[str]]]) -> OpeningHours:
        """From ``{"mon": [("09:00", "17:00")], ...}``; a missing day is closed."""
        unknown = set(days) - set(DAYS)
        if unknown:
            raise ValidationFailed(
                f"unknown weekday {sorted(unknown)[0][:8]!r}; use {', '.join(DAYS)}"
            )
        weekly = tuple(tuple(sorted(_span(span) for span in days.get(day, ()))) for day in DAYS)
        return cls(time_zone, weekly)

    def to_dict(self) -> dict[str, list[list[str]]]:
        return {
            day: [[_clock(a), _clock(b)] for a, b in spans]
            for day, spans in zip(DAYS, self.weekly, strict=True)
            if spans
        }

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.weekly[local.weekday()])

    def next_opening(self, now: datetime) -> datetime | None:
        """The next time (UTC) an interval starts after ``now``; ``None`` if never."""
        zone = self.zone
        today = now.astimezone(zone).date()
        for offset in range(8):
            day = today + timedelta(days=offset)
            for start, _end in self.weekly[day.weekday()]:
                at = _local(day, start, zone)
                if at > now:
                    return at.astimezone(UTC)
        return None


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= _DAY_MINUTES:
        return datetime.combine(day + timedelta(days=1), time(0), zone)
    return datetime.combine(day, time(minutes // 60, minutes % 60), zone)
