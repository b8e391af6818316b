"""Typed meeting events and the emitter that hands them to callbacks and iterators.

Sequenced events (``seq`` set) come from the meeting's log and reach the user
exactly once, also across reconnects. Ephemeral ones (``typing``, ``signal``)
and the client's own ``state_changed`` and ``error`` have ``seq=None``.

A callback that raises is logged with ``logger.exception`` and never stops the
session or the other callbacks.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from frontdesk.domain.events import ChatPosted, EventPayload
from frontdesk.domain.participants import ChatMessage
from frontdesk.errors import ProtocolError, ValidationFailed
from frontdesk.protocol.events import parse_time, payload_from_wire

__all__ = [
    "EVENT_NAMES",
    "EventCallback",
    "EventEmitter",
    "EventName",
    "EventStream",
    "MeetingEvent",
]

logger = logging.getLogger(__name__)

EventName = Literal[
    # sequenced meeting events (frontdesk.domain.EventType)
    "participant_waiting",
    "lobby_position",
    "participant_admitted",
    "participant_denied",
    "participant_joined",
    "participant_left",
    "participant_reconnecting",
    "participant_reconnected",
    "media_changed",
    "chat_message",
    "policy_changed",
    "meeting_ended",
    "whisper",  # agents and supervisors only: never sent to a guest
    "supervisor_barged",  # agents and supervisors only
    # ephemeral signals
    "typing",
    "signal",
    "visit_position",  # a helpdesk visitor's place in the queue (see Meeting.visit_position)
    "sfu_route",  # how media travels (mesh | sfu) and the SFU's feeds (Meeting.media_route)
    "sfu_trickle",  # one of the SFU's ICE candidates for one of my media legs
    # from the SDK itself
    "state_changed",  # data: {"state": ..., "reason": ...}
    "error",  # an error the server sent without a request to answer
]
EVENT_NAMES: frozenset[str] = frozenset(get_args(EventName))

EventCallback = Callable[["MeetingEvent"], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class MeetingEvent:
    """One thing that happened; ``name`` may be a newer server's name not listed above."""

    name: EventName | str
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    at: datetime | None = None
    #: The typed event (:mod:`frontdesk.domain.events`), decoded with the one
    #: codec of :mod:`frontdesk.protocol`; ``None`` for SDK-made events and for
    #: names this version does not know.
    payload: EventPayload | None = None

    @classmethod
    def from_wire(cls, msg: dict[str, Any]) -> MeetingEvent:
        """A sequenced ``event`` frame as received; ``payload`` is ``None`` when its
        data does not match the event's schema."""
        at = msg.get("at")
        try:
            when = parse_time(at) if isinstance(at, str) else None
        except ValueError:
            when = None
        name, data = str(msg["name"]), dict(msg["data"])
        try:
            payload = payload_from_wire(name, data)
        except ProtocolError:  # still delivered as it came; the fold skips it
            payload = None
        return cls(name=name, data=data, seq=int(msg["seq"]), at=when, payload=payload)

    @property
    def message(self) -> ChatMessage | None:
        """The chat message of a ``chat_message`` event (else ``None``)."""
        p = self.payload
        if not isinstance(p, ChatPosted) or self.seq is None or self.at is None:
            return None
        return p.message(self.seq, self.at)


_CLOSED = object()


class EventStream:
    """An async iterator over the events emitted after it was created."""

    def __init__(self, registry: set[asyncio.Queue[object]]) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self._registry = registry
        registry.add(self.queue)
        self._done = False

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> MeetingEvent:
        if self._done:
            raise StopAsyncIteration
        item = await self.queue.get()
        if isinstance(item, MeetingEvent):
            return item
        self.close()
        raise StopAsyncIteration

    def close(self) -> None:
        """Stop receiving events (the iteration ends)."""
        self._done = True
        self._registry.discard(self.queue)


class EventEmitter:
    """Delivers each event to the callbacks registered for its name (or ``"*"``)
    and to every open :meth:`subscribe` iterator."""

    def __init__(self, log: logging.Logger | logging.LoggerAdapter[logging.Logger] = logger):
        self._log = log
        self._callbacks: dict[str, list[EventCallback]] = {}
        self._queues: set[asyncio.Queue[object]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def on(self, name: EventName | Literal["*"], callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` (a function or a coroutine function) for each
        ``name`` event; returns a function that unregisters it."""
        if name != "*" and name not in EVENT_NAMES:
            raise ValidationFailed(f"unknown event name {name!r}")
        self._callbacks.setdefault(name, []).append(callback)

        def off() -> None:
            callbacks = self._callbacks.get(name, [])
            if callback in callbacks:
                callbacks.remove(callback)

        return off

    def emit(self, event: MeetingEvent) -> None:
        if self._closed:
            return
        for queue in self._queues:
            queue.put_nowait(event)
        for callback in [*self._callbacks.get(event.name, ()), *self._callbacks.get("*", ())]:
            self._call(callback, event)

    def _call(self, callback: EventCallback, event: MeetingEvent) -> None:
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._async_done)
        except Exception:
            self._log.exception("event callback for %s raised", event.name)

    def _async_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self._log.error("async event callback raised", exc_info=exc)

    def subscribe(self) -> EventStream:
        """Events from now on, until the session ends (then the iteration stops)."""
        stream = EventStream(self._queues)
        if self._closed:
            stream.queue.put_nowait(_CLOSED)
        return stream

    def close(self) -> None:
        """End every iterator after the events it still holds."""
        if self._closed:
            return
        self._closed = True
        for queue in self._queues:
            queue.put_nowait(_CLOSED)
