"""Delivering meeting events to the applications' webhook URLs, through an outbox.

The meeting layer calls :meth:`WebhookDispatcher.publish` on its hot path; it
only appends to a bounded in-memory buffer and never blocks nor raises. A task
takes the buffered events in batches, finds the subscribed hooks
(``Store.list_webhooks``, cached for a few seconds) and stores one delivery per
event and hook in the database's outbox (``webhook_deliveries``, one
transaction per batch; :mod:`frontdesk.store.outbox`). A failure to store is
retried briefly, then logged and the batch dropped: the meeting never hears of it.

Whichever node claims a delivery posts it. Workers claim due deliveries
(PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two nodes never claim the same
one) and POST one signed JSON body per delivery::

    {"id": "<delivery uuid>", "type": "participant.joined",
     "created_at": "<ISO 8601>", "data": {"meeting_id": ..., "seq": ..., ...}}

with the headers of :mod:`frontdesk.protocol.webhooks` (``Frontdesk-Webhook-Id``,
``Frontdesk-Timestamp``, ``Frontdesk-Signature``; the HMAC-SHA256 is computed
afresh on every attempt, over the same body and delivery id).

A 2xx answer is a delivery. Timeouts, connection errors, 408, 429 and 5xx are
retried after ``retry_delays`` (±10 % jitter; a ``Retry-After`` answer is
honoured up to the longest delay); any other answer, or the last attempt,
fails for good. A retry is the row's ``next_attempt_at``, so retries survive a
restart and may be made by another node. A claim lasts ``claim_s``: a node that
dies mid-delivery leaves its claims to expire, then another node takes them; a
node that stops hands its claims back at once. Every claim counts as an
attempt, so a delivery that keeps killing nodes is given up in the end.

Delivery is at least once: a node that posted and died before recording it,
or a claim that expired mid-post, may make the receiver see a delivery twice,
always with the same id, on which receivers de-duplicate. A node's worker wakes
at once when the node stored deliveries or a retry of its own falls due, and
polls the outbox every ``poll_s`` for the others' (and the dead's). Delivered
and failed rows are purged after ``retention_s``.

A hook receives the events of a meeting only if its application may read the
meeting (:func:`frontdesk.server.audience.readers`, the rule the service API's
participant list applies too): the meetings its application created, and the
agents' meetings (created by no application) into which its application vouched
a guest with a guest token.

Hooks are posted only where :mod:`frontdesk.server.webhook_targets` allows: the
URL is vetted at registration, and every connection is made to an address that
was resolved and vetted in the same step (no proxy, no redirects followed). A
hook whose host now resolves to a forbidden address is not posted to; the
attempt fails like a connection error (logged, retried, then given up).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import random
import secrets
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from frontdesk import __version__
from frontdesk.domain.events import (
    ChatPosted,
    Event,
    EventType,
    ParticipantJoined,
    ParticipantWaiting,
)
from frontdesk.domain.model import Meeting
from frontdesk.errors import FrontdeskError, NotFound, Unavailable, WebhookTargetForbidden
from frontdesk.protocol.events import payload_to_wire
from frontdesk.protocol.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_webhook,
)
from frontdesk.server.audience import readers
from frontdesk.server.metrics import Metrics
from frontdesk.server.webhook_targets import TargetPolicy
from frontdesk.store.base import Store, WebhookRecord
from frontdesk.store.outbox import ClaimedDelivery, DeliveryState, WebhookDelivery

if TYPE_CHECKING:
    import httpx

__all__ = ["WebhookDispatcher", "webhook_event_for"]

log = logging.getLogger(__name__)

USER_AGENT = f"frontdesk-webhooks/{__version__}"
_RETRY_STATUSES = frozenset({408, 429})
_DROP_LOG_EVERY_S = 10.0
_TROUBLE_LOG_EVERY_S = 60.0
_MEETING_CACHE = 4096
_BATCH = 256  # events stored per transaction
_STORE_RETRIES = (0.5, 2.0, 5.0)  # pauses before storing a batch again
_SETTLE_S = 5.0  # the longest stop() waits on the database after the drain
_WEEK_S = 7 * 24 * 3600.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


#: Domain event type -> webhook event type (the others give no webhook).
_MAPPING: dict[EventType, str] = {
    EventType.PARTICIPANT_JOINED: "participant.joined",
    EventType.PARTICIPANT_WAITING: "lobby.waiting",
    EventType.PARTICIPANT_LEFT: "participant.left",
    EventType.MEETING_ENDED: "meeting.ended",
    EventType.CHAT_MESSAGE: "chat.message",
}


def webhook_event_for(event: Event, meeting_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The webhook events (``(type, data)``) one domain event gives; most give none.
    The data is the event's wire data (:mod:`frontdesk.protocol.events`), a
    participant flattened to its id, name and role."""
    name = _MAPPING.get(event.type)
    if name is None or event.staff_only:  # an application reads what its guests see
        return []
    data: dict[str, Any] = {
        "meeting_id": meeting_id,
        "seq": event.seq,
        "at": event.at.isoformat(),
    }
    payload = event.payload
    match payload:
        case ParticipantJoined(participant=p) | ParticipantWaiting(participant=p):
            data.update(participant_id=p.id, display_name=p.display_name, role=p.role.value)
        case ChatPosted():
            wire = payload_to_wire(payload)
            data.update({k: wire[k] for k in ("participant_id", "display_name", "text")})
        case _:
            data.update(payload_to_wire(payload))
    return [(name, data)]


