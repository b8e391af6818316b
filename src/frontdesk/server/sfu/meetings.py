"""The SFU path of live meetings: the adapter between the RTC endpoint, the
domain's media rules and the Janus controller.

The domain decides (:mod:`frontdesk.domain.media`): each meeting's route, who
may publish and who may receive which feed. This class only moves bytes: it
answers the clients' ``sfu_*`` messages by driving Janus, tells every joined
participant the route and the feeds (``sfu_route``) as they change, forwards
Janus's candidates (``sfu_trickle``), and kicks a participant from Janus as
soon as the room says it left (removed, left, denied, ended).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from frontdesk.domain.events import (
    Event,
    MeetingEnded,
    ParticipantAdmitted,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantReconnected,
)
from frontdesk.domain.media import MediaMode, MediaPlan, MediaRoute, may_publish, may_subscribe
from frontdesk.domain.participants import SessionState
from frontdesk.errors import IllegalState, PermissionDenied
from frontdesk.protocol import encode
from frontdesk.protocol import messages as m
from frontdesk.server.live import LiveMeetings, LiveRoom
from frontdesk.server.sfu.controller import LegKey, SfuController

__all__ = ["SfuMeetings"]

log = logging.getLogger(__name__)


class SfuMeetings:
    def __init__(self, live: LiveMeetings, controller: SfuController, mode: MediaMode) -> None:
        self.live = live
        self.controller = controller
        self.mode = mode
        self._plans: dict[str, MediaPlan] = {}
        self._feeds: dict[str, set[str]] = {}
        self._rooms: set[str] = set()
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        controller.set_sinks(on_candidate=self._janus_candidate, on_up=self._leg_up)
        live.observers.append(self.on_events)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.controller.close()

    # -- the route ----------------------------------------------------------------

    def plan(self, lr: LiveRoom) -> MediaPlan:
        plan = self._plans.get(lr.meeting_id)
        if plan is None:
            plan = MediaPlan(self.mode, sfu_available=self.controller.healthy)
            plan.update(lr.room.participants)
            self._plans[lr.meeting_id] = plan
        return plan

    def route_frame(self, lr: LiveRoom, pid: str) -> str:
        plan = self.plan(lr)
        feeds: list[str] = []
        if plan.route is MediaRoute.SFU:
            people = lr.room.participants
            feeds = sorted(
                f for f in self._feeds.get(lr.meeting_id, ()) if may_subscribe(people, pid, f)
            )
        return encode("sfu_route", route=plan.route.value, feeds=feeds)

    def greet(self, lr: LiveRoom, pid: str, conn: Any) -> None:
        """Tell a (re)connected client how media travels in its meeting."""
        conn.send(self.route_frame(lr, pid))

    def _announce(self, lr: LiveRoom) -> None:
        for pid, conn in list(lr.conns.items()):
            conn.send(self.route_frame(lr, pid))

    def on_events(self, lr: LiveRoom, events: Sequence[Event]) -> None:
        """Called with each batch of delivered events (see ``LiveMeetings.observers``)."""
        changed = False
        for e in events:
            payload = e.payload
            if isinstance(payload, ParticipantLeft):
                pid = payload.participant_id
                self._feeds.get(lr.meeting_id, set()).discard(pid)
                if lr.meeting_id in self._rooms:
                    self._spawn(self.controller.kick(lr.meeting_id, pid))
                changed = True
            elif isinstance(
                payload, ParticipantJoined | ParticipantAdmitted | ParticipantReconnected
            ):
                changed = True
            elif isinstance(payload, MeetingEnded):
                self._forget(lr.meeting_id)
                return
        if changed and all(p.state is SessionState.LEFT for p in lr.room.participants.values()):
            self._forget(lr.meeting_id)  # everyone left: the Janus room goes too
            return
        plan = self.plan(lr)
        if plan.update(lr.room.participants) is not None:
            log.info("meeting %s: media moves to the SFU", lr.meeting_id)
            changed = True
        if changed:
            self._announce(lr)

    def _forget(self, meeting_id: str) -> None:
        self._plans.pop(meeting_id, None)
        self._feeds.pop(meeting_id, None)
        if meeting_id in self._rooms:
            self._rooms.discard(meeting_id)
            self._spawn(self.controller.destroy_room(meeting_id))

    # -- client messages ------------------------------------------------------------

    async def handle(self, lr: LiveRoom, pid: str, msg: m.ClientMessage) -> dict[str, Any] | None:
        if self.plan(lr).route is not MediaRoute.SFU:
            raise IllegalState("this meeting's media is a mesh, not on the SFU")
        people = lr.room.participants
        room = lr.meeting_id
        match msg:
            case m.SfuPublish(sdp=sdp):
                if not may_publish(people, pid):
                    raise PermissionDenied("only joined participants publish media")
                await self._ensure_room(lr)
                name = people[pid].display_name
                answer = await self.controller.publish(
                    room, pid, {"type": "offer", "sdp": sdp}, display=name
                )
                return {"sdp": answer["sdp"]}
            case m.SfuSubscribe(feed=feed):
                if not may_subscribe(people, pid, feed):
                    raise PermissionDenied("that feed is not yours to receive")
                await self._ensure_room(lr)
                offer = await self.controller.subscribe(room, pid, feed)
                return {"sdp": offer["sdp"]}
            case m.SfuAnswer(feed=feed, sdp=sdp):
                await self.controller.answer(room, pid, feed, {"type": "answer", "sdp": sdp})
                return {}
            case m.SfuTrickle(feed=feed, candidate=candidate):
                if pid not in people or (feed is not None and not may_subscribe(people, pid, feed)):
                    raise PermissionDenied("no such media leg")
                await self.controller.trickle(room, pid, feed, candidate)
                return None
            case m.SfuLayer(feed=feed, substream=substream):
                await self.controller.select_layer(room, pid, feed, substream)
                return {}
            case m.SfuUnsubscribe(feed=feed):
                await self.controller.unsubscribe(room, pid, feed)
                return {}
        return {}

    async def _ensure_room(self, lr: LiveRoom) -> None:
        room = lr.meeting_id
        if room in self._rooms:
            return
        lock = self._room_locks.setdefault(room, asyncio.Lock())
        async with lock:
            if room not in self._rooms:
                await self.controller.create_room(room, description=lr.room.meeting.subject)
                self._rooms.add(room)

    # -- from Janus -------------------------------------------------------------------

    def _janus_candidate(self, key: LegKey, candidate: dict[str, Any] | None) -> None:
        room, pid, feed = key
        lr = self.live.loaded(room)
        conn = lr.conns.get(pid) if lr is not None else None
        if conn is not None:
            conn.send(encode("sfu_trickle", feed=feed, candidate=candidate))

    def _leg_up(self, key: LegKey) -> None:
        room, pid, feed = key
        lr = self.live.loaded(room)
        if feed is not None or lr is None or not may_publish(lr.room.participants, pid):
            return
        self._feeds.setdefault(room, set()).add(pid)
        self._announce(lr)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("SFU clean-up failed: %r", task.exception())
