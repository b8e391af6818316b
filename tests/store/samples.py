"""Sample values for store tests: fixed tz-aware times and valid domain objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from frontdesk.domain.model import App, Meeting, User
from frontdesk.store.base import EventRecord, SigningKeyRecord, WebhookRecord

T0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``: distinct, ordered, tz-aware UTC timestamps."""
    return T0 + timedelta(seconds=seconds)


def app(client_id: str = "app_1", **kw: Any) -> App:
    values: dict[str, Any] = {"name": "Harbor Bank", "secret_hash": "argon2$x", "created_at": T0}
    values.update(kw)
    return App(client_id=client_id, **values)


def user(username: str = "alice", **kw: Any) -> User:
    values: dict[str, Any] = {
        "display_name": "Alice Advisor",
        "password_hash": "argon2$y",
        "created_at": T0,
    }
    values.update(kw)
    return User(username=username, **values)


def meeting(meeting_id: str = "m_1", **kw: Any) -> Meeting:
    values: dict[str, Any] = {
        "join_code": f"code-{meeting_id}",
        "subject": "Mortgage advice",
        "organizer": "alice",
        "created_at": T0,
    }
    values.update(kw)
    return Meeting(id=meeting_id, **values)


def key(kid: str, created: float, **kw: Any) -> SigningKeyRecord:
    return SigningKeyRecord(kid=kid, private_pem=f"PEM {kid}", created_at=at(created), **kw)


def event(meeting_id: str, seq: int, **data: Any) -> EventRecord:
    return EventRecord(
        meeting_id=meeting_id, seq=seq, type="chat", data={"n": seq, **data}, at=at(seq)
    )


def webhook(hook_id: str, app_id: str = "app_1", **kw: Any) -> WebhookRecord:
    values: dict[str, Any] = {
        "url": f"https://hooks.example/{hook_id}",
        "secret": "s3cret",
        "events": ("participant.joined", "meeting.ended"),
        "created_at": T0,
    }
    values.update(kw)
    return WebhookRecord(id=hook_id, app_id=app_id, **values)