def _safe_url(url: str) -> str:
    """The URL without credentials nor query string, for logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(slots=True)
class _Job:
    """A published event, before it is fanned out to hooks."""

    type: str
    data: dict[str, Any]
    meeting_id: str
    created_at: datetime


class _Abandoned(Exception):
    """A post cut short because the dispatcher stops: the claim goes back."""


def _body(d: WebhookDelivery) -> bytes:
    """What is posted for ``d``: the same bytes on every attempt, on every node."""
    payload = {
        "id": d.id,
        "type": d.event,
        "created_at": d.created_at.isoformat(),
        "data": d.payload,
    }
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


class WebhookDispatcher:
    """Store, claim, sign, send and retry webhook deliveries (see the module doc)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = _utcnow,
        retry_delays: Sequence[float] = (1, 5, 30, 120, 600),
        timeout_s: float = 5.0,
        max_queue: int = 10_000,
        concurrency: int = 8,
        http_client: httpx.AsyncClient | None = None,
        metrics: Metrics | None = None,
        hook_cache_s: float = 5.0,
        targets: TargetPolicy | None = None,
        node_id: str = "node-1",
        poll_s: float = 1.0,
        claim_s: float | None = None,
        retention_s: float | None = _WEEK_S,
        purge_every_s: float = 3600.0,
    ) -> None:
        """``targets``: where hooks may be posted (default: public addresses only).
        An ``http_client`` given here is used as is: it must do its own guarding.

        ``node_id`` names this node in claims (a random suffix makes each
        dispatcher's claims its own); ``poll_s``: how often the outbox is looked
        at for deliveries this node did not store; ``claim_s``: how long a claim
        lasts (default ``timeout_s`` + 30 s); ``max_queue``: events buffered
        before they are stored (more are dropped); ``retention_s``: how long
        finished deliveries are kept (``None``: forever)."""
        self._store = store
        self._clock = clock
        self._delays = tuple(float(x) for x in retry_delays)
        self._timeout_s = timeout_s
        self._max_queue = max_queue
        self._concurrency = max(1, concurrency)
        self._targets = targets or TargetPolicy()
        self._own_client = http_client is None
        #: Made at the first delivery (:meth:`_client`): httpx is not loaded before.
        self._http: httpx.AsyncClient | None = http_client
        self._metrics = metrics
        self._hook_cache_s = hook_cache_s
        self.claimant = f"{node_id}/{secrets.token_hex(4)}"
        self._poll_s = poll_s
        self._claim_s = claim_s if claim_s is not None else timeout_s + 30.0
        self._retention_s = retention_s
        self._purge_every_s = purge_every_s
        # publishing and storing
        self._jobs: deque[_Job] = deque()
        self._jobs_ready = asyncio.Event()
        self._storing = 0  # events taken from the buffer, not stored yet
        self._stored_gen = 0  # bumped whenever deliveries were stored
        self._closing = asyncio.Event()
        self._closed = False
        # claiming and posting
        self._wake = asyncio.Event()
        self._halt = False
        self._inflight: set[asyncio.Task[None]] = set()
        self._posts: set[asyncio.Future[tuple[int, float | None]]] = set()
        self._saturated = False
        self._claimer_idle = False
        self._changed = asyncio.Event()  # set when _settled() may have changed
        self._retry_at: list[float] = []  # monotonic times this node's retries fall due
        self._purged_at: float | None = None
        self._trouble_logged_at: float | None = None
        self._storer: asyncio.Task[None] | None = None
        self._claimer: asyncio.Task[None] | None = None
        self._stopped = False
        # fan-out
        self._hooks: tuple[WebhookRecord, ...] = ()
        self._hooks_at: float | None = None
        self._hooks_lock = asyncio.Lock()
        self._meetings: OrderedDict[str, Meeting] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._dropped_unlogged = 0
        self._drop_logged_at: float | None = None
        self._last_created: datetime | None = None

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Store what was published and deliver what is due, this node's or not
        (what a stopped or dead node left pending included)."""
        if self._storer is not None or self._stopped:
            return
        self._storer = asyncio.create_task(self._store_loop(), name="webhook-outbox-writer")
        self._claimer = asyncio.create_task(self._claim_loop(), name="webhook-worker")

    async def stop(self, *, drain_s: float = 2.0) -> None:
        """Store what was published, go on delivering for up to ``drain_s`` while
        anything is due, then cut the posts still in flight short and hand their
        claims back. Pending deliveries stay in the outbox for the next node."""
        if self._stopped:
            return
        self._stopped = True
        self._closed = True
        self._closing.set()
        self._jobs_ready.set()
        lost = 0
        if self._storer is not None:
            try:
                async with asyncio.timeout(max(drain_s, 1.0)):
                    await asyncio.shield(self._storer)
            except TimeoutError:
                lost = self._storing
                self._storer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._storer
        if self._claimer is not None:
            if drain_s > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(drain_s):
                        while not self._settled():
                            self._changed.clear()
                            await self._changed.wait()
            self._halt = True
            self._wake.set()
            await self._finish(self._claimer)
        for post in list(self._posts):
            post.cancel()
        for task in list(self._inflight):
            await self._finish(task)
        if self._claimer is not None:
            try:
                handed = await asyncio.wait_for(
                    self._store.release_webhook_claims(self.claimant), _SETTLE_S
                )
            except (FrontdeskError, TimeoutError) as exc:
                log.warning("webhooks: could not hand claims back (%s); they expire", exc)
            else:
                if handed:
                    log.info("webhooks: %d claimed deliveries handed back at shutdown", handed)
        lost += len(self._jobs)
        if lost:
            self._count("dropped", lost)
            log.warning("webhooks: %d published events never stored (stopped)", lost)
        self._jobs.clear()
        if self._own_client and self._http is not None:
            await self._http.aclose()

    @staticmethod
    async def _finish(task: asyncio.Task[None]) -> None:
        """Let ``task`` end on its own for a while (it may be writing to the
        database), then cancel it."""
        try:
            async with asyncio.timeout(_SETTLE_S):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def _settled(self) -> bool:
        """Nothing buffered, being stored or in flight here, and the last look at
        the outbox, made after the last store, found nothing due."""
        return (
            not self._jobs
            and not self._storing
            and not self._inflight
            and (self._claimer_idle or self._claimer is None)
        )

    async def drain(self, timeout_s: float) -> None:
        """Wait until this node has nothing buffered or in flight and the outbox
        has no pending delivery (any node's, retries included).

        Raises :class:`~frontdesk.errors.Unavailable` after ``timeout_s``.
        """
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    if self._settled() and not await self._outbox_pending():
                        return
                    await asyncio.sleep(0.02)
        except TimeoutError:
            raise Unavailable(f"webhook deliveries still pending after {timeout_s}s") from None

    async def _outbox_pending(self) -> bool:
        try:
            pending = await self._store.list_webhook_deliveries(
                state=DeliveryState.PENDING, limit=1
            )
        except FrontdeskError:
            return True
        return bool(pending)

    # --- hot path ----------------------------------------------------------------------
    def publish(self, event: str, data: Mapping[str, Any], *, meeting_id: str) -> None:
        """Queue an event for delivery. Never blocks, never raises."""
        try:
            if self._closed:
                return
            if event == "meeting.ended":
                if meeting_id in self._ended:
                    return  # one meeting.ended per meeting
                self._ended[meeting_id] = None
                if len(self._ended) > _MEETING_CACHE:
                    self._ended.popitem(last=False)
            if len(self._jobs) >= self._max_queue:
                self._drop(event)
                return
            self._jobs.append(_Job(event, dict(data), meeting_id, self._created_at()))
            self._jobs_ready.set()
        except Exception:  # the meeting must go on whatever happens here
            log.exception("webhooks: could not queue a %s event", event)

    def _created_at(self) -> datetime:
        """Now, but after the last event published here: deliveries are claimed
        oldest first, so this node's go out in the order they were published."""
        now = self._clock()
        if self._last_created is not None and now <= self._last_created:
            now = self._last_created + timedelta(microseconds=1)
        self._last_created = now
        return now

    def _drop(self, event: str) -> None:
        self._count("dropped")
        self._dropped_unlogged += 1
        now = time.monotonic()
        if self._drop_logged_at is None or now - self._drop_logged_at >= _DROP_LOG_EVERY_S:
            log.warning(
                "webhooks: queue full (%d), dropped %d event(s), last %s",
                self._max_queue,
                self._dropped_unlogged,
                event,
            )
            self._drop_logged_at = now
            self._dropped_unlogged = 0

    def _count(self, outcome: str, n: int = 1) -> None:
        if self._metrics is not None:
            self._metrics.webhook_deliveries.labels(outcome).inc(n)

    # --- storing: events -> outbox rows ------------------------------------------------
    async def _store_loop(self) -> None:
        while self._jobs or not self._closed:
            if not self._jobs:
                self._jobs_ready.clear()
                await self._jobs_ready.wait()
                continue
            batch = [self._jobs.popleft() for _ in range(min(len(self._jobs), _BATCH))]
            self._storing = len(batch)
            try:
                await self._store_batch(batch)
            except Exception:
                log.exception("webhooks: storing %d event(s) went wrong", len(batch))
            finally:
                self._storing = 0
                self._changed.set()

    async def _store_batch(self, batch: list[_Job]) -> None:
        rows: list[WebhookDelivery] | None = None
        for pause in (*_STORE_RETRIES, None):
            try:
                if rows is None:  # ids are drawn once: storing again is idempotent
                    rows = await self._fan_out(batch)
                if rows:
                    await self._store.enqueue_webhook_deliveries(rows)
                    self._stored_gen += 1
                    self._claimer_idle = False
                    self._wake.set()
                return
            except FrontdeskError as exc:
                what = f"{len(rows)} deliveries" if rows is not None else f"{len(batch)} events"
                if pause is None or self._closed:
                    self._count("dropped", len(rows) if rows is not None else len(batch))
                    log.warning("webhooks: cannot store %s (%s); dropped", what, exc)
                    return
                log.warning("webhooks: cannot store %s (%s); again in %.1fs", what, exc, pause)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._closing.wait()

    async def _fan_out(self, batch: list[_Job]) -> list[WebhookDelivery]:
        rows = []
        for job in batch:
            hooks = [h for h in await self._hooks_for(job.meeting_id) if job.type in h.events]
            if not hooks:  # nobody asked for it: nothing to copy
                continue
            try:  # stored as JSON: whatever the event holds must become JSON now
                data = json.loads(json.dumps(job.data, default=str))
            except (TypeError, ValueError) as exc:
                log.warning("webhooks: %s event not JSON (%s), not delivered", job.type, exc)
                continue
            for hook in hooks:
                rows.append(
                    WebhookDelivery(
                        id=str(uuid.uuid4()),
                        webhook_id=hook.id,
                        app_id=hook.app_id,
                        event=job.type,
                        payload=data,
                        meeting_id=job.meeting_id,
                        created_at=job.created_at,
                    )
                )
        return rows

    async def _hooks_for(self, meeting_id: str) -> list[WebhookRecord]:
        hooks = await self._cached_hooks()
        if not hooks:
            return []
        meeting = self._meetings.get(meeting_id)
        if meeting is None:  # who created it never changes: cached
            try:
                meeting = await self._store.get_meeting(meeting_id)
            except NotFound:
                log.warning("webhooks: event for unknown meeting %s not delivered", meeting_id)
                return []
            self._meetings[meeting_id] = meeting
            if len(self._meetings) > _MEETING_CACHE:
                self._meetings.popitem(last=False)
        try:
            apps = await readers(self._store, meeting)
        except FrontdeskError as exc:  # never guess wider: nobody gets this event
            log.warning("webhooks: cannot tell who reads meeting %s (%s)", meeting_id, exc)
            return []
        return [h for h in hooks if h.app_id in apps]

    async def _cached_hooks(self) -> tuple[WebhookRecord, ...]:
        async with self._hooks_lock:
            fresh = self._hooks_at is not None and (
                time.monotonic() - self._hooks_at < self._hook_cache_s
            )
            if not fresh:
                try:
                    self._hooks = tuple(await self._store.list_webhooks())
                except FrontdeskError as exc:  # keep the last list while the store is down
                    log.warning("webhooks: cannot list hooks (%s), using the cached list", exc)
                self._hooks_at = time.monotonic()
            return self._hooks

    # --- claiming: outbox rows -> posts ------------------------------------------------
    async def _claim_loop(self) -> None:
        while not self._halt:
            self._wake.clear()
            await self._maybe_purge()
            now = time.monotonic()
            while self._retry_at and self._retry_at[0] <= now:
                heapq.heappop(self._retry_at)
            gen = self._stored_gen
            free = self._concurrency - len(self._inflight)
            claimed: Sequence[ClaimedDelivery] = ()
            if free > 0:
                try:
                    claimed = await self._store.claim_webhook_deliveries(
                        self.claimant, limit=free, claim_s=self._claim_s
                    )
                except FrontdeskError as exc:
                    self._trouble("cannot claim deliveries", exc)
                except Exception:
                    log.exception("webhooks: claiming went wrong")
                self._saturated = len(claimed) == free
            for c in claimed:
                task = asyncio.create_task(self._deliver(c), name=f"webhook-{c.delivery.id}")
                self._inflight.add(task)
                task.add_done_callback(self._delivered_one)
            self._claimer_idle = not claimed and not self._inflight and gen == self._stored_gen
            self._changed.set()
            if self._halt:
                return
            timeout = self._poll_s
            if self._retry_at:
                timeout = min(timeout, max(0.0, self._retry_at[0] - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _delivered_one(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._changed.set()
        if self._saturated or not self._inflight:  # room for more, or a last look
            self._wake.set()

    def _trouble(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if self._trouble_logged_at is None or now - self._trouble_logged_at >= _TROUBLE_LOG_EVERY_S:
            log.warning("webhooks: %s (%s)", what, exc)
            self._trouble_logged_at = now

    async def _maybe_purge(self) -> None:
        if self._retention_s is None:
            return
        now = time.monotonic()
        if self._purged_at is not None and now - self._purged_at < self._purge_every_s:
            return
        self._purged_at = now
        try:
            purged = await self._store.purge_webhook_deliveries(self._retention_s)
        except FrontdeskError as exc:
            self._trouble("cannot purge old deliveries", exc)
            return
        if purged:
            log.info("webhooks: purged %d finished deliveries", purged)

    # --- posting -----------------------------------------------------------------------
    async def _deliver(self, c: ClaimedDelivery) -> None:
        try:
            await self._attempt(c.delivery, c.hook)
        except _Abandoned:
            log.debug("webhooks: delivery %s cut short, handed back", c.delivery.id)
        except Exception:
            log.exception("webhooks: worker error")

    async def _attempt(self, d: WebhookDelivery, hook: WebhookRecord) -> None:
        """Attempt number ``d.attempts`` (the claim counted it)."""
        import httpx  # loaded with the first delivery (see _client)

        where = _safe_url(hook.url)
        if d.attempts > len(self._delays) + 1:
            await self._fail(d, where, "no outcome recorded for its claims (nodes stopped?)")
            return
        if urlsplit(hook.url).scheme.lower() not in ("http", "https"):
            log.warning("webhooks: hook %s refused: %s is not an http(s) URL", hook.id, where)
            await self._fail(d, where, "not an http(s) URL", quiet=True)
            return
        try:
            self._targets.check_url(hook.url)
        except WebhookTargetForbidden as exc:
            log.warning("webhooks: hook %s refused: %s", hook.id, exc.detail)
            await self._fail(d, where, f"target refused: {exc.detail}", quiet=True)
            return
        post = asyncio.ensure_future(self._post(d, hook))
        self._posts.add(post)
        try:
            status, retry_after = await post
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling() == 0:  # stop() cut the post short, not us
                raise _Abandoned from None
            raise
        except WebhookTargetForbidden as exc:  # resolved, vetted, refused: nothing was sent
            await self._retry_or_fail(d, where, f"target refused: {exc.detail}", None)
            return
        except (TimeoutError, httpx.TimeoutException):
            await self._retry_or_fail(d, where, f"no answer within {self._timeout_s}s", None)
            return
        except httpx.TransportError as exc:
            await self._retry_or_fail(d, where, f"{type(exc).__name__}", None)
            return
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            await self._fail(d, where, f"cannot send: {type(exc).__name__}")
            return
        finally:
            self._posts.discard(post)
        if 200 <= status < 300:
            await self._record(d, self._store.mark_webhook_delivered(d.id))
            self._count("delivered")
            log.debug("webhooks: delivery %s to %s: %d", d.id, where, status)
        elif status >= 500 or status in _RETRY_STATUSES:
            await self._retry_or_fail(d, where, f"HTTP {status}", retry_after)
        else:
            await self._fail(d, where, f"HTTP {status}")

    async def _post(self, d: WebhookDelivery, hook: WebhookRecord) -> tuple[int, float | None]:
        """POST the delivery once: the answer's status and ``Retry-After`` (seconds)."""
        body = _body(d)
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            ID_HEADER: d.id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_webhook(hook.secret, body, timestamp),
        }
        async with asyncio.timeout(self._timeout_s):
            async with self._client().stream(
                "POST", hook.url, content=body, headers=headers, timeout=self._timeout_s
            ) as response:  # the body is never read: a receiver cannot flood us
                retry_after = _retry_after(response.headers.get("Retry-After"), self._clock())
                return response.status_code, retry_after

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            from frontdesk.server.webhook_transport import pinned_transport

            self._http = httpx.AsyncClient(
                transport=pinned_transport(self._targets), follow_redirects=False, trust_env=False
            )
        return self._http

    async def _record(self, d: WebhookDelivery, outcome: Any) -> None:
        """Await a store call settling ``d``; a lost claim or a store outage is only
        logged (the delivery's claim expires and it is attempted again)."""
        try:
            if not await outcome:
                log.debug("webhooks: delivery %s was settled or taken over meanwhile", d.id)
        except FrontdeskError as exc:
            log.warning("webhooks: cannot record delivery %s (%s); it comes back", d.id, exc)

    async def _fail(self, d: WebhookDelivery, where: str, why: str, *, quiet: bool = False) -> None:
        await self._record(d, self._store.fail_webhook_delivery(d.id, self.claimant, error=why))
        self._count("failed")
        if not quiet:
            log.warning(
                "webhooks: %s delivery %s to %s failed for good after %d attempt(s): %s",
                d.event,
                d.id,
                where,
                d.attempts,
                why,
            )

    async def _retry_or_fail(
        self, d: WebhookDelivery, where: str, why: str, retry_after: float | None
    ) -> None:
        if d.attempts > len(self._delays):
            await self._fail(d, where, why)
            return
        delay = self._delays[d.attempts - 1] * random.uniform(0.9, 1.1)  # noqa: S311 (jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self._delays)))
        await self._record(
            d, self._store.retry_webhook_delivery(d.id, self.claimant, delay_s=delay, error=why)
        )
        self._count("retry")
        log.info(
            "webhooks: %s delivery %s to %s failed (attempt %d): %s; retry in %.1fs",
            d.event,
            d.id,
            where,
            d.attempts,
            why,
            delay,
        )
        heapq.heappush(self._retry_at, time.monotonic() + delay)
        self._wake.set()  # to wait no longer than this retry
