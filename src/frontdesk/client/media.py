"""Real audio and video for the Python SDK, through aiortc (``pip install
'frontdesk[media]'``)::

    from frontdesk.client.media import tone_track, pattern_track, file_tracks

    async with join_with_token(discovery_uri, token) as meeting:
        await meeting.admitted()
        media = await meeting.start_media(audio=tone_track(440), video=pattern_track(640, 480))
        async for frame in media.frames(other_id, "video"):   # av.VideoFrame
            ...
        await media.set_audio_muted(True)   # stops sending audio, tells the others
        await media.stop()

One RTCPeerConnection per other joined participant (a mesh), negotiated as the
browser SDK does (see :mod:`frontdesk.client._media_peer`). When the node says
the meeting's media goes through the SFU (``sfu_route``: mode ``sfu``, or a mesh
in mode ``auto`` passing its cap), the session publishes and receives there
instead (:mod:`frontdesk.client._sfu`), keeping each mesh connection until
that participant's media arrives through the SFU. Publish generated
tracks, a file (:func:`file_tracks`), or any aiortc ``MediaStreamTrack``; pass
``None`` to receive only. Every received track is read all the time (nothing
piles up in memory); :meth:`MediaSession.frames` and
:meth:`MediaSession.subscribe` hand its frames to readers.

``ice_host_addresses`` (or ``FRONTDESK_ICE_HOST_ADDRESSES``) restricts the host
candidates offered, e.g. ``["127.0.0.1"]`` for loopback-only tests (see
:mod:`frontdesk.client._media_ice`).
"""

from __future__ import annotations

try:
    import aiortc  # noqa: F401
    import av  # noqa: F401
except ImportError as _missing:  # pragma: no cover - depends on the installation
    from frontdesk.errors import Unavailable

    raise Unavailable(
        "media needs the optional extra: pip install 'frontdesk[media]' (aiortc)"
    ) from _missing

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCStatsReport
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.frame import Frame

from frontdesk.client._media_ice import (
    ENV_HOST_ADDRESSES,
    ice_servers_for_aiortc,
    resolve_host_addresses,
)
from frontdesk.client._media_peer import KINDS, Kind, Log, Peer
from frontdesk.client._media_tracks import (
    Broadcast,
    PatternTrack,
    Subscriber,
    ToneTrack,
    file_tracks,
    pattern_track,
    tone_track,
)
from frontdesk.client._sfu import SfuMedia
from frontdesk.domain.events import ParticipantJoined, ParticipantLeft
from frontdesk.domain.participants import SessionState
from frontdesk.errors import IllegalState, ParticipantNotFound, Unavailable, ValidationFailed

if TYPE_CHECKING:
    from frontdesk.client._events import EventStream, MeetingEvent
    from frontdesk.client._meeting import Meeting

__all__ = [
    "ENV_HOST_ADDRESSES",
    "MediaSession",
    "PatternTrack",
    "SfuMedia",
    "ToneTrack",
    "file_tracks",
    "pattern_track",
    "tone_track",
]


