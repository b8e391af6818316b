"""A transcript's two outward forms: the JSON models of the HTTP edge, and the
plain-text download (a header, then one line per entry).

JSON carries text as it was written (JSON is not HTML: the console renders it
as text). The plain-text form is meant to be opened anywhere, so it holds no
control characters but line breaks, and a message's later lines are indented
under it: nobody can forge a line of the transcript by writing one in a chat.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from frontdesk.domain.model import Meeting
from frontdesk.server.transcripts import (
    Entry,
    Page,
    Person,
    Reader,
    Transcripts,
    VisitHistory,
)

__all__ = [
    "TranscriptEntryOut",
    "TranscriptFormat",
    "TranscriptMeetingOut",
    "TranscriptOut",
    "TranscriptPersonOut",
    "TranscriptVisitOut",
    "text_lines",
    "transcript_response",
]


class TranscriptPersonOut(BaseModel):
    participant_id: str
    display_name: str
    role: str = Field(description="organizer, agent (a signed-in user) or guest")
    meeting_role: str = Field(description="organizer, presenter, attendee or guest")
    vouched: bool = Field(description="a back end (guest token) or a sign-in vouched for them")
    username: str | None = Field(
        None, description="an agent's login (to the organizer and the meeting's application)"
    )
    guest_app: str | None = Field(
        None, description="the application whose guest token let this guest in"
    )

    @classmethod
    def of(cls, p: Person | None) -> TranscriptPersonOut | None:
        if p is None:
            return None
        return cls(
            participant_id=p.participant_id,
            display_name=p.display_name,
            role=p.role,
            meeting_role=p.meeting_role,
            vouched=p.vouched,
            username=p.username,
            guest_app=p.guest_app,
        )


class TranscriptEntryOut(BaseModel):
    seq: int = Field(description="the event's sequence number in the meeting")
    at: datetime
    kind: str = Field(
        description="chat, waiting, joined, admitted, denied, removed, left, muted,"
        " policy_changed, ended; or the stored event's type for any other event"
    )
    actor: TranscriptPersonOut | None = Field(None, description="who did it (null: the system)")
    subject: TranscriptPersonOut | None = Field(None, description="to whom")
    text: str | None = Field(None, description="what was said (chat)")
    removed: bool = Field(False, description="the content was deleted by chat retention")
    removed_at: datetime | None = None
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, e: Entry) -> TranscriptEntryOut:
        return cls(
            seq=e.seq,
            at=e.at,
            kind=e.kind,
            actor=TranscriptPersonOut.of(e.actor),
            subject=TranscriptPersonOut.of(e.subject),
            text=e.text,
            removed=e.removed,
            removed_at=e.removed_at,
            reason=e.reason,
            details=e.details,
        )


class TranscriptMeetingOut(BaseModel):
    id: str
    subject: str
    organizer: str
    organizer_name: str
    state: str
    created_at: datetime
    start: datetime | None
    end: datetime | None
    ended_at: datetime | None


class TranscriptVisitStepOut(BaseModel):
    at: datetime
    kind: str = Field(
        description="queued, offered, declined, offer_expired, accepted, transferred, "
        "completed or abandoned"
    )
    agent: str | None = None
    details: dict[str, Any] = Field(
        default_factory=dict, description="note, from_agent, to_queue, to_agent, reason..."
    )


class TranscriptVisitOut(BaseModel):
    """A helpdesk visit the meeting held: its queue and what the router did."""

    visit_id: str
    queue: str
    medium: str
    topic: str | None
    language: str | None
    context: str
    steps: list[TranscriptVisitStepOut]

    @classmethod
    def of(cls, v: VisitHistory) -> TranscriptVisitOut:
        return cls(
            visit_id=v.visit_id,
            queue=v.queue,
            medium=v.medium,
            topic=v.topic,
            language=v.language,
            context=v.context,
            steps=[
                TranscriptVisitStepOut(at=s.at, kind=s.kind, agent=s.agent, details=s.details)
                for s in v.steps
            ],
        )


class TranscriptOut(BaseModel):
    meeting: TranscriptMeetingOut
    entries: list[TranscriptEntryOut]
    next_after: int | None = Field(
        None, description="pass as ?after= for the next page; null on the last page"
    )
    visits: list[TranscriptVisitOut] = Field(
        default_factory=list,
        description="helpdesk visits the meeting held (for readers who read all of it)",
    )

    @classmethod
    def of(cls, page: Page) -> TranscriptOut:
        m = page.meeting
        return cls(
            meeting=TranscriptMeetingOut(
                id=m.id,
                subject=m.subject,
                organizer=m.organizer,
                organizer_name=page.organizer_name,
                state=m.state.value,
                created_at=m.created_at,
                start=m.start,
                end=m.end,
                ended_at=m.ended_at,
            ),
            entries=[TranscriptEntryOut.of(e) for e in page.entries],
            next_after=page.next_after,
            visits=[TranscriptVisitOut.of(v) for v in page.visits],
        )


# --- plain text ----------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    """One line's worth of someone's text: no control or bidi-override characters."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _who(p: Person | None) -> str:
    if p is None:
        return "the system"
    name = _clean(p.display_name).replace("\n", " ")
    extra = p.role
    if p.username:
        extra += f" {p.username}"
    if p.guest_app:
        extra += f", vouched for by {p.guest_app}"
    return f"{name} ({extra})"


