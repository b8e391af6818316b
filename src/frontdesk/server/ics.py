"""iCalendar (RFC 5545) invitations carrying a meeting's join URL."""

from __future__ import annotations

from datetime import datetime, timedelta

from frontdesk.domain.model import Meeting

__all__ = ["invite_ics"]


def invite_ics(
    meeting: Meeting, *, join_url: str, organizer_name: str, domain: str, now: datetime
) -> bytes:
    # Imported on the first invitation asked for: most nodes never serve one.
    from icalendar import Calendar, Event, vCalAddress, vText

    cal = Calendar()
    cal.add("prodid", "-//Frontdesk//Frontdesk meetings//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    ev = Event()
    ev.add("uid", f"{meeting.id}@{domain}")
    ev.add("dtstamp", now)
    start = meeting.start or meeting.created_at
    end = meeting.end if meeting.end is not None and meeting.end > start else None
    ev.add("dtstart", start)
    ev.add("dtend", end or start + timedelta(hours=1))
    # Calendar clients replace an event they hold only by a higher SEQUENCE.
    ev.add("sequence", meeting.revision)
    ev.add("summary", meeting.subject or "Frontdesk meeting")
    ev.add("url", join_url)
    ev.add("location", join_url)
    ev.add("description", f"Join the meeting: {join_url}")
    organizer = vCalAddress(f"mailto:{meeting.organizer}@{domain}")
    organizer.params["cn"] = vText(organizer_name)
    ev["organizer"] = organizer
    ev.add("status", "CANCELLED" if meeting.ended else "CONFIRMED")
    ev.add("x-frontdesk-meeting-id", meeting.id)
    cal.add_component(ev)
    data: bytes = cal.to_ical()
    return data
