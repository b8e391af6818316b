"""Persistence: one interface, SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from frontdesk.store.base import EventRecord, SigningKeyRecord, Store, WebhookRecord
from frontdesk.store.outbox import ClaimedDelivery, DeliveryState, WebhookDelivery

__all__ = [
    "ClaimedDelivery",
    "DeliveryState",
    "EventRecord",
    "SigningKeyRecord",
    "Store",
    "WebhookDelivery",
    "WebhookRecord",
    "open_store",
]


async def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` (SQLAlchemy async URL), applying migrations."""
    from frontdesk.store.sql import SqlStore

    return await SqlStore.open(url, migrate=migrate)
