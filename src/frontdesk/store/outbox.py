"""The webhook outbox's records: one delivery (an event for one hook) as stored.

A delivery is ``pending`` until it is ``delivered`` or ``failed`` for good.
A node takes due pending deliveries with
:meth:`~frontdesk.store.base.Store.claim_webhook_deliveries`: the claim is its
own until ``claimed_until``, after which any node may claim the row again (the
node that claimed it may have died). Every claim counts as an attempt.
Schedules (``next_attempt_at``, ``claimed_until``) run on the store's clock:
PostgreSQL's on PostgreSQL, so nodes whose clocks differ still agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from frontdesk.store.base import WebhookRecord

__all__ = ["ClaimedDelivery", "DeliveryState", "WebhookDelivery"]


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event for one hook; the same ``id`` (``Frontdesk-Webhook-Id``) and body
    on every attempt. ``payload`` is the event's data, ``created_at`` when it was
    published; the fields after ``created_at`` are the store's to keep."""

    id: str
    webhook_id: str
    app_id: str
    event: str
    payload: dict[str, Any]
    meeting_id: str
    created_at: datetime
    attempts: int = 0
    state: DeliveryState = DeliveryState.PENDING
    next_attempt_at: datetime | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a node claimed, with the hook it goes to (as stored now)."""

    delivery: WebhookDelivery
    hook: WebhookRecord
