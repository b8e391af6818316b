"""The webhooks applications registered: where each wants which events, and the
secret its deliveries are signed with. Delivery is
:mod:`frontdesk.server.webhooks`."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime

from frontdesk.store.base import Store, WebhookRecord

__all__ = ["WebhookRegistry"]


class WebhookRegistry:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def create(self, app_id: str, url: str, events: Sequence[str]) -> WebhookRecord:
        hook = WebhookRecord(
            id="wh_" + secrets.token_urlsafe(12),
            app_id=app_id,
            url=url,
            secret="whsec_" + secrets.token_urlsafe(32),
            events=tuple(dict.fromkeys(events)),
            created_at=self._clock(),
        )
        await self._store.create_webhook(hook)
        return hook

    async def of_app(self, app_id: str) -> Sequence[WebhookRecord]:
        return await self._store.list_webhooks(app_id)

    async def delete(self, hook_id: str, app_id: str) -> None:
        """Delete one of the application's webhooks (another's is not found)."""
        await self._store.delete_webhook(hook_id, app_id)
