"""Values the service API returns, as frozen dataclasses.

Each model has a ``from_json`` constructor that checks the shape of a decoded
JSON body; an answer that does not fit raises :class:`frontdesk.errors.ProtocolError`
(the server and this client disagree), never ``KeyError`` or ``ValueError``.
Secrets (guest tokens, webhook signing secrets, join URLs) are left out of
``repr`` so a value can be logged safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from frontdesk.domain.model import AccessPolicy, LobbyBypass, MeetingState, Role
from frontdesk.errors import ProtocolError
from frontdesk.protocol.http import Discovery

__all__ = [
    "Branding",
    "Discovery",
    "GuestToken",
    "Meeting",
    "Participant",
    "Webhook",
    "parse_datetime",
]

_E = TypeVar("_E", bound=StrEnum)


def parse_datetime(value: str) -> datetime:
    """An RFC 3339 timestamp as a tz-aware ``datetime`` (naive values are taken as UTC)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"not an RFC 3339 timestamp: {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class _Reader:
    """Typed access to one JSON object, naming the model in every complaint."""

    def __init__(self, data: object, model: str) -> None:
        if not isinstance(data, Mapping):
            raise ProtocolError(f"{model}: expected a JSON object, got {type(data).__name__}")
        self._data: Mapping[str, Any] = data
        self._model = model

    def _get(self, key: str, kind: type, *, optional: bool = False) -> Any:
        if key not in self._data:
            if optional:
                return None
            raise ProtocolError(f"{self._model}: missing field {key!r}")
        value = self._data[key]
        if value is None and optional:
            return None
        if not isinstance(value, kind):
            raise ProtocolError(f"{self._model}: field {key!r} has the wrong type")
        return value

    def text(self, key: str) -> str:
        value: str = self._get(key, str)
        return value

    def opt_text(self, key: str) -> str | None:
        value: str | None = self._get(key, str, optional=True)
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value: bool | None = self._get(key, bool, optional=True)
        return default if value is None else value

    def dt(self, key: str) -> datetime:
        return parse_datetime(self.text(key))

    def opt_dt(self, key: str) -> datetime | None:
        raw = self.opt_text(key)
        return None if raw is None else parse_datetime(raw)

    def items(self, key: str) -> list[Any]:
        value: list[Any] = self._get(key, list)
        return value

    def opt_int(self, key: str) -> int | None:
        value: int | None = self._get(key, int, optional=True)
        return value

    def opt_object(self, key: str) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._get(key, dict, optional=True)
        return value

    def enum(self, key: str, kind: type[_E]) -> _E:
        raw = self.text(key)
        try:
            return kind(raw)
        except ValueError as exc:
            raise ProtocolError(f"{self._model}: unknown {key} {raw!r}") from exc


@dataclass(frozen=True, slots=True)
class Meeting:
    """A meeting as the service API describes it."""

    id: str
    subject: str
    organizer: str
    state: MeetingState
    access_policy: AccessPolicy
    lobby_bypass: LobbyBypass
    start: datetime | None
    end: datetime | None
    created_at: datetime
    ended_at: datetime | None
    join_url: str = field(repr=False)  # a capability: whoever holds it may knock
    invite_url: str

    @classmethod
    def from_json(cls, data: object) -> Meeting:
        r = _Reader(data, "Meeting")
        return cls(
            id=r.text("id"),
            subject=r.text("subject"),
            organizer=r.text("organizer"),
            state=r.enum("state", MeetingState),
            access_policy=r.enum("access_policy", AccessPolicy),
            lobby_bypass=r.enum("lobby_bypass", LobbyBypass),
            start=r.opt_dt("start"),
            end=r.opt_dt("end"),
            created_at=r.dt("created_at"),
            ended_at=r.opt_dt("ended_at"),
            join_url=r.text("join_url"),
            invite_url=r.text("invite_url"),
        )


@dataclass(frozen=True, slots=True)
class Branding:
    """The application's brand as it set it (``None``: not set, the default shows)."""

    display_name: str | None
    accent: str | None
    #: Black or white: the text colour that reads on ``accent``.
    accent_text: str | None
    logo_url: str | None
    updated_at: datetime | None

    @classmethod
    def from_json(cls, data: object) -> Branding:
        r = _Reader(data, "Branding")
        return cls(
            display_name=r.opt_text("display_name"),
            accent=r.opt_text("accent"),
            accent_text=r.opt_text("accent_text"),
            logo_url=r.opt_text("logo_url"),
            updated_at=r.opt_dt("updated_at"),
        )


