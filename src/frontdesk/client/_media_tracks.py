"""Local media sources for :mod:`frontdesk.client.media` and the fan-out that feeds
one source to several peer connections (a mesh) or one received track to several
readers.

The generated tracks pace themselves on the event loop's clock; after a pause
(nobody read them, e.g. while muted) they jump to "now" instead of bursting to
catch up, and their timestamps jump with them, as a camera's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
from array import array
from collections.abc import Callable
from typing import Any, Literal

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame
from av.frame import Frame
from av.packet import Packet

from frontdesk.errors import Unavailable, ValidationFailed

__all__ = [
    "Broadcast",
    "PatternTrack",
    "Subscriber",
    "ToneTrack",
    "file_tracks",
    "pattern_track",
    "tone_track",
]

AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
VIDEO_CLOCK = 90_000
_MAX_LAG_S = 0.1


class _Paced(MediaStreamTrack):
    """A generated track producing one frame every ``step_s`` seconds."""

    def __init__(self, step_s: float, clock_rate: int) -> None:
        super().__init__()
        self._step = step_s
        self._clock_rate = clock_rate
        self._t0: float | None = None
        self._next = 0.0

    async def _pts(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        now = asyncio.get_running_loop().time()
        if self._t0 is None:
            self._t0 = self._next = now
        elif now - self._next > _MAX_LAG_S:
            self._next = now  # resume after a pause: no burst of stale frames
        elif self._next > now:
            await asyncio.sleep(self._next - now)
        pts = round((self._next - self._t0) * self._clock_rate)
        self._next += self._step
        return pts


class ToneTrack(_Paced):
    """A sine tone, 48 kHz mono, 20 ms frames."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, volume: float = 0.3) -> None:
        if not 20 <= frequency <= 20_000 or not 0 <= volume <= 1:
            raise ValidationFailed("need 20 <= frequency <= 20000 Hz and 0 <= volume <= 1")
        super().__init__(AUDIO_PTIME, AUDIO_RATE)
        amplitude = volume * 32767
        step = 2 * math.pi * frequency / AUDIO_RATE
        self._second = array(
            "h", (round(amplitude * math.sin(i * step)) for i in range(AUDIO_RATE))
        )
        self._samples = round(AUDIO_RATE * AUDIO_PTIME)
        self._offset = 0

    async def recv(self) -> Frame:
        pts = await self._pts()
        end = self._offset + self._samples
        chunk = self._second[self._offset : end]
        if len(chunk) < self._samples:
            chunk += self._second[: self._samples - len(chunk)]
        self._offset = end % AUDIO_RATE
        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(chunk.tobytes())
        frame.sample_rate = AUDIO_RATE
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


class PatternTrack(_Paced):
    """A test pattern (YUV 4:2:0): grey with a white bar that sweeps across."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 20.0) -> None:
        if width < 16 or height < 16 or width % 2 or height % 2 or not 1 <= fps <= 60:
            raise ValidationFailed("need even width and height >= 16 and 1 <= fps <= 60")
        super().__init__(1 / fps, VIDEO_CLOCK)
        self.width, self.height = width, height
        self._bar = max(2, width // 16)
        self._index = 0

    async def recv(self) -> Frame:
        pts = await self._pts()
        frame = VideoFrame(self.width, self.height, "yuv420p")
        luma = frame.planes[0]
        x = (self._index * self._bar // 2) % (self.width - self._bar)
        self._index += 1
        row = bytearray([96]) * luma.line_size
        row[x : x + self._bar] = bytes([235]) * self._bar
        luma.update(bytes(row) * self.height)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


def tone_track(frequency: float = 440.0, volume: float = 0.3) -> ToneTrack:
    """A generated audio track: a sine tone of ``frequency`` Hz."""
    return ToneTrack(frequency, volume)


def pattern_track(width: int = 640, height: int = 480, *, fps: float = 20.0) -> PatternTrack:
    """A generated ``width`` x ``height`` video track at ``fps`` frames a second."""
    return PatternTrack(width, height, fps)


def file_tracks(
    path: str, *, loop: bool = True, options: dict[str, str] | None = None
) -> tuple[MediaStreamTrack | None, MediaStreamTrack | None]:
    """``(audio, video)`` tracks read from a media file (or a device URL that FFmpeg
    opens) through aiortc's ``MediaPlayer``, paced in real time; either may be
    ``None`` when the file has no such stream."""
    from aiortc.contrib.media import MediaPlayer

    try:
        player = MediaPlayer(path, loop=loop, options=options or {})
    except (OSError, ValueError) as exc:
        raise Unavailable(f"cannot open media file {path!r}: {exc}") from exc
    if player.audio is None and player.video is None:
        raise ValidationFailed(f"{path!r} has neither audio nor video")
    return player.audio, player.video


class Subscriber(MediaStreamTrack):
    """One reader's view of a :class:`Broadcast` (a bounded queue: when the reader
    falls behind, the oldest frames are dropped). While ``paused`` it receives
    nothing, so a sender reading it sends nothing (how mute works)."""

    def __init__(self, kind: Literal["audio", "video"], maxsize: int) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[Frame | Packet[Any] | None] = asyncio.Queue(maxsize)
        self._on_stop: Callable[[Subscriber], None] | None = None
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    @paused.setter
    def paused(self, paused: bool) -> None:
        self._paused = paused
        while paused and not self._queue.empty():
            if self._queue.get_nowait() is None:
                self._queue.put_nowait(None)
                break

    def _put(self, frame: Frame | Packet[Any] | None) -> None:
        if self._paused and frame is not None:
            return
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(frame)

    async def recv(self) -> Frame | Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._queue.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame

    def stop(self) -> None:
        if self.readyState == "live" and not self._queue.full():
            self._queue.put_nowait(None)  # wake a reader waiting in recv()
        super().stop()
        if self._on_stop is not None:
            self._on_stop(self)
            self._on_stop = None


class Broadcast:
    """Reads ``source`` continuously and hands every frame to each subscriber
    (and to ``on_frame``); the subscribers end when the source ends."""

    def __init__(
        self,
        source: MediaStreamTrack,
        on_frame: Callable[[Frame | Packet[Any]], None] | None = None,
    ) -> None:
        if source.kind not in ("audio", "video"):
            raise ValidationFailed(f"not an audio or video track: {source.kind!r}")
        self.source = source
        self.kind: Literal["audio", "video"] = "audio" if source.kind == "audio" else "video"
        self._on_frame = on_frame
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self.ended = False

    def subscribe(self, maxsize: int = 4) -> Subscriber:
        sub = Subscriber(self.kind, maxsize)
        if self.ended:
            sub._put(None)
            return sub
        sub._on_stop = self._subscribers.discard
        self._subscribers.add(sub)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"frontdesk-{self.kind}-fanout")
        return sub

    def start(self) -> None:
        if self._task is None and not self.ended:
            self._task = asyncio.create_task(self._run(), name=f"frontdesk-{self.kind}-fanout")

    async def _run(self) -> None:
        try:
            while True:
                try:
                    frame = await self.source.recv()
                except MediaStreamError:
                    return
                if self._on_frame is not None:
                    self._on_frame(frame)
                for sub in list(self._subscribers):
                    sub._put(frame)
        finally:
            self.ended = True
            for sub in list(self._subscribers):
                sub._put(None)

    async def aclose(self, *, stop_source: bool = True) -> None:
        if stop_source:
            self.source.stop()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.ended = True
