"""Delivering meeting events to the applications' webhook URLs.

The meeting layer calls :meth:`WebhookDispatcher.publish` on its hot path; it
only appends to an in-memory queue and never blocks nor raises. Worker tasks
take events from the queue, find the subscribed hooks (``Store.list_webhooks``,
cached for a few seconds), and POST one signed JSON delivery per hook::

    {"id": "<delivery uuid>", "type": "participant.joined",
     "created_at": "<ISO 8601>", "data": {"meeting_id": ..., "seq": ..., ...}}

with the headers of :mod:`frontdesk.protocol.webhooks` (``Frontdesk-Webhook-Id``,
``Frontdesk-Timestamp``, ``Frontdesk-Signature``; the HMAC-SHA256 is computed
afresh on every attempt, over the same body and delivery id).

A 2xx answer is a delivery. Timeouts, connection errors, 408, 429 and 5xx are
retried after ``retry_delays`` (±10 % jitter; a ``Retry-After`` answer is
honoured up to the longest delay); any other answer fails for good. Retries are
timers that put the delivery back on the queue, so no worker sleeps on them.

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

Deliveries live in memory only: those queued or waiting for a retry are lost
when the process stops (``stop`` drains for a short while first). Receivers
should use the meeting API to catch up, and de-duplicate by delivery ``id``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

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
from frontdesk.server.webhook_targets import TargetPolicy, pinned_transport
from frontdesk.store.base import Store, WebhookRecord

__all__ = ["WebhookDispatcher", "webhook_event_for"]

log = logging.getLogger(__name__)

USER_AGENT = f"frontdesk-webhooks/{__version__}"
_RETRY_STATUSES = frozenset({408, 429})
_DROP_LOG_EVERY_S = 10.0
_MEETING_CACHE = 4096


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
    if name is None:
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


@dataclass(slots=True)
class _Job:
    """A published event, before it is fanned out to hooks."""

    type: str
    data: dict[str, Any]
    meeting_id: str
    created_at: datetime


@dataclass(slots=True)
class _Delivery:
    """One event for one hook; the same id and body on every attempt."""

    hook: WebhookRecord
    type: str
    body: bytes
    id: str
    attempt: int = 0


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


class WebhookDispatcher:
    """Queue, sign, send and retry webhook deliveries (in memory, see the module doc)."""

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
    ) -> None:
        """``targets``: where hooks may be posted (default: public addresses only).
        An ``http_client`` given here is used as is: it must do its own guarding."""
        self._store = store
        self._clock = clock
        self._delays = tuple(float(x) for x in retry_delays)
        self._timeout_s = timeout_s
        self._max_queue = max_queue
        self._concurrency = max(1, concurrency)
        self._targets = targets or TargetPolicy()
        self._own_client = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=pinned_transport(self._targets), follow_redirects=False, trust_env=False
        )
        self._metrics = metrics
        self._hook_cache_s = hook_cache_s
        self._queue: asyncio.Queue[_Job | _Delivery] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._timer_ids = 0
        self._outstanding = 0  # queued + in flight + waiting for a retry
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._hooks: tuple[WebhookRecord, ...] = ()
        self._hooks_at: float | None = None
        self._hooks_lock = asyncio.Lock()
        self._meetings: OrderedDict[str, Meeting] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._dropped_unlogged = 0
        self._drop_logged_at: float | None = None

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        if self._workers or self._closed:
            return
        self._workers = [
            asyncio.create_task(self._work(), name=f"webhook-worker-{i}")
            for i in range(self._concurrency)
        ]

    async def stop(self, *, drain_s: float = 2.0) -> None:
        """Deliver what can be delivered within ``drain_s``, then drop the rest."""
        if self._workers and drain_s > 0:
            try:
                await self.drain(drain_s)
            except Unavailable:
                log.warning("webhooks: %d deliveries lost at shutdown", self._outstanding)
        self._closed = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._outstanding = 0
        self._idle.set()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self._own_client:
            await self._http.aclose()

    async def drain(self, timeout_s: float) -> None:
        """Wait until nothing is queued, in flight or waiting for a retry.

        Raises :class:`~frontdesk.errors.Unavailable` after ``timeout_s``.
        """
        try:
            async with asyncio.timeout(timeout_s):
                await self._idle.wait()
        except TimeoutError:
            raise Unavailable(
                f"{self._outstanding} webhook deliveries still pending after {timeout_s}s"
            ) from None

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
            if self._queue.qsize() >= self._max_queue:
                self._drop(event)
                return
            self._queue.put_nowait(_Job(event, dict(data), meeting_id, self._clock()))
            self._begin()
        except Exception:  # the meeting must go on whatever happens here
            log.exception("webhooks: could not queue a %s event", event)

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

    # --- workers -----------------------------------------------------------------------
    def _begin(self) -> None:
        self._outstanding += 1
        self._idle.clear()

    def _end(self) -> None:
        self._outstanding -= 1
        if self._outstanding <= 0:
            self._outstanding = 0
            self._idle.set()

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.webhook_deliveries.labels(outcome).inc()

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, _Job):
                    await self._fan_out(item)
                else:
                    await self._attempt(item)
            except Exception:
                log.exception("webhooks: worker error")
            finally:
                self._end()

    async def _fan_out(self, job: _Job) -> None:
        hooks = [h for h in await self._hooks_for(job.meeting_id) if job.type in h.events]
        if not hooks:
            return
        deliveries = []
        for hook in hooks:
            delivery_id = str(uuid.uuid4())
            payload = {
                "id": delivery_id,
                "type": job.type,
                "created_at": job.created_at.isoformat(),
                "data": job.data,
            }
            body = json.dumps(payload, separators=(",", ":"), default=str).encode()
            deliveries.append(_Delivery(hook, job.type, body, delivery_id))
        await asyncio.gather(*(self._attempt(d) for d in deliveries))

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

    async def _attempt(self, d: _Delivery) -> None:
        hook, where = d.hook, _safe_url(d.hook.url)
        if urlsplit(d.hook.url).scheme.lower() not in ("http", "https"):
            log.warning("webhooks: hook %s refused: %s is not an http(s) URL", hook.id, where)
            self._count("failed")
            return
        try:
            self._targets.check_url(d.hook.url)
        except WebhookTargetForbidden as exc:
            log.warning("webhooks: hook %s refused: %s", hook.id, exc.detail)
            self._count("failed")
            return
        d.attempt += 1
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            ID_HEADER: d.id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_webhook(hook.secret, d.body, timestamp),
        }
        retry_after: float | None = None
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._http.stream(
                    "POST", hook.url, content=d.body, headers=headers, timeout=self._timeout_s
                ) as response:  # the body is never read: a receiver cannot flood us
                    status = response.status_code
                    retry_after = _retry_after(response.headers.get("Retry-After"), self._clock())
        except WebhookTargetForbidden as exc:  # resolved, vetted, refused: nothing was sent
            self._retry_or_fail(d, where, f"target refused: {exc.detail}", None)
            return
        except (TimeoutError, httpx.TimeoutException):
            self._retry_or_fail(d, where, f"no answer within {self._timeout_s}s", None)
            return
        except httpx.TransportError as exc:
            self._retry_or_fail(d, where, f"{type(exc).__name__}", None)
            return
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            self._fail(d, where, f"cannot send: {type(exc).__name__}")
            return
        if 200 <= status < 300:
            self._count("delivered")
            log.debug("webhooks: delivery %s to %s: %d", d.id, where, status)
        elif status >= 500 or status in _RETRY_STATUSES:
            self._retry_or_fail(d, where, f"HTTP {status}", retry_after)
        else:
            self._fail(d, where, f"HTTP {status}")

    def _fail(self, d: _Delivery, where: str, why: str) -> None:
        self._count("failed")
        log.warning(
            "webhooks: %s delivery %s to %s failed for good after %d attempt(s): %s",
            d.type,
            d.id,
            where,
            d.attempt,
            why,
        )

    def _retry_or_fail(self, d: _Delivery, where: str, why: str, retry_after: float | None) -> None:
        if self._closed or d.attempt > len(self._delays):
            self._fail(d, where, why)
            return
        if len(self._timers) >= self._max_queue:
            self._count("dropped")
            log.warning("webhooks: too many retries pending, delivery %s dropped", d.id)
            return
        delay = self._delays[d.attempt - 1] * random.uniform(0.9, 1.1)  # noqa: S311 (jitter)
        if retry_after is not None:
            delay = max(delay, min(retry_after, max(self._delays)))
        self._count("retry")
        log.info(
            "webhooks: %s delivery %s to %s failed (attempt %d): %s; retry in %.1fs",
            d.type,
            d.id,
            where,
            d.attempt,
            why,
            delay,
        )
        self._timer_ids += 1
        key = self._timer_ids
        self._begin()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._requeue, key, d)

    def _requeue(self, key: int, d: _Delivery) -> None:
        self._timers.pop(key, None)
        self._queue.put_nowait(d)  # counted in _outstanding since it was scheduled