@dataclass(frozen=True, slots=True)
class Participant:
    """One person in (or waiting to enter) a meeting."""

    id: str
    display_name: str
    role: Role
    state: str
    vouched: bool
    method: str
    audio_muted: bool = False
    video_muted: bool = False
    hand_raised: bool = False

    @classmethod
    def from_json(cls, data: object) -> Participant:
        r = _Reader(data, "Participant")
        return cls(
            id=r.text("id"),
            display_name=r.text("display_name"),
            role=r.enum("role", Role),
            state=r.text("state"),
            vouched=r.flag("vouched"),
            method=r.text("method"),
            audio_muted=r.flag("audio_muted"),
            video_muted=r.flag("video_muted"),
            hand_raised=r.flag("hand_raised"),
        )


@dataclass(frozen=True, slots=True)
class GuestToken:
    """Join material for one visitor: hand ``token`` and ``discovery_uri`` to the app.

    ``repr`` leaves the token out, so logging a grant does not leak it.
    """

    token: str = field(repr=False)
    discovery_uri: str
    expires_at: datetime
    meeting_id: str

    @classmethod
    def from_json(cls, data: object) -> GuestToken:
        r = _Reader(data, "GuestToken")
        return cls(
            token=r.text("token"),
            discovery_uri=r.text("discovery_uri"),
            expires_at=r.dt("expires_at"),
            meeting_id=r.text("meeting_id"),
        )


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered callback; ``secret`` is set only on the value ``create_webhook`` returns."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str | None = field(repr=False)
    created_at: datetime

    @classmethod
    def from_json(cls, data: object) -> Webhook:
        r = _Reader(data, "Webhook")
        events = r.items("events")
        if not all(isinstance(e, str) for e in events):
            raise ProtocolError("Webhook: events must be strings")
        return cls(
            id=r.text("id"),
            url=r.text("url"),
            events=tuple(events),
            secret=r.opt_text("secret"),
            created_at=r.dt("created_at"),
        )


@dataclass(frozen=True, slots=True)
class Visit:
    """A helpdesk visit: where it stands, and for a waiting one its place
    ("number 3") and about how long (``None`` when it cannot be known)."""

    visit_id: str
    queue: str
    state: str  # queued, offered, accepted, completed, abandoned
    display_name: str
    medium: str
    meeting_id: str
    topic: str | None = None
    language: str | None = None
    agent: str | None = None
    note: str = ""
    transfers: int = 0
    position: int | None = None
    estimated_wait_s: int | None = None

    @classmethod
    def from_json(cls, data: object) -> Visit:
        r = _Reader(data, "Visit")
        return cls(
            visit_id=r.text("visit_id"),
            queue=r.text("queue"),
            state=r.text("state"),
            display_name=r.text("display_name"),
            medium=r.text("medium"),
            meeting_id=r.text("meeting_id"),
            topic=r.opt_text("topic"),
            language=r.opt_text("language"),
            agent=r.opt_text("agent"),
            note=r.opt_text("note") or "",
            transfers=r.opt_int("transfers") or 0,
            position=r.opt_int("position"),
            estimated_wait_s=r.opt_int("estimated_wait_s"),
        )


@dataclass(frozen=True, slots=True)
class VisitGrant:
    """What ``create_visit`` returns: the visit and the visitor's join material
    (the same as a guest token's, plus the meeting's join URL)."""

    visit: Visit
    guest: GuestToken
    join_url: str

    @classmethod
    def from_json(cls, data: object) -> VisitGrant:
        r = _Reader(data, "VisitGrant")
        return cls(Visit.from_json(data), GuestToken.from_json(data), r.text("join_url"))


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A helpdesk queue's settings. ``hours`` is ``{"time_zone", "weekly"}`` or
    ``None`` (always open)."""

    name: str
    topics: tuple[str, ...]
    languages: tuple[str, ...]
    agents: tuple[str, ...]
    hours: dict[str, Any] | None = None
    max_wait_s: int | None = None
    service_level_s: int | None = None

    @classmethod
    def from_json(cls, data: object) -> QueueInfo:
        r = _Reader(data, "QueueInfo")
        return cls(
            name=r.text("name"),
            topics=tuple(str(x) for x in r.items("topics")),
            languages=tuple(str(x) for x in r.items("languages")),
            agents=tuple(str(x) for x in r.items("agents")),
            hours=r.opt_object("hours"),
            max_wait_s=r.opt_int("max_wait_s"),
            service_level_s=r.opt_int("service_level_s"),
        )


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A message a visitor left when the queue was closed or full."""

    id: str
    queue: str
    display_name: str
    message: str
    contact: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    @classmethod
    def from_json(cls, data: object) -> CallbackRequest:
        r = _Reader(data, "CallbackRequest")
        return cls(
            id=r.text("id"),
            queue=r.text("queue"),
            display_name=r.text("display_name"),
            message=r.text("message"),
            contact=r.opt_text("contact") or "",
            created_at=r.dt("created_at"),
            resolved_at=r.opt_dt("resolved_at"),
            resolved_by=r.opt_text("resolved_by"),
        )
