"""One WebRTC peer connection to one remote participant, negotiated over the
meeting's ``signal`` messages with the rules shared with the browser SDK:

* the peer with the smaller participant id makes the first offer; the other one
  asks for it with a ``renegotiate`` signal (``{}``) when its media starts;
* aiortc does not trickle: offers and answers carry every local candidate
  (``{type, sdp}``); trickled candidates from browsers are accepted;
* glare (an offer while ours is pending): the impolite side (smaller id) ignores
  it, the polite side (larger id) accepts it — aiortc cannot roll back, so it
  closes its connection and answers on a new one;
* an offer with new ICE credentials (the remote re-created its connection) gets
  a new connection too; an offer repeated verbatim gets the same answer again.

Every signal of one peer is handled in order by the peer's own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Literal, Protocol

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription

from frontdesk.client._media_ice import candidate_from_signal, host_addresses
from frontdesk.client._media_tracks import Broadcast, Subscriber
from frontdesk.errors import FrontdeskError

__all__ = ["Kind", "Peer", "PeerHost"]

Kind = Literal["audio", "video"]
KINDS: tuple[Kind, Kind] = ("audio", "video")
Log = logging.Logger | logging.LoggerAdapter[logging.Logger]


class PeerHost(Protocol):
    """What a peer needs of the media session that owns it."""

    configuration: RTCConfiguration
    host_addresses: tuple[str, ...] | None
    log: Log

    def outgoing_track(self, kind: Kind) -> Subscriber | None: ...

    async def send_signal(self, to: str, kind: str, data: Mapping[str, Any]) -> None: ...

    def remote_frame(self, participant_id: str, kind: Kind) -> None: ...


def _ufrag(sdp: str) -> str | None:
    try:
        parsed = SessionDescription.parse(sdp)
    except (ValueError, IndexError):
        return None
    for media in parsed.media:
        if media.ice is not None and media.ice.usernameFragment:
            return media.ice.usernameFragment
    return None


class Peer:
    def __init__(self, host: PeerHost, remote_id: str, *, polite: bool) -> None:
        self.host = host
        self.remote_id = remote_id
        self.polite = polite
        self.pc: RTCPeerConnection | None = None
        self.remote: dict[Kind, Broadcast] = {}
        self.track_changed = asyncio.Event()
        self._sending: dict[Kind, Subscriber] = {}
        self._last_offer: str | None = None
        self._last_answer: str | None = None
        self._inbox: asyncio.Queue[tuple[str, Mapping[str, Any]]] = asyncio.Queue()
        self._task = asyncio.create_task(self._work(), name=f"frontdesk-peer-{remote_id}")

    # --- called by the session ---------------------------------------------------
    def greet(self) -> None:
        """Start negotiating: offer (smaller id) or ask the other side to offer."""
        self._inbox.put_nowait(("_greet", {}))

    def deliver(self, kind: str, data: Mapping[str, Any]) -> None:
        self._inbox.put_nowait((kind, data))

    def set_muted(self, kind: Kind, muted: bool) -> None:
        """Stop (or resume) sending ``kind`` on this connection: its sender's track
        is paused, so the sender gets no frame and sends no packet."""
        track = self._sending.get(kind)
        if track is not None:
            track.paused = muted

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._close_pc()

    # --- the worker ----------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            kind, data = await self._inbox.get()
            try:
                await self._handle(kind, data)
            except Exception as exc:
                # aiortc raises its own InvalidStateError etc. (plain Exceptions) and
                # ValueError on bad SDP: one bad signal must not stop the peer.
                self.host.log.warning("%s from %s failed: %r", kind, self.remote_id, exc)

    async def _handle(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "_greet":
            if self.polite:
                await self._signal("renegotiate", {})
            else:
                await self._offer()
        elif kind == "offer":
            await self._on_offer(str(data.get("sdp", "")))
        elif kind == "answer":
            pc = self.pc
            if pc is not None and pc.signalingState == "have-local-offer":
                await pc.setRemoteDescription(
                    RTCSessionDescription(str(data.get("sdp", "")), "answer")
                )
        elif kind == "candidate":
            candidate = candidate_from_signal(data)
            if candidate is not None and self.pc is not None:
                await self.pc.addIceCandidate(candidate)
        elif kind == "renegotiate":
            if self.polite:
                self.host.log.debug("ignoring renegotiate from smaller id %s", self.remote_id)
            elif self.pc is not None and self.pc.signalingState == "have-local-offer":
                await self._send_local("offer")  # the first one went unheard
            else:
                await self._offer()

    async def _offer(self) -> None:
        pc = await self._new_pc()
        for kind in KINDS:
            self._add_transceiver(pc, kind)
        with host_addresses(self.host.host_addresses):
            await pc.setLocalDescription(await pc.createOffer())
        await self._send_local("offer")

    async def _on_offer(self, sdp: str) -> None:
        pc = self.pc
        if pc is not None and pc.signalingState == "have-local-offer":
            if not self.polite:
                self.host.log.info("glare with %s: keeping our offer", self.remote_id)
                return
            pc = None  # polite: aiortc cannot roll back, so start over
        if pc is not None and sdp == self._last_offer and self._last_answer is not None:
            await self._signal("answer", {"type": "answer", "sdp": self._last_answer})
            return
        fresh = pc is None or pc.signalingState != "stable"
        if pc is None or fresh or _ufrag(sdp) != _ufrag(self._last_offer or ""):
            pc = await self._new_pc()
            for kind in KINDS:
                self._add_transceiver(pc, kind)
        self._last_offer = sdp
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        with host_addresses(self.host.host_addresses):
            await pc.setLocalDescription(await pc.createAnswer())
        self._last_answer = pc.localDescription.sdp
        await self._send_local("answer")

    async def _send_local(self, type_: str) -> None:
        assert self.pc is not None
        await self._signal(type_, {"type": type_, "sdp": self.pc.localDescription.sdp})

    async def _signal(self, kind: str, data: Mapping[str, Any]) -> None:
        try:
            await self.host.send_signal(self.remote_id, kind, data)
        except FrontdeskError as err:
            self.host.log.warning("could not send %s to %s: %s", kind, self.remote_id, err.code)

    # --- the connection ----------------------------------------------------------
    async def _new_pc(self) -> RTCPeerConnection:
        await self._close_pc()
        pc = RTCPeerConnection(self.host.configuration)
        self.pc = pc
        self._last_offer = self._last_answer = None

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind not in KINDS or self.pc is not pc:
                return
            kind: Kind = "audio" if track.kind == "audio" else "video"
            old = self.remote.pop(kind, None)
            if old is not None:
                _spawn(old.aclose(stop_source=False))
            fanout = Broadcast(track, lambda _f: self.host.remote_frame(self.remote_id, kind))
            fanout.start()
            self.remote[kind] = fanout
            self.track_changed.set()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            self.host.log.info("connection to %s: %s", self.remote_id, pc.connectionState)

        return pc

    def _add_transceiver(self, pc: RTCPeerConnection, kind: Kind) -> None:
        track = self.host.outgoing_track(kind)
        if track is None:
            pc.addTransceiver(kind, direction="recvonly")
            return
        pc.addTransceiver(track, direction="sendrecv")
        self._sending[kind] = track

    async def _close_pc(self) -> None:
        pc, self.pc = self.pc, None
        if pc is not None:
            await pc.close()
        sending, self._sending = self._sending, {}
        for track in sending.values():
            track.stop()
        remote, self.remote = self.remote, {}
        for fanout in remote.values():
            await fanout.aclose(stop_source=False)
        if remote:
            self.track_changed.set()


_background: set[asyncio.Task[None]] = set()


def _spawn(coro: Awaitable[None]) -> None:
    async def run() -> None:
        await coro

    task = asyncio.create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)
