"""Chat retention: what people wrote is deleted after N days, the audit trail kept.

With ``FRONTDESK_CHAT_RETENTION_DAYS`` set (``--chat-retention-days``; unset or
0: chat is kept for ever), every node runs :meth:`ChatRetention.run` once an
hour, and ``frontdesk retention run`` runs it once from the command line. A run
deletes the content of stored chat messages (and of any other event type listed
in :data:`frontdesk.protocol.events.REDACTABLE`) sent before *now minus N days*:
the event stays, with its sender, time and recipients, and says it was redacted
and when. Transcripts show such a message as removed by retention; a client's
history, a resumed session's catch-up and a room restored from the log show it
as removed too (an empty text with ``redacted: true``), never as an error.
Finished webhook deliveries older than that are forgotten too (their payloads
may hold chat text); what the receivers keep is theirs to expire.

Work is done in bounded batches, each its own transaction, so a run never holds
locks for long; several nodes may run at once on PostgreSQL (a batch skips the
rows another node's batch holds, and a row is redacted once). A run that hits
its batch budget stops and the next run goes on where it left off. Rooms live on
a node keep their recent chat in memory; the node's run deletes it there too
(:meth:`~frontdesk.server.live.LiveMeetings.redact_chat`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from frontdesk.errors import ValidationFailed
from frontdesk.store.base import Store

__all__ = ["BATCH", "INTERVAL_S", "MAX_BATCHES", "ChatRetention", "RetentionRun"]

BATCH = 500  # events redacted per transaction
MAX_BATCHES = 200  # per run: a backlog is worked off over several runs
INTERVAL_S = 3600.0  # how often each node runs it


@dataclass(frozen=True, slots=True)
class RetentionRun:
    """What one run did. ``cutoff`` None: retention is off, nothing was done."""

    cutoff: datetime | None
    redacted: int = 0
    meetings: int = 0
    complete: bool = True  # False: the batch budget ran out first
    webhook_deliveries: int = 0  # finished deliveries (chat in payloads) forgotten


class ChatRetention:
    def __init__(self, store: Store, clock: Callable[[], datetime], days: int) -> None:
        if days < 0:
            raise ValidationFailed("chat retention days must not be negative (0: keep)")
        self._store = store
        self._clock = clock
        self.days = days

    @property
    def enabled(self) -> bool:
        return self.days > 0

    def cutoff(self, days: int | None = None) -> datetime | None:
        """Content sent before this goes; None when retention is off."""
        days = self.days if days is None else days
        if days < 0:
            raise ValidationFailed("chat retention days must not be negative (0: keep)")
        return self._clock() - timedelta(days=days) if days > 0 else None

    async def run(
        self, *, days: int | None = None, batch: int = BATCH, max_batches: int = MAX_BATCHES
    ) -> RetentionRun:
        """Redact what is older than the retention (``days`` overrides the
        setting), ``batch`` events per transaction, at most ``max_batches``."""
        cutoff = self.cutoff(days)
        if cutoff is None:
            return RetentionRun(None)
        redacted = 0
        meetings: set[str] = set()
        complete = False
        for _ in range(max_batches):
            done = await self._store.redact_events(before=cutoff, now=self._clock(), limit=batch)
            redacted += len(done)
            meetings.update(meeting_id for meeting_id, _seq in done)
            if len(done) < batch:
                complete = True
                break
        # Webhook deliveries carry chat text too ("chat.message"): the finished
        # ones go with the chat, even when FRONTDESK_WEBHOOK_RETENTION_S is longer
        # (by the database's clock, as the dispatcher's own purge).
        retention_s = (self._clock() - cutoff).total_seconds()
        purged = await self._store.purge_webhook_deliveries(retention_s)
        return RetentionRun(cutoff, redacted, len(meetings), complete, purged)
