"""Pydantic models of the HTTP edge (service API, user API, discovery).

Inside the server, values are the domain's dataclasses; these models exist only
to validate input and to document the OpenAPI schema.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from frontdesk.domain.model import (
    MAX_DISPLAY_NAME,
    MAX_SUBJECT,
    AccessPolicy,
    LobbyBypass,
    Meeting,
    MeetingState,
    Role,
)
from frontdesk.domain.text import json_has_surrogate

__all__ = [
    "BrandOut",
    "BrandingIn",
    "BrandingOut",
    "DiscoveryOut",
    "GuestTokenIn",
    "GuestTokenOut",
    "MeetingIn",
    "MeetingInfoOut",
    "MeetingList",
    "MeetingOut",
    "MeetingPatch",
    "ParticipantOut",
    "Problem",
    "SessionIn",
    "SessionOut",
    "TokenOut",
    "WebhookIn",
    "WebhookOut",
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        """Every body is valid Unicode: a lone surrogate (``"\\udcff"``) is refused
        here, before any field sees it (it could be stored but never sent)."""
        if json_has_surrogate(data):
            raise ValueError("text must be valid Unicode (a lone surrogate was sent)")
        return data


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable ``code``."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class MeetingIn(_In):
    subject: str = Field("", max_length=MAX_SUBJECT)
    organizer: str = Field(
        ..., min_length=1, max_length=64, description="username of the organizer"
    )
    start: AwareDatetime | None = Field(None, description="scheduled start (RFC 3339 with offset)")
    end: AwareDatetime | None = None
    access_policy: AccessPolicy = AccessPolicy.LOBBY
    lobby_bypass: LobbyBypass = LobbyBypass.NONE


class MeetingPatch(_In):
    subject: str | None = Field(None, max_length=MAX_SUBJECT)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    access_policy: AccessPolicy | None = None
    lobby_bypass: LobbyBypass | None = None


class MeetingOut(BaseModel):
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
    join_url: str
    invite_url: str

    @classmethod
    def of(cls, m: Meeting, base_url: str, *, invite_path: str = "/v1/meetings") -> MeetingOut:
        return cls(
            id=m.id,
            subject=m.subject,
            organizer=m.organizer,
            state=m.state,
            access_policy=m.access_policy,
            lobby_bypass=m.lobby_bypass,
            start=m.start,
            end=m.end,
            created_at=m.created_at,
            ended_at=m.ended_at,
            join_url=f"{base_url}/j/{m.join_code}",
            invite_url=f"{base_url}{invite_path}/{m.id}/invite.ics",
        )


class MeetingList(BaseModel):
    items: list[MeetingOut]
    limit: int
    offset: int


class GuestTokenIn(_In):
    display_name: str = Field(..., min_length=1, max_length=MAX_DISPLAY_NAME)
    role: Literal["guest", "attendee", "presenter"] = "guest"
    ttl_s: int | None = Field(None, ge=10, description="lifetime in seconds; capped by the server")
    single_use: bool = False
    origins: list[AnyHttpUrl] = Field(
        default_factory=list, max_length=10, description="web origins allowed to use the token"
    )

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class GuestTokenOut(BaseModel):
    token: str
    discovery_uri: str
    expires_at: datetime
    meeting_id: str


class BrandingIn(_In):
    """A change to the application's brand: a field left out stays as it is,
    ``null`` clears it (the node's default shows instead)."""

    display_name: str | None = Field(None, max_length=MAX_DISPLAY_NAME)
    accent: str | None = Field(None, max_length=7, description="#rrggbb, e.g. #0a5c8a")


class BrandingOut(BaseModel):
    """What the application set (``null``: not set, the default shows)."""

    display_name: str | None
    accent: str | None
    accent_text: str | None = Field(description="black or white: the text colour on the accent")
    logo_url: str | None
    updated_at: datetime | None


class BrandOut(BaseModel):
    """A brand as the guest page shows it, defaults filled in."""

    display_name: str
    logo_url: str | None
    accent: str
    accent_text: str


class MeetingInfoOut(BaseModel):
    """What a meeting's link tells anyone before they join: nothing secret."""

    subject: str
    state: Literal["scheduled", "open", "ended"]
    starts_at: datetime | None
    brand: BrandOut


class DiscoveryOut(BaseModel):
    rtc_url: str
    meeting_id: str
    ice_servers: list[dict[str, Any]]
    node_id: str
    meeting: MeetingInfoOut | None = None


class ParticipantOut(BaseModel):
    id: str
    display_name: str
    role: Role
    state: str
    vouched: bool
    method: str
    audio_muted: bool = False
    video_muted: bool = False
    hand_raised: bool = False


class SessionIn(_In):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=1024)


class SessionOut(BaseModel):
    token: str
    username: str
    display_name: str
    expires_at: datetime
    #: ``agent`` or ``supervisor`` (looked up again on every use of the token).
    role: str = "agent"


WebhookEvent = Literal[
    "participant.joined",
    "participant.left",
    "lobby.waiting",
    "meeting.ended",
    "chat.message",
    "visit.queued",
    "visit.offered",
    "visit.accepted",
    "visit.abandoned",
    "visit.transferred",
    "visit.completed",
]


DEFAULT_WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    "participant.joined",
    "participant.left",
    "lobby.waiting",
    "meeting.ended",
)


def _default_events() -> list[WebhookEvent]:
    return list(DEFAULT_WEBHOOK_EVENTS)


class WebhookIn(_In):
    url: AnyHttpUrl
    events: list[WebhookEvent] = Field(default_factory=_default_events)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    secret: str | None = Field(None, description="signing secret; shown only when created")
    created_at: datetime