class MediaSession:
    """The media of one meeting session; made by :meth:`Meeting.start_media`."""

    def __init__(
        self,
        meeting: Meeting,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        ice_servers: Sequence[Mapping[str, Any]] | None = None,
        ice_host_addresses: Sequence[str] | None = None,
        audio_muted: bool = False,
        video_muted: bool = False,
    ) -> None:
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
        self.log: Log = getattr(meeting, "_log", logging.getLogger("frontdesk.client.media"))
        self._sources: dict[Kind, Broadcast] = {
            kind: Broadcast(track) for kind, track in given if track is not None
        }
        self._muted: dict[Kind, bool] = {"audio": audio_muted, "video": video_muted}
        self._peers: dict[str, Peer] = {}
        self._events: EventStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._first_frame: dict[tuple[str, Kind], float] = {}
        self._frame_counts: dict[tuple[str, Kind], int] = {}
        self._sfu: SfuMedia | None = None
        self._sfu_tracks: dict[Kind, Subscriber] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.stopped = False

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> MediaSession:
        if self._task is not None or self.stopped:
            raise IllegalState("this media session was started already")
        if self.meeting.state is SessionState.LEFT:
            raise IllegalState("the meeting session has ended")
        for source in self._sources.values():
            source.start()
        self._events = self.meeting.events()
        self._task = asyncio.create_task(self._dispatch(self._events), name="frontdesk-media")
        await self._announce()
        if self.meeting.media_route == "sfu":
            await self._move_to_sfu()
        self._connect_roster()
        return self

    async def stop(self) -> None:
        """Close every peer connection and end the local tracks (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        if self._events is not None:
            self._events.close()
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        peers, self._peers = list(self._peers.values()), {}
        for peer in peers:
            await peer.close()
        if self._sfu is not None:
            await self._sfu.stop()
        for source in self._sources.values():
            await source.aclose()

    # --- reading -----------------------------------------------------------------
    @property
    def remote_tracks(self) -> dict[str, list[MediaStreamTrack]]:
        """The tracks received from each participant (read by the session: use
        :meth:`frames` or :meth:`subscribe` for their frames)."""
        return {
            pid: [peer.remote[k].source for k in KINDS if k in peer.remote]
            for pid, peer in self._peers.items()
            if peer.remote
        }

    @property
    def route(self) -> str:
        """Where this session's media goes: ``"mesh"`` or ``"sfu"``."""
        return "sfu" if self._sfu is not None else "mesh"

    def peer_connection(self, participant_id: str) -> RTCPeerConnection | None:
        """The connection media from the participant arrives on (the mesh's, or
        the SFU's connection down from its feed)."""
        if self._sfu is not None:
            pc = self._sfu.peer_connection(participant_id)
            if pc is not None:
                return pc
        peer = self._peers.get(participant_id)
        return peer.pc if peer is not None else None

    def frames_received(self, participant_id: str, kind: Kind) -> int:
        return self._frame_counts.get((participant_id, kind), 0)

    def first_frame_at(self, participant_id: str, kind: Kind) -> float | None:
        """The event-loop time the first ``kind`` frame from the participant arrived."""
        if self._sfu is not None and (at := self._sfu.first_frame_at(participant_id, kind)):
            return at
        return self._first_frame.get((participant_id, kind))

    async def subscribe(
        self, participant_id: str, kind: Kind, *, maxsize: int = 8
    ) -> MediaStreamTrack:
        """A track carrying the participant's ``kind`` frames from now on (e.g. for
        aiortc's ``MediaRecorder``); waits until the participant's track arrives.
        When the reader lags, the oldest of ``maxsize`` queued frames are dropped."""
        if kind not in KINDS:
            raise ValidationFailed("kind is 'audio' or 'video'")
        while not self.stopped:
            if self._sfu is not None:
                return await self._sfu.subscribe(participant_id, kind, maxsize=maxsize)
            peer = self._peers.get(participant_id)
            if peer is not None and kind in peer.remote and not peer.remote[kind].ended:
                return peer.remote[kind].subscribe(maxsize)
            if peer is None:
                await asyncio.sleep(0.05)
            else:
                peer.track_changed.clear()
                with contextlib.suppress(TimeoutError):  # or the route moves to the SFU
                    async with asyncio.timeout(0.5):
                        await peer.track_changed.wait()
        raise IllegalState("the media session has stopped")

    async def frames(
        self, participant_id: str, kind: Kind, *, maxsize: int = 8
    ) -> AsyncIterator[Frame]:
        """The participant's ``kind`` frames (``av.AudioFrame`` / ``av.VideoFrame``)
        until its track ends (the connection closed or was re-created)."""
        track = await self.subscribe(participant_id, kind, maxsize=maxsize)
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

    def sharing_screen(self, participant_id: str) -> bool:
        """Whether the participant's video is a shared screen now (a document an
        advisor explains, rather than a face): the roster says so."""
        member = self.meeting.roster.get(participant_id)
        return bool(member is not None and member.screen_sharing)

    async def screen(self, participant_id: str, *, maxsize: int = 8) -> MediaStreamTrack | None:
        """The participant's shared screen as a track of its frames from now on,
        or ``None`` while it shares none (its video is then its camera)."""
        if not self.sharing_screen(participant_id):
            return None
        return await self.subscribe(participant_id, "video", maxsize=maxsize)

    async def stats(self, participant_id: str) -> RTCStatsReport:
        """``getStats()`` of the connection to the participant."""
        pc = self.peer_connection(participant_id)
        if pc is None:
            raise ParticipantNotFound(f"no media connection to {participant_id}")
        return await pc.getStats()

    # --- acting ------------------------------------------------------------------
    @property
    def audio_muted(self) -> bool:
        return self._muted["audio"] or "audio" not in self._sources

    @property
    def video_muted(self) -> bool:
        return self._muted["video"] or "video" not in self._sources

    async def set_audio_muted(self, muted: bool) -> None:
        """Stop (or resume) sending audio to everyone, and tell the meeting."""
        await self._set_muted("audio", muted)

    async def set_video_muted(self, muted: bool) -> None:
        """Camera off (or on): stop (or resume) sending video, and tell the meeting."""
        await self._set_muted("video", muted)

    async def _set_muted(self, kind: Kind, muted: bool) -> None:
        if self.stopped:
            raise IllegalState("the media session has stopped")
        if not muted and kind not in self._sources:
            raise IllegalState(f"no {kind} track was published")
        self._muted[kind] = bool(muted)
        for peer in self._peers.values():
            peer.set_muted(kind, muted)
        up = self._sfu_tracks.get(kind)
        if up is not None:
            up.paused = muted
        await self._announce()

    async def _announce(self) -> None:
        if self.meeting.state is SessionState.JOINED:
            await self.meeting.set_media(audio_muted=self.audio_muted, video_muted=self.video_muted)

    # --- PeerHost ----------------------------------------------------------------
    def outgoing_track(self, kind: Kind) -> Subscriber | None:
        source = self._sources.get(kind)
        if source is None:
            return None
        track = source.subscribe(maxsize=2)
        track.paused = self._muted[kind]
        return track

    async def send_signal(self, to: str, kind: str, data: Mapping[str, Any]) -> None:
        await self.meeting.send_signal(to, kind, data)  # type: ignore[arg-type]

    def remote_frame(self, participant_id: str, kind: Kind) -> None:
        key = (participant_id, kind)
        count = self._frame_counts.get(key, 0)
        if count == 0:
            self._first_frame[key] = asyncio.get_running_loop().time()
        self._frame_counts[key] = count + 1

    # --- meeting events ----------------------------------------------------------
    def _peer(self, participant_id: str) -> Peer:
        peer = self._peers.get(participant_id)
        if peer is None:
            me = self.meeting.participant_id or ""
            peer = Peer(self, participant_id, polite=me > participant_id)
            self._peers[participant_id] = peer
        return peer

    def _connect_roster(self) -> None:
        if self.meeting.state is not SessionState.JOINED or self._sfu is not None:
            return
        me = self.meeting.participant_id
        for pid, participant in self.meeting.roster.items():
            if pid != me and pid not in self._peers and participant.state is SessionState.JOINED:
                self._peer(pid).greet()

    async def _dispatch(self, events: EventStream) -> None:
        async for event in events:
            try:
                await self._on_event(event)
            except (KeyError, TypeError, ValueError) as exc:
                self.log.warning("media: could not handle %s: %r", event.name, exc)
        await self.stop()  # the meeting session ended

    async def _on_event(self, event: MeetingEvent) -> None:
        d = event.data
        payload = event.payload
        if event.name == "signal":
            sender = str(d.get("from", ""))
            body = d.get("data")
            if sender and sender != self.meeting.participant_id and isinstance(body, dict):
                self._peer(sender).deliver(str(d.get("kind")), body)
        elif event.name == "sfu_route" and d.get("route") == "sfu" and self._sfu is None:
            await self._move_to_sfu()
        elif isinstance(payload, ParticipantJoined):
            pid = payload.participant.id
            if self._sfu is not None:
                return
            if pid != self.meeting.participant_id and pid not in self._peers:
                self._peer(pid).greet()
        elif isinstance(payload, ParticipantLeft):
            peer = self._peers.pop(payload.participant_id, None)
            if peer is not None:
                await peer.close()
        elif event.name == "state_changed" and d.get("state") == SessionState.JOINED.value:
            await self._announce()
            self._connect_roster()

    async def _move_to_sfu(self) -> None:
        """Publish and receive through the SFU from now on. The mesh connection
        to each participant closes once its media arrives through the SFU."""
        tracks = {kind: source.subscribe(maxsize=2) for kind, source in self._sources.items()}
        for kind, track in tracks.items():
            track.paused = self._muted[kind]
        self._sfu_tracks = tracks
        self._sfu = SfuMedia(
            self.meeting,
            audio=tracks.get("audio"),
            video=tracks.get("video"),
            ice_servers=self.meeting.ice_servers,
            ice_host_addresses=self.host_addresses,
            on_feed=self._feed_arrived,
        )
        await self._sfu.start()

    def _feed_arrived(self, feed: str) -> None:
        peer = self._peers.pop(feed, None)
        if peer is not None:
            task = asyncio.get_running_loop().create_task(peer.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


async def start_media(meeting: Meeting, **options: Any) -> MediaSession:
    """``MediaSession(meeting, **options).start()`` (what :meth:`Meeting.start_media` calls)."""
    try:
        return await MediaSession(meeting, **options).start()
    except (OSError, RuntimeError) as exc:
        raise Unavailable(f"media could not start: {exc!r}") from exc