def _line(e: Entry) -> str:
    who, whom = _who(e.actor), _who(e.subject)
    match e.kind:
        case "chat":
            if e.removed:
                return f"{who}: [message removed by chat retention]"
            return f"{who}: {_clean(e.text or '')}"
        case "waiting":
            return f"{who} is waiting in the lobby"
        case "joined":
            return f"{who} joined"
        case "admitted":
            return f"{who} admitted {whom}"
        case "denied":
            return f"{who} denied {whom} entry"
        case "removed":
            return f"{who} removed {whom}"
        case "muted":
            return f"{who} muted {whom}"
        case "left":
            return f"{who} left ({e.reason})" if e.reason != "left" else f"{who} left"
        case "policy_changed":
            return f"access policy set to {e.details.get('access_policy')}"
        case "ended":
            return f"meeting ended by {who} ({e.reason})"
        case _:
            parts = [f"{e.kind}:", who]
            if e.subject is not None:
                parts.append(f"-> {whom}")
            if e.removed:
                parts.append("[content removed by chat retention]")
            elif e.text is not None:
                parts.append(_clean(e.text))
            if e.details:
                details = ", ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
                parts.append(f"[{_clean(details)}]")
            return " ".join(parts)


def _header(meeting: Meeting, organizer_name: str, now: datetime) -> list[str]:
    lines = [
        f"Transcript of meeting {meeting.id}",
        f"Subject:    {_clean(meeting.subject).replace(chr(10), ' ')}",
        f"Organizer:  {_clean(organizer_name)} ({meeting.organizer})",
        f"Created:    {_time(meeting.created_at)}",
    ]
    if meeting.start is not None or meeting.end is not None:
        lines.append(f"Scheduled:  {_time(meeting.start)} to {_time(meeting.end)}")
    lines.append(f"Ended:      {_time(meeting.ended_at)}")
    lines.append(f"Exported:   {_time(now)}")
    return [*lines, ""]


def _visit_lines(v: VisitHistory) -> list[str]:
    about = ", ".join(
        x for x in (v.medium, _clean(v.topic or ""), _clean(v.language or "")) if x
    ).replace("\n", " ")
    lines = [f"Visit {v.visit_id} in queue {_clean(v.queue)} ({about})"]
    if v.context:
        lines.append(f"    Context: {_clean(v.context)}".replace("\n", " "))
    for step in v.steps:
        text = step.kind.replace("_", " ")
        if step.agent:
            text += f" ({_clean(step.agent)})"
        d = step.details
        if d.get("from_agent"):
            text += f" from {_clean(str(d['from_agent']))}"
        targets = [f"queue {d['to_queue']}" if d.get("to_queue") else "",
                   f"agent {d['to_agent']}" if d.get("to_agent") else ""]  # fmt: skip
        if any(targets):
            text += " to " + " and ".join(_clean(t) for t in targets if t)
        if d.get("note"):
            text += f": {_clean(str(d['note']))}"
        lines.append(f"    [{_time(step.at)}] {text}".replace("\n", " "))
    return lines


async def text_lines(
    meeting: Meeting,
    organizer_name: str,
    entries: AsyncIterator[Entry],
    now: datetime,
    visits: list[VisitHistory] | None = None,
) -> AsyncIterator[str]:
    """The download, line by line (each ending in a newline), as entries arrive."""
    for line in _header(meeting, organizer_name, now):
        yield line + "\n"
    for v in visits or ():
        for line in _visit_lines(v):
            yield line + "\n"
        yield "\n"
    async for e in entries:
        first, *rest = _line(e).split("\n")
        yield f"[{_time(e.at)}] {first}\n"
        for more in rest:
            yield f"    {more}\n"


# --- the HTTP answer ----------------------------------------------------------------------
#: OpenAPI of both transcript routes' answers.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the transcript (JSON), or a text/plain download",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


TranscriptFormat = Literal["json", "text"]


def wants_text(request: Request, format: str | None) -> bool:
    """``?format=text``, or an ``Accept`` that prefers text/plain to JSON."""
    if format is not None:
        return format == "text"
    accept = request.headers.get("accept", "")
    return "text/plain" in accept and "application/json" not in accept


async def transcript_response(
    request: Request,
    transcripts: Transcripts,
    meeting: Meeting,
    reader: Reader,
    *,
    after: int,
    limit: int,
    format: str | None,
    now: datetime,
) -> Response:
    """One page as JSON; or the whole transcript as a streamed text attachment
    (read from the store in bounded chunks, never held whole in memory)."""
    if not wants_text(request, format):
        page = await transcripts.page(meeting, reader, after=after, limit=limit)
        body = TranscriptOut.of(page).model_dump(mode="json")
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
    organizer_name = await transcripts.organizer_name(meeting)
    visits = await transcripts.visits(meeting, reader)

    async def body_bytes() -> AsyncIterator[bytes]:
        entries = transcripts.entries(meeting, reader)
        lines = text_lines(meeting, organizer_name, entries, now, visits)
        async for line in lines:
            yield line.encode("utf-8")

    return StreamingResponse(
        body_bytes(),
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="transcript-{meeting.id}.txt"',
            "Cache-Control": "no-store",
        },
    )
