"""The demo's media step: one aiortc peer connection per side, signalled through
the meeting (``signal`` messages relayed by the node), video both ways.

It runs only where every packet stays on loopback: a network namespace with
``lo`` alone (``scripts/in-netns``). aioice leaves 127.0.0.1 out of its host
candidates, so for the demo's own process the host address list is loopback.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
from typing import Any

from frontdesk.client import Meeting, MeetingEvent
from frontdesk.errors import Unavailable

__all__ = ["connect_video", "unavailable_reason"]


def unavailable_reason() -> str | None:
    """Why media cannot be tried here, or ``None`` when it can."""
    if importlib.util.find_spec("aiortc") is None:
        return "aiortc not installed: pip install 'frontdesk[media]'"
    if {name for _, name in socket.if_nameindex()} - {"lo"}:
        return "interfaces besides loopback; run under scripts/in-netns for loopback-only ICE"
    return None


class _Peer:
    def __init__(self, meeting: Meeting, remote: str, offerer: bool) -> None:
        from aioice import ice
        from aiortc import RTCConfiguration, RTCPeerConnection
        from aiortc.mediastreams import VideoStreamTrack

        ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # loopback only
        self.meeting, self.remote, self.offerer = meeting, remote, offerer
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(VideoStreamTrack())
        self.frame: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pc.on("track", self._on_track)
        meeting.on("signal", self._on_signal)

    def _on_track(self, track: Any) -> None:
        async def first_frame() -> None:
            frame = await track.recv()
            if not self.frame.done():
                self.frame.set_result(frame)

        asyncio.ensure_future(first_frame())  # noqa: RUF006 - ends with the track

    async def _on_signal(self, event: MeetingEvent) -> None:
        from aiortc import RTCSessionDescription

        if event.data.get("from") != self.remote or event.data.get("kind") not in (
            "offer",
            "answer",
        ):
            return
        data = event.data["data"]
        await self.pc.setRemoteDescription(RTCSessionDescription(data["sdp"], data["type"]))
        if data["type"] == "offer":
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self._send("answer")

    async def _send(self, kind: str) -> None:
        desc = self.pc.localDescription
        await self.meeting.send_signal(self.remote, kind, {"type": desc.type, "sdp": desc.sdp})  # type: ignore[arg-type]

    async def offer(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self._send("offer")


async def connect_video(customer: Meeting, advisor: Meeting) -> str:
    """Both sides receive a video frame from the other; returns a short summary."""
    ids = customer.participant_id, advisor.participant_id
    if ids[0] is None or ids[1] is None:
        raise Unavailable("both sides must be in the meeting")
    # the smaller participant id offers (the browser SDK's rule too)
    peers = [
        _Peer(customer, ids[1], offerer=ids[0] < ids[1]),
        _Peer(advisor, ids[0], offerer=ids[1] < ids[0]),
    ]
    try:
        await next(p for p in peers if p.offerer).offer()
        frames = await asyncio.gather(*(p.frame for p in peers))
        return f"video frames both ways ({frames[0].width}x{frames[0].height})"
    finally:
        await asyncio.gather(*(p.pc.close() for p in peers))
