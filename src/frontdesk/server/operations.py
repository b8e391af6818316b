"""What a Frontdesk node can be asked to do, independent of transport: the
composition root that builds the services, each named for what it holds.

The HTTP routes, the CLI's admin commands and the RTC endpoint all call the
same services, so a rule (a revoked app's tokens stop working, a guest token's
lifetime is capped, an ended meeting mints no tokens) is written once, in the
service that holds its topic:

* :class:`~frontdesk.server.applications.Applications` (``ops.apps``),
* :class:`~frontdesk.server.accounts.Accounts` (``ops.accounts``),
* :class:`~frontdesk.server.brands.Brands` (``ops.brands``),
* :class:`~frontdesk.server.meetings.Meetings` (``ops.meetings``),
* :class:`~frontdesk.server.meeting_log.MeetingLog` (``ops.meeting_log``),
* :class:`~frontdesk.server.guest_tokens.GuestTokens` (``ops.guest_tokens``),
* :class:`~frontdesk.server.audience.Audience` (``ops.audience``),
* :class:`~frontdesk.server.transcripts.Transcripts` (``ops.transcripts``),
* :class:`~frontdesk.server.retention.ChatRetention` (``ops.retention``),
* :class:`~frontdesk.server.webhook_registry.WebhookRegistry` (``ops.webhooks``),
* :class:`~frontdesk.server.keyring.KeyManager` (``ops.keys``),
* :class:`~frontdesk.server.queue_settings.QueueSettings` (``ops.queues``).

Only these services reach into the store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from frontdesk.config import Settings
from frontdesk.server.accounts import Accounts
from frontdesk.server.applications import AppCredentials, Applications
from frontdesk.server.audience import Audience
from frontdesk.server.brands import Brands
from frontdesk.server.credentials import Credentials
from frontdesk.server.guest_tokens import GuestGrant, GuestTokens
from frontdesk.server.keyring import KeyManager
from frontdesk.server.meeting_log import MeetingLog
from frontdesk.server.meetings import Meetings
from frontdesk.server.queue_settings import QueueSettings
from frontdesk.server.retention import ChatRetention
from frontdesk.server.timing import utcnow
from frontdesk.server.transcripts import Transcripts
from frontdesk.server.webhook_registry import WebhookRegistry
from frontdesk.store.base import Store

__all__ = ["AppCredentials", "GuestGrant", "Operations", "utcnow"]


class Operations:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        credentials: Credentials | None = None,
    ) -> None:
        self.settings = settings
        # Argon2 off the event loop, bounded; failed sign-ins throttled.
        self.credentials = credentials or Credentials()
        self.store = store
        self.clock = clock
        # The services read the time through ``self.clock``, so that replacing it
        # (as tests do to move time on) reaches every one of them.
        clock = self._now
        self.keys = KeyManager(
            store,
            clock,
            passphrase=settings.key_passphrase,
            # Never shorter than the life of a token signed just before: rotation
            # must not break a live token (guest, access, session or resume).
            rotation_overlap_s=max(settings.key_rotation_overlap_s, settings.longest_token_life_s),
        )
        self.apps = Applications(settings, store, clock, self.keys, self.credentials)
        self.brands = Brands(
            store, clock, self.apps, base_url=settings.base_url, default_name=settings.brand_name
        )
        self.accounts = Accounts(settings, store, clock, self.keys, self.credentials)
        self.meetings = Meetings(settings, store, clock)
        self.meeting_log = MeetingLog(store)
        self.guest_tokens = GuestTokens(settings, store, clock, self.keys, self.meetings, self.apps)
        self.audience = Audience(store, clock)
        self.webhooks = WebhookRegistry(store, clock)
        self.transcripts = Transcripts(store, self.accounts)
        self.retention = ChatRetention(store, clock, settings.chat_retention_days)
        self.queues = QueueSettings(store, clock)

    def _now(self) -> datetime:
        return self.clock()

    async def start(self) -> None:
        await self.keys.load()

    async def ping(self) -> None:
        """Raise ``Unavailable`` when the database cannot be reached (readiness)."""
        await self.store.ping()

    @property
    def issuer(self) -> str:
        return self.settings.base_url

    async def housekeeping(self) -> dict[str, int]:
        """Forget what can no longer matter: used-token ids of tokens that have
        expired (with the clock leeway) and signing keys past their overlap."""
        before = self.clock() - timedelta(seconds=self.settings.clock_leeway_s)
        tokens = await self.guest_tokens.forget_expired(before)
        keys = await self.keys.forget_expired()
        return {"used_tokens": tokens, "signing_keys": keys}
