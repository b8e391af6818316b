"""Live meetings on this node: the rooms, their connections and fan-out.

Each meeting's :class:`~frontdesk.domain.Room` is owned by one
:class:`LiveRoom`; commands are decided one at a time under the room's lock,
their events handed to the writer (group commit) in that order, then delivered
to the connections named in each event's ``to``, and the command answered, in
the same order once stored. Chat, typing and media changes do not wait for the
store under the lock (one busy room shares transactions between its senders);
every other command (joins, leaves, admissions, ticks: session changes) is
stored and delivered before the lock is released. Per-message work does not
depend on how many meetings the node hosts, and delivery never touches the
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from frontdesk.bus import Bus
from frontdesk.bus.channels import ALL_MEETINGS, meeting_channel
from frontdesk.domain import commands as cmd
from frontdesk.domain.events import (
    ChatPosted,
    Event,
    LobbyPosition,
    MediaChanged,
    PolicyChanged,
    TypingChanged,
    WhisperPosted,
)
from frontdesk.domain.live import Limits
from frontdesk.domain.model import Meeting, Role
from frontdesk.domain.participants import ChatMessage, LeaveReason, SessionState
from frontdesk.domain.room import Room
from frontdesk.errors import FrontdeskError, MeetingEnded, Unavailable, WrongNode
from frontdesk.protocol import encode
from frontdesk.protocol.codes import CloseCode, close_code_for
from frontdesk.protocol.events import (
    chat_size,
    event_frame,
    event_from_record,
    event_to_record,
    snapshot_to_wire,
)
from frontdesk.server.hosting import Hosting, SingleNode
from frontdesk.server.metrics import Metrics
from frontdesk.server.operations import Operations
from frontdesk.server.writer import EventWriter, WriteStream, settle
from frontdesk.store.base import EventRecord, LeaseLost, TokenUse

__all__ = [
    "Connection",
    "LiveMeetings",
    "LiveRoom",
    "chat_tail",
    "wire_snapshot",
]

log = logging.getLogger(__name__)
#: Events after which every session is in the state it was in: delivering them
#: does not look at the room's connections one by one.
_SESSION_NEUTRAL = (
    ChatPosted,
    WhisperPosted,
    TypingChanged,
    MediaChanged,
    LobbyPosition,
    PolicyChanged,
)
SNAPSHOT_CHAT = 200  # chat messages in a snapshot; older ones via "history"
#: Bytes of chat in one frame (snapshot or history answer), far below the
#: SDKs' frame limit however long or non-ASCII the messages are.
CHAT_FRAME_BYTES = 256 * 1024


def chat_tail(messages: Sequence[ChatMessage], limit: int) -> tuple[list[ChatMessage], bool]:
    """The newest ``limit`` messages that fit in :data:`CHAT_FRAME_BYTES` (at least
    one), oldest first, and whether older ones were left out."""
    out: list[ChatMessage] = []
    size = 0
    for msg in reversed(messages[-limit:]):
        size += chat_size(msg)
        if out and size > CHAT_FRAME_BYTES:
            break
        out.append(msg)
    out.reverse()
    return out, len(out) < len(messages)


class Connection(Protocol):
    """What the live layer needs of a client connection (see ``rtc.py``)."""

    participant_id: str
    last_state: SessionState | None

    def send(self, frame: str) -> None: ...

    def close(self, code: int, reason: str) -> None: ...

    def end_session(self, bye: str, code: int, reason: str) -> None:
        """Send the final ``bye`` frame (after any pending answer), then close."""


class Publisher(Protocol):
    def publish(self, event: str, data: dict[str, Any], *, meeting_id: str) -> None: ...


def wire_snapshot(lr: LiveRoom, participant_id: str) -> dict[str, Any]:
    snap = lr.room.snapshot_for(participant_id)
    tail, truncated = chat_tail(snap.chat, SNAPSHOT_CHAT)
    whispers, _ = chat_tail(snap.whispers, SNAPSHOT_CHAT) if snap.whispers else ([], False)
    snap = dataclasses.replace(
        snap,
        # The name a visitor waits for ("waiting for Alice Advisor to let you in").
        meeting=dataclasses.replace(snap.meeting, organizer_display_name=lr.organizer_name),
        chat=tuple(tail),
        chat_truncated=truncated,
        whispers=tuple(whispers),
    )
    return snapshot_to_wire(snap)


#: Commands that change no session: decided under the lock, stored and answered
#: after it is released (in order), so a busy room commits many at once.
_PIPELINED = (cmd.SendChat, cmd.Whisper, cmd.Typing, cmd.SetMedia)


class _Pending:
    """One decided command on its way: stored (``written``), then delivered."""

    __slots__ = ("done", "error", "events", "used", "written")

    def __init__(self, events: list[Event], done: asyncio.Future[None]) -> None:
        self.events = events
        self.done = done
        self.written = False
        self.error: BaseException | None = None
        #: Of the tokens spent with the events, those that had been spent before.
        self.used: frozenset[str] = frozenset()


@dataclass
class LiveRoom:
    meeting_id: str
    room: Room
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    conns: dict[str, Connection] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None
    organizer_name: str | None = None
    #: Guests' participant ids -> the application that vouched for them (its
    #: revocation ends their sessions).
    guest_apps: dict[str, str] = field(default_factory=dict)
    #: Set when a write failed: the in-memory state may hold events that were
    #: never stored, so this room serves nobody again (clients resume into a
    #: room restored from the store).
    abandoned: bool = False
    #: Decided, not yet delivered: in decision (seq) order.
    pending: deque[_Pending] = field(default_factory=deque)
    #: This room's writes (a failed one fails every later one unstored).
    stream: WriteStream = field(default_factory=WriteStream)

    def idle(self) -> bool:
        """Nothing left to serve: no connection and nobody who could come back."""
        if self.conns:
            return False
        if self.room.ended:
            return True
        return all(p.state is SessionState.LEFT for p in self.room.participants.values())


class LiveMeetings:
    def __init__(
        self,
        ops: Operations,
        *,
        writer: EventWriter,
        metrics: Metrics,
        limits: Limits,
        webhooks: Publisher | None = None,
        webhook_mapper: Callable[[Event, str], list[tuple[str, dict[str, Any]]]] | None = None,
        hosting: Hosting | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.ops = ops
        self.bus = bus
        self.hosting = hosting if hosting is not None else SingleNode(ops.settings)
        self.hosting.on_lost(self.leases_lost)
        self._releasing: set[asyncio.Task[None]] = set()
        self._copies: dict[str, Room] = {}  # read-only rooms hosted by other nodes
        self.writer = writer
        self.metrics = metrics
        self.limits = limits
        self.webhooks = webhooks
        self.webhook_mapper = webhook_mapper
        self.rooms: dict[str, LiveRoom] = {}
        #: Told of every delivered batch of a room's events (the SFU adapter).
        self.observers: list[Callable[[LiveRoom, Sequence[Event]], None]] = []
        self._loading: dict[str, asyncio.Lock] = {}
        self._closing = False

    # --- rooms -------------------------------------------------------------------------
    async def room(self, meeting_id: str) -> LiveRoom:
        """The live room of a meeting, restored from the store when not in memory."""
        lr = self.rooms.get(meeting_id)
        if lr is not None:
            return lr
        if self._closing:  # draining: hosted elsewhere from now on
            raise Unavailable("this node is shutting down; try again")
        lock = self._loading.setdefault(meeting_id, asyncio.Lock())
        async with lock:
            lr = self.rooms.get(meeting_id)
            if lr is not None:
                return lr
            meeting = await self.ops.meeting_log.meeting(meeting_id)
            if meeting.ended:
                raise MeetingEnded(f"meeting {meeting_id} has ended")
            # Host it here first (a cluster: take its lease, or learn who hosts
            # it), then read its events: nothing can be stored after the read
            # but under this node's fence.
            await self.hosting.claim(meeting_id)
            try:
                lr = await self._restore(meeting)
            except BaseException:
                await self.hosting.release(meeting_id)
                raise
            self.rooms[meeting_id] = lr
            self.metrics.meetings_live.set(len(self.rooms))
        self._loading.pop(meeting_id, None)
        if lr.room.ended or meeting.ended:
            self.rooms.pop(meeting_id, None)
            raise MeetingEnded(f"meeting {meeting_id} has ended")
        return lr

    async def _restore(self, meeting: Meeting) -> LiveRoom:
        records = await self.ops.meeting_log.events_since(meeting.id, 0)
        events = [event_from_record(r.seq, r.type, r.at, r.data) for r in records]
        room = Room.restore(meeting, events, self.limits)
        lr = LiveRoom(meeting.id, room)
        with contextlib.suppress(FrontdeskError):
            lr.organizer_name = await self.ops.accounts.display_name(meeting.organizer)
        if records:
            # Whoever was connected before this node (re)started has no
            # connection here: give each the reconnect grace to resume.
            for p in list(room.participants.values()):
                if p.state in (SessionState.JOINED, SessionState.LOBBY):
                    await self.run_locked(lr, cmd.Disconnect(p.id))
        self._schedule(lr)
        return lr

    def loaded(self, meeting_id: str) -> LiveRoom | None:
        return self.rooms.get(meeting_id)

    def send_to_guests(self, meeting_id: str, frame: str) -> int:
        """Send an unsequenced frame (a helpdesk visit's place in the queue) to
        the guests of a meeting hosted here; how many connections got it."""
        lr = self.rooms.get(meeting_id)
        if lr is None:
            return 0
        sent = 0
        for participant_id, conn in list(lr.conns.items()):
            p = lr.room.participants.get(participant_id)
            if p is not None and p.role is Role.GUEST:
                conn.send(frame)
                sent += 1
        return sent

    # --- commands ----------------------------------------------------------------------
    async def execute(self, lr: LiveRoom, command: cmd.Command) -> list[Event]:
        """Run ``command``; returns its events once stored and delivered."""
        async with lr.lock:
            if (
                lr.abandoned
                or lr.stream.failed is not None
                or self.rooms.get(lr.meeting_id) is not lr
            ):
                await self.ensure_current(lr)
            entry = self._decide(lr, command)
            if not isinstance(command, _PIPELINED) or lr.room.ended:
                return await self._finish(lr, entry)
        # shielded: a caller that goes away must not cancel the room's queue
        await asyncio.shield(entry.done)
        return entry.events

    async def ensure_current(self, lr: LiveRoom) -> None:
        """Check, under ``lr.lock``, that ``lr`` is still the meeting's room here.

        A caller may have fetched the room, then awaited (a token check, a
        store read) while the room was dropped as idle: it is served again, as
        nothing else replaced it. A room abandoned after a failed write, or one
        replaced by a fresh restore, must not take commands: two rooms of one
        meeting would hand out the same sequence numbers.

        It also waits until everything the room decided is stored and
        delivered, so the caller sees the room as its clients do (a snapshot
        holds nothing that is not stored)."""
        if lr.pending:
            with contextlib.suppress(Exception):
                await asyncio.shield(lr.pending[-1].done)
        if lr.abandoned:
            raise Unavailable("the meeting is being reloaded; try again")
        current = self.rooms.get(lr.meeting_id)
        if current is lr:
            return
        if current is None:
            if not lr.room.ended:  # an ended room refuses commands by itself
                # Hosted here again (a cluster: the lease was given up when the
                # room was dropped): unless another node stored events meanwhile.
                await self.hosting.claim(lr.meeting_id)
                if self.hosting.fence(lr.meeting_id) is not None:
                    stored = await self.ops.meeting_log.last_seq(lr.meeting_id)
                    if stored != lr.room.last_seq:
                        await self.hosting.release(lr.meeting_id)
                        lr.abandoned = True
                        raise Unavailable("the meeting is being reloaded; try again")
                if self.rooms.get(lr.meeting_id) is not None:
                    raise Unavailable("the meeting is being reloaded; try again")
                self.rooms[lr.meeting_id] = lr
                self.metrics.meetings_live.set(len(self.rooms))
                self._schedule(lr)
            return
        raise Unavailable("the meeting is being reloaded; try again")

    async def run_locked(self, lr: LiveRoom, command: cmd.Command) -> list[Event]:
        """Decide, store, deliver. Caller holds ``lr.lock``; returns once the
        events (and all decided before them) are stored and delivered."""
        return await self._finish(lr, self._decide(lr, command))

    async def run_spending(self, lr: LiveRoom, command: cmd.Command, token: TokenUse) -> bool:
        """:meth:`run_locked`, spending a single-use ``token`` in the same
        transaction as the events (a join and the token that let it in: one
        commit, not two). True when this spent it; False when it had been
        spent before (another node, at the same moment): the events stand,
        stored and delivered, and the caller undoes them."""
        entry = self._decide(lr, command, (token,))
        await self._finish(lr, entry)
        return token.jti not in entry.used

    def _decide(
        self, lr: LiveRoom, command: cmd.Command, spends: Sequence[TokenUse] = ()
    ) -> _Pending:
        """Under ``lr.lock``: the domain decides; the stored events go to the
        writer at once, behind the room's earlier ones (with ``spends``, in
        their transaction). The entry's ``done`` is settled once they are
        stored and delivered (:meth:`_advance`)."""
        events = lr.room.handle(command, self.ops.clock())
        entry = _Pending(events, asyncio.get_running_loop().create_future())
        records = [
            EventRecord(lr.meeting_id, e.seq, e.type, event_to_record(e), e.at)
            for e in events
            if e.seq is not None
        ]
        lr.pending.append(entry)
        if not records and not spends:
            entry.written = True
            if len(lr.pending) == 1:
                self._advance(lr)
            return entry
        try:
            fence = self.hosting.fence(lr.meeting_id)
            if spends:
                fut = self.writer.write(records, fence, lr.stream, spends)
            else:
                fut = self.writer.write(records, fence, lr.stream)
            if not isinstance(fut, asyncio.Future):  # a coroutine (tests replace the writer)
                fut = asyncio.ensure_future(fut)
        except Exception as exc:
            lr.stream.failed = exc  # nothing decided after it may be stored
            entry.written, entry.error = True, exc
            self._advance(lr)
            return entry
        fut.add_done_callback(lambda f: self._written(lr, entry, f))
        return entry

    def _written(self, lr: LiveRoom, entry: _Pending, fut: asyncio.Future[frozenset[str]]) -> None:
        entry.written = True
        entry.error = fut.exception() if not fut.cancelled() else asyncio.CancelledError()
        if entry.error is None:
            entry.used = fut.result() or frozenset()
        self._advance(lr)

    def _advance(self, lr: LiveRoom) -> None:
        """Deliver what is stored at the head of the room's queue, in seq order; a
        failed write abandons the room and fails everything decided after it."""
        pending = lr.pending
        while pending and pending[0].written:
            entry = pending.popleft()
            if entry.error is not None:
                self._write_failed(lr, entry, entry.error)
                return
            if lr.abandoned:  # dropped meanwhile (its lease lost): nothing more is delivered
                self._fail_pending(lr, entry, Unavailable("the meeting moved; resume"))
                return
            if lr.room.ended and not pending:
                # The one that ended the room: its caller (who holds the lock)
                # marks the meeting ended, then delivers (see _finish).
                settle(entry.done)
                return
            try:
                self._deliver(lr, entry.events)
                if not pending:
                    self._schedule(lr)
            except Exception:  # stored: the command stands; its delivery broke
                log.exception("meeting %s: delivery failed", lr.meeting_id)
            settle(entry.done)

    def _write_failed(self, lr: LiveRoom, entry: _Pending, exc: BaseException) -> None:
        if isinstance(exc, LeaseLost):
            log.warning("meeting %s: lease lost; moving its clients", lr.meeting_id)
            self.metrics.leases_lost.labels("fenced write").inc()
            self._abandon(lr, "meeting moved; resume")  # dropped: its lease released
            err: FrontdeskError = Unavailable("the meeting moved to another node; resume")
        else:
            if not lr.abandoned:
                log.error("meeting %s: storing events failed: %s", lr.meeting_id, exc)
            self._abandon(lr)
            err = Unavailable("the meeting could not be saved; try again")
        self._fail_pending(lr, entry, err)

    def _fail_pending(self, lr: LiveRoom, first: _Pending | None, err: FrontdeskError) -> None:
        entries = ([first] if first is not None else []) + list(lr.pending)
        lr.pending.clear()
        for entry in entries:
            settle(entry.done, err)

    async def _finish(self, lr: LiveRoom, entry: _Pending) -> list[Event]:
        """Under ``lr.lock``: wait until ``entry`` is stored and delivered; a
        command that ended the room marks the meeting ended first."""
        await asyncio.shield(entry.done)
        if lr.room.ended and not lr.abandoned:
            # the service API shows it ended before anyone is told
            with contextlib.suppress(FrontdeskError):
                await self.ops.meetings.end(lr.meeting_id)
            self._deliver(lr, entry.events)
            self._drop(lr)
        return entry.events

    def _abandon(self, lr: LiveRoom, why: str = "meeting reloading; resume") -> None:
        """The store refused a write. The room decided on events that are not
        stored, so nothing it holds may be acknowledged or delivered: drop it and
        close its connections with 1001, and every client resumes into a room
        restored from what is stored (its unacknowledged sends are retried with
        the same client message ids, so nothing is lost and nothing doubled)."""
        lr.abandoned = True
        self._drop(lr)
        for conn in list(lr.conns.values()):
            conn.close(int(CloseCode.GOING_AWAY), why)
        lr.conns.clear()

    def leases_lost(self, meeting_ids: set[str], why: str) -> None:
        """This node no longer hosts these meetings (taken over, or its database
        unreachable for a lease's life): their rooms stop serving at once, and
        their clients resume where each is hosted now."""
        self.metrics.leases_lost.labels(why).inc(len(meeting_ids))
        for meeting_id in meeting_ids:
            lr = self.rooms.get(meeting_id)
            if lr is not None:
                log.warning("meeting %s: no longer hosted here (%s)", meeting_id, why)
                self._abandon(lr, "meeting moved; resume")

    def _deliver(self, lr: LiveRoom, events: Sequence[Event]) -> None:
        sessions_changed = False
        conns = lr.conns
        for e in events:
            frame = event_frame(e)  # encoded once, whoever receives it
            payload = e.payload
            if e.seq is not None:
                self.metrics.rtc_messages.labels("out", e.type).inc(len(e.to))
                if isinstance(payload, ChatPosted):
                    self.metrics.chat_messages.inc()
                self._webhook(lr, e)
            if not isinstance(payload, _SESSION_NEUTRAL):
                sessions_changed = True
            for pid in e.to:
                conn = conns.get(pid)
                if conn is not None:
                    conn.send(frame)
        if sessions_changed:
            self._sync_sessions(lr)
        for observer in self.observers:
            try:
                observer(lr, events)
            except Exception:  # an observer's problem never blocks the meeting
                log.exception("event observer failed")

    def _sync_sessions(self, lr: LiveRoom) -> None:
        """Tell connections whose session state changed (admitted, ended), once
        the room's state is all delivered (nothing decided is on its way)."""
        if lr.pending:
            return
        for pid, conn in list(lr.conns.items()):
            p = lr.room.participants.get(pid)
            if p is None:
                continue
            if p.state is SessionState.LEFT:
                reason = p.left_reason.value if p.left_reason else "left"
                code = int(close_code_for(reason))
                conn.end_session(encode("bye", reason=reason, code=code), code, reason)
                lr.conns.pop(pid, None)
                continue
            if p.state is SessionState.JOINED and conn.last_state is SessionState.LOBBY:
                conn.send(encode("state", state=p.state.value, snapshot=wire_snapshot(lr, pid)))
            if p.state is not SessionState.RECONNECTING:
                conn.last_state = p.state

    def _webhook(self, lr: LiveRoom, e: Event) -> None:
        if self.webhooks is None or self.webhook_mapper is None:
            return
        try:
            for name, data in self.webhook_mapper(e, lr.meeting_id):
                self.webhooks.publish(name, data, meeting_id=lr.meeting_id)
        except Exception:  # a webhook problem never blocks the meeting
            log.exception("webhook mapping failed")

    def _drop(self, lr: LiveRoom) -> None:
        if lr.timer is not None:
            lr.timer.cancel()
            lr.timer = None
        if self.rooms.get(lr.meeting_id) is lr:
            del self.rooms[lr.meeting_id]
            self.metrics.meetings_live.set(len(self.rooms))
            if not self._closing:
                task = asyncio.get_running_loop().create_task(self.hosting.release(lr.meeting_id))
                self._releasing.add(task)
                task.add_done_callback(self._releasing.discard)

    # --- timers ------------------------------------------------------------------------
    def _schedule(self, lr: LiveRoom) -> None:
        if lr.timer is not None:
            lr.timer.cancel()
            lr.timer = None
        if self._closing or lr.room.ended:
            return
        deadline = lr.room.next_deadline()
        if deadline is None:
            return
        delay = max(0.0, (deadline - self.ops.clock()).total_seconds()) + 0.01
        loop = asyncio.get_running_loop()
        lr.timer = loop.call_later(delay, lambda: loop.create_task(self._tick(lr)))

    async def _tick(self, lr: LiveRoom) -> None:
        try:
            await self.execute(lr, cmd.Tick())
        except FrontdeskError as exc:
            log.warning("meeting %s: tick failed: %s", lr.meeting_id, exc)
        if lr.idle():
            self._drop(lr)

    async def expire_idle(self) -> int:
        """End ad hoc meetings idle past the idle timeout that are not loaded here
        (a loaded room's own timer does it): each is restored from the store and
        ticked, so the meeting core decides, as for a loaded one; sessions left
        open by a node that died get their grace and leave (webhooks included)
        first. Returns how many meetings ended."""
        before = self.ops.clock() - timedelta(seconds=self.limits.idle_timeout_s)
        ended = 0
        for meeting_id in await self.ops.meeting_log.idle_meetings(before):
            if meeting_id in self.rooms or self._closing:
                continue
            try:
                lr = await self.room(meeting_id)
            except (MeetingEnded, WrongNode):  # over, or another node's to end
                continue
            await self._tick(lr)
            if lr.room.ended:
                ended += 1
        return ended

    async def tick_all(self, now: datetime | None = None) -> None:
        """Run a Tick in every room (tests move the clock, then call this)."""
        for lr in list(self.rooms.values()):
            await self._tick(lr)

    # --- connections ----------------------------------------------------------------------
    def attach(self, lr: LiveRoom, conn: Connection) -> Connection | None:
        """Bind ``conn`` to its participant; returns a connection it replaces."""
        old = lr.conns.get(conn.participant_id)
        lr.conns[conn.participant_id] = conn
        self.metrics.connections.inc()
        return old if old is not conn else None

    async def detach(self, lr: LiveRoom, conn: Connection) -> None:
        """The connection closed: the participant gets the reconnect grace."""
        self.metrics.connections.dec()
        if lr.conns.get(conn.participant_id) is not conn:
            # Replaced by a resumed connection, or its session already ended (the
            # last one to leave): a room nobody can come back to is not kept in
            # memory (idle expiry finds it in the store).
            if not self._closing and lr.idle():
                self._drop(lr)
            return
        del lr.conns[conn.participant_id]
        if self._closing:
            return
        pid = conn.participant_id
        with contextlib.suppress(FrontdeskError):
            async with lr.lock:
                await self.ensure_current(lr)
                # Decided under the lock: a resume that took the lock first has
                # attached a new connection, and the participant is back.
                p = lr.room.participants.get(pid)
                if pid in lr.conns or p is None or p.state is SessionState.LEFT:
                    return
                if not lr.room.ended:
                    await self.run_locked(lr, cmd.Disconnect(pid))
        if lr.idle():
            self._drop(lr)

    async def end_revoked(self, app_ids: set[str]) -> int:
        """End the live sessions of guests vouched for by revoked applications
        (``bye`` with reason ``revoked``). Returns how many ended."""
        ended = 0
        for lr in list(self.rooms.values()):
            for pid, app_id in list(lr.guest_apps.items()):
                if app_id not in app_ids:
                    continue
                p = lr.room.participants.get(pid)
                if p is None or not p.active:
                    lr.guest_apps.pop(pid, None)
                    continue
                with contextlib.suppress(FrontdeskError):
                    await self.execute(lr, cmd.Leave(pid, LeaveReason.REVOKED))
                    ended += 1
                lr.guest_apps.pop(pid, None)
        return ended

    # --- service-API hooks ---------------------------------------------------------------
    async def end_meeting(self, meeting_id: str, *, reason: str) -> None:
        lr = self.rooms.get(meeting_id)
        if lr is None:
            self._notify_host(meeting_id)
            return
        with contextlib.suppress(MeetingEnded):
            await self.execute(lr, cmd.EndBySystem(reason))

    async def policy_changed(self, meeting: Meeting) -> None:
        lr = self.rooms.get(meeting.id)
        if lr is None:
            self._notify_host(meeting.id)
            return
        with contextlib.suppress(MeetingEnded):
            await self.execute(
                lr,
                cmd.SetPolicy(
                    access_policy=meeting.access_policy, lobby_bypass=meeting.lobby_bypass
                ),
            )

    async def participants(self, meeting_id: str) -> list[dict[str, Any]]:
        try:
            lr: LiveRoom | None = await self.room(meeting_id)
        except MeetingEnded:
            return []
        except WrongNode:  # hosted by another node: as stored
            lr = None
        room = lr.room if lr is not None else await self.view(meeting_id)
        out = []
        # Applications read what their guests see: no monitoring supervisor.
        for p in room.seen_by_guests():
            out.append(
                {
                    "id": p.id,
                    "display_name": p.display_name,
                    "role": p.role,
                    "state": p.state.value,
                    "vouched": p.vouched,
                    "method": p.method.value,
                    "audio_muted": p.audio_muted,
                    "video_muted": p.video_muted,
                    "hand_raised": p.hand_raised,
                }
            )
        if lr is not None and lr.idle():
            self._drop(lr)
        return out

    # --- meetings hosted by other nodes -------------------------------------------------
    async def view(self, meeting_id: str) -> Room:
        """The meeting's room: as hosted here, else a read-only copy that follows
        the stored events (a cluster: another node hosts it)."""
        lr = self.rooms.get(meeting_id)
        if lr is not None:
            return lr.room
        copy = self._copies.get(meeting_id)
        if copy is None:
            meeting = await self.ops.meeting_log.meeting(meeting_id)
            copy = Room(meeting, self.limits)
        records = await self.ops.meeting_log.events_since(meeting_id, copy.last_seq)
        copy.catch_up(event_from_record(r.seq, r.type, r.at, r.data) for r in records)
        if copy.ended:
            self._copies.pop(meeting_id, None)
        else:
            self._copies[meeting_id] = copy
        return copy

    async def lobbies_of(self, organizer: str) -> list[Room]:
        """The open rooms of ``organizer``'s meetings with someone in the lobby,
        wherever they are hosted (each read from the store when not hosted here)."""
        if isinstance(self.hosting, SingleNode):  # every live room is here
            return [
                lr.room
                for lr in list(self.rooms.values())
                if lr.room.meeting.organizer == organizer and not lr.room.ended
            ]
        rooms = []
        for meeting in await self.ops.meeting_log.open_meetings_of(organizer):
            with contextlib.suppress(FrontdeskError):
                room = await self.view(meeting.id)
                if not room.ended:
                    rooms.append(room)
        return rooms

    async def sync_hosted(self) -> int:
        """Apply what the service API changed on another node to the meetings
        hosted here (ended, access policy). Returns how many rooms changed."""
        changed = 0
        for lr in list(self.rooms.values()):
            changed += await self._sync(lr)
        return changed

    async def _sync(self, lr: LiveRoom) -> int:
        if lr.room.ended or lr.abandoned:
            return 0
        try:
            meeting = await self.ops.meeting_log.meeting(lr.meeting_id)
        except FrontdeskError:
            return 0
        current = lr.room.meeting
        with contextlib.suppress(FrontdeskError):
            if meeting.ended:
                await self.execute(lr, cmd.EndBySystem("ended_by_api"))
                return 1
            if (meeting.access_policy, meeting.lobby_bypass) != (
                current.access_policy,
                current.lobby_bypass,
            ):
                await self.policy_changed(meeting)
                return 1
        return 0

    # --- chat retention ---------------------------------------------------------------
    def redact_chat(self, before: datetime) -> int:
        """Delete the text of chat sent before ``before`` from the rooms held in
        memory here (hosted, and read-only copies), as the store's was: their
        snapshots and history answers show it removed from now on. Returns how
        many messages changed."""
        rooms = [lr.room for lr in self.rooms.values()] + list(self._copies.values())
        return sum(room.redact_chat(before) for room in rooms)

    # --- hints between nodes ------------------------------------------------------------
    def _notify_host(self, meeting_id: str) -> None:
        """The service API changed a meeting hosted elsewhere: wake its host (a
        hint; the host also polls, so a lost hint only delays)."""
        if self.bus is not None and not isinstance(self.hosting, SingleNode):
            self.bus.publish(meeting_channel(meeting_id), {"kind": "changed"})

    async def listen(self) -> None:
        """Act on hints for the meetings hosted here; catch up after the bus
        (re)connects, as hints may have been lost meanwhile."""
        if self.bus is None or isinstance(self.hosting, SingleNode):
            return
        await self.bus.subscribe(ALL_MEETINGS, self._on_hint)

        async def catch_up() -> None:
            await self.sync_hosted()

        self.bus.on_resubscribed(catch_up)

    async def _on_hint(self, channel: str, message: dict[str, Any]) -> None:
        lr = self.rooms.get(channel.split(":", 1)[1])
        if lr is not None and message.get("kind") == "changed":
            await self._sync(lr)

    def connection_count(self) -> int:
        return sum(len(lr.conns) for lr in self.rooms.values())

    async def close(self) -> None:
        """Node shutdown: hand every meeting over (a cluster: release the leases,
        so another node hosts them at once), then tell clients to resume there
        (1001); their seats are kept. Safe to call twice."""
        self._closing = True
        await self.hosting.stop()
        await self.hosting.release_all()
        for lr in list(self.rooms.values()):
            if lr.timer is not None:
                lr.timer.cancel()
            for conn in list(lr.conns.values()):
                conn.close(1001, "server shutting down")
