"""Media of the Python SDK through the meeting's SFU (aiortc).

When the node says a meeting's media goes through the SFU (``sfu_route``), each
participant holds one connection up (its own audio and video, ``sfu_publish``)
and one connection down per other participant publishing (a *feed*,
``sfu_subscribe`` then ``sfu_answer``). The node drives Janus; this module only
speaks Frontdesk's RTC protocol. aiortc puts every local candidate into its
SDP; the SFU's trickled candidates (``sfu_trickle``) are kept until the leg's
remote description is set, then applied.

    media = await SfuMedia(meeting, audio=tone_track(), video=pattern_track()).start()
    async for frame in media.frames(other_id, "video"): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.frame import Frame

from frontdesk.client._media_ice import (
    candidate_from_signal,
    host_addresses,
    ice_servers_for_aiortc,
    resolve_host_addresses,
)
from frontdesk.client._media_peer import KINDS, Kind, Log
from frontdesk.client._media_tracks import Broadcast
from frontdesk.domain.participants import SessionState
from frontdesk.errors import FrontdeskError, IllegalState, ValidationFailed

if TYPE_CHECKING:
    from frontdesk.client._events import EventStream, MeetingEvent
    from frontdesk.client._meeting import Meeting

__all__ = ["SfuMedia"]


@dataclass
class _Leg:
    """One connection to the SFU: up (``feed`` None) or down from one feed."""

    feed: str | None
    pc: RTCPeerConnection | None = None
    ready: bool = False  # remote description set: candidates apply directly
    candidates: list[dict[str, Any] | None] = field(default_factory=list)
    remote: dict[Kind, Broadcast] = field(default_factory=dict)
    track_changed: asyncio.Event = field(default_factory=asyncio.Event)


class SfuMedia:
    """The SFU media of one meeting session."""

    def __init__(
        self,
        meeting: Meeting,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        ice_servers: Sequence[Mapping[str, Any]] | None = None,
        ice_host_addresses: Sequence[str] | None = None,
        on_feed: Callable[[str], None] | None = None,
    ) -> None:
        """``on_feed(feed)`` is called when a feed's first track arrives (a mesh
        moving to the SFU closes its connection to that participant then)."""
        given: tuple[tuple[Kind, MediaStreamTrack | None], ...] = (
            ("audio", audio),
            ("video", video),
        )
        for kind, track in given:
            if track is not None and track.kind != kind:
                raise ValidationFailed(f"{kind}= needs an {kind} track, not {track.kind!r}")
        self.meeting = meeting
        servers = meeting.ice_servers if ice_servers is None else ice_servers
        self.configuration = RTCConfiguration(iceServers=ice_servers_for_aiortc(servers))
        self.host_addresses = resolve_host_addresses(ice_host_addresses)
        self.log: Log = getattr(meeting, "_log", logging.getLogger("frontdesk.client.sfu"))
        self._sources: dict[Kind, Broadcast] = {
            kind: Broadcast(track) for kind, track in given if track is not None
        }
        self._up: _Leg | None = None
        self._down: dict[str, _Leg] = {}
        self._events: EventStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._first_frame: dict[tuple[str, Kind], float] = {}
        self._on_feed = on_feed
        self.stopped = False

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> SfuMedia:
        if self._task is not None or self.stopped:
            raise IllegalState("this media session was started already")
        if self.meeting.state is SessionState.LEFT:
            raise IllegalState("the meeting session has ended")
        for source in self._sources.values():
            source.start()
        self._events = self.meeting.events()
        self._task = asyncio.create_task(self._run(self._events), name="frontdesk-sfu")
        return self

    async def stop(self) -> None:
        """Close every connection and end the local tracks (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        if self._events is not None:
            self._events.close()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        legs = [self._up, *self._down.values()]
        self._up, self._down = None, {}
        for leg in legs:
            if leg is not None:
                await _close(leg)
        for source in self._sources.values():
            await source.aclose()

    # --- reading -----------------------------------------------------------------
    @property
    def publishing(self) -> bool:
        return self._up is not None and self._up.ready

    @property
    def feeds(self) -> list[str]:
        """The feeds this session receives (participant ids)."""
        return sorted(f for f, leg in self._down.items() if leg.ready)

    def peer_connection(self, feed: str | None) -> RTCPeerConnection | None:
        """The connection down from ``feed`` (``None``: the one up)."""
        leg = self._up if feed is None else self._down.get(feed)
        return leg.pc if leg is not None else None

    def first_frame_at(self, feed: str, kind: Kind) -> float | None:
        return self._first_frame.get((feed, kind))

    async def subscribe(self, feed: str, kind: Kind, *, maxsize: int = 8) -> MediaStreamTrack:
        """A track of ``feed``'s ``kind`` frames from now on; waits for it."""
        if kind not in KINDS:
            raise ValidationFailed("kind is 'audio' or 'video'")
        while not self.stopped:
            leg = self._down.get(feed)
            if leg is not None and kind in leg.remote and not leg.remote[kind].ended:
                return leg.remote[kind].subscribe(maxsize)
            if leg is None:
                await asyncio.sleep(0.05)
            else:
                leg.track_changed.clear()
                await leg.track_changed.wait()
        raise IllegalState("the media session has stopped")

    async def frames(self, feed: str, kind: Kind, *, maxsize: int = 8) -> AsyncIterator[Frame]:
        """``feed``'s ``kind`` frames until its track ends."""
        track = await self.subscribe(feed, kind, maxsize=maxsize)
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                if isinstance(frame, Frame):
                    yield frame
        finally:
            track.stop()

    async def set_layer(self, feed: str, substream: int) -> None:
        """Receive ``feed``'s small (0), middle (1) or large (2) simulcast layer
        (publishers that send simulcast: browsers)."""
        await self.meeting._request("sfu_layer", {"feed": feed, "substream": substream})

    # --- the worker --------------------------------------------------------------
    async def _run(self, events: EventStream) -> None:
        await self._reconcile()
        async for event in events:
            try:
                await self._on_event(event)
            except FrontdeskError as exc:
                self.log.warning("sfu: %s failed: %s (%s)", event.name, exc.detail, exc.code)
            except (KeyError, TypeError, ValueError) as exc:
                self.log.warning("sfu: could not handle %s: %r", event.name, exc)
        await self.stop()  # the meeting session ended

    async def _on_event(self, event: MeetingEvent) -> None:
        if event.name == "sfu_trickle":
            feed = event.data.get("feed")
            leg = self._up if feed is None else self._down.get(str(feed))
            if leg is not None:
                await self._candidate(leg, event.data.get("candidate"))
        elif event.name in ("sfu_route", "participant_left") or (
            event.name == "state_changed" and event.data.get("state") == "joined"
        ):
            await self._reconcile()

    async def _reconcile(self) -> None:
        """Publish and subscribe as the node's last ``sfu_route`` says."""
        m = self.meeting
        if m.media_route != "sfu" or m.state is not SessionState.JOINED:
            return
        if self._up is None and self._sources:
            await self._publish()
        me = m.participant_id
        wanted = {f for f in m.sfu_feeds if f != me}
        for feed in [f for f in self._down if f not in wanted]:
            await _close(self._down.pop(feed))
        for feed in sorted(wanted - set(self._down)):
            await self._subscribe(feed)

    async def _publish(self) -> None:
        leg = self._up = _Leg(None)
        pc = leg.pc = RTCPeerConnection(self.configuration)
        for source in self._sources.values():
            pc.addTrack(source.subscribe(maxsize=2))
        with host_addresses(self.host_addresses):
            await pc.setLocalDescription(await pc.createOffer())
        try:
            result = await self.meeting._request("sfu_publish", {"sdp": pc.localDescription.sdp})
        except FrontdeskError:
            self._up = None
            await _close(leg)
            raise
        await pc.setRemoteDescription(RTCSessionDescription(sdp=result["sdp"], type="answer"))
        await self._ready(leg)

    async def _subscribe(self, feed: str) -> None:
        leg = self._down[feed] = _Leg(feed)
        try:
            result = await self.meeting._request("sfu_subscribe", {"feed": feed})
        except FrontdeskError:
            self._down.pop(feed, None)
            raise
        pc = leg.pc = RTCPeerConnection(self.configuration)
        loop = asyncio.get_running_loop()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind not in KINDS:
                return
            kind: Kind = "audio" if track.kind == "audio" else "video"

            def first(_frame: Any) -> None:
                self._first_frame.setdefault((feed, kind), loop.time())

            fanout = Broadcast(track, first)
            fanout.start()
            leg.remote[kind] = fanout
            leg.track_changed.set()
            if self._on_feed is not None:
                self._on_feed(feed)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=result["sdp"], type="offer"))
        with host_addresses(self.host_addresses):
            await pc.setLocalDescription(await pc.createAnswer())
        await self.meeting._request("sfu_answer", {"feed": feed, "sdp": pc.localDescription.sdp})
        await self._ready(leg)

    async def _ready(self, leg: _Leg) -> None:
        leg.ready = True
        pending, leg.candidates = leg.candidates, []
        for candidate in pending:
            await self._candidate(leg, candidate)

    async def _candidate(self, leg: _Leg, data: Any) -> None:
        if not leg.ready or leg.pc is None:
            if len(leg.candidates) < 64:
                leg.candidates.append(data)
            return
        if not isinstance(data, dict):
            return  # the SFU's end of candidates: aiortc needs no marker
        candidate = candidate_from_signal(data)
        if candidate is not None:
            await leg.pc.addIceCandidate(candidate)


async def _close(leg: _Leg) -> None:
    for fanout in leg.remote.values():
        await fanout.aclose(stop_source=False)
    leg.track_changed.set()
    if leg.pc is not None:
        with contextlib.suppress(Exception):
            await leg.pc.close()
