"""The node's control of Janus's videoroom: rooms, publishers, subscriptions.

Clients never talk to Janus. For each participant the node holds *legs*: one
publisher leg (the participant's own media going up) and one subscriber leg
per feed it receives. A leg is a Janus handle; its key is what the node's RTC
adapter and the clients name it by: ``(room, participant, feed)`` with
``feed=None`` for the publisher leg. Candidates a client trickles before its
leg's handle exists are buffered and handed over once it does; candidates
Janus trickles go to ``on_candidate``.

Rooms have string ids (the meeting id) and a secret derived from the admin key,
so a restarted node can still kick from and destroy the rooms it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from frontdesk.server.sfu.janus import JanusError, JanusSession

__all__ = ["Leg", "LegKey", "SfuController"]

log = logging.getLogger(__name__)

#: Janus videoroom error numbers the controller treats as "already so".
_NO_SUCH_ROOM = 426
_ROOM_EXISTS = 427
_NO_SUCH_FEED = 428

#: A leg: (room, participant, feed); feed None is the participant's publisher leg.
LegKey = tuple[str, str, str | None]

#: ``on_candidate(leg, candidate)``: Janus trickled a candidate (None: it is done).
CandidateSink = Callable[[LegKey, dict[str, Any] | None], None]

#: ``on_up(leg)``: a leg's media connected (Janus's ``webrtcup``); a publisher
#: leg's feed can be subscribed to from then on.
UpSink = Callable[[LegKey], None]

#: Client candidates kept for a leg whose handle is not attached yet.
MAX_PENDING_CANDIDATES = 64


@dataclass
class Leg:
    key: LegKey
    handle: int | None = None
    #: The mid of the video stream of a subscription (from Janus's offer).
    video_mid: str | None = None
    pending: list[dict[str, Any] | None] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class SfuController:
    """Drives one Janus for this node. ``start()`` opens the session."""

    def __init__(
        self,
        url: str,
        *,
        token_secret: str,
        admin_key: str,
        on_candidate: CandidateSink | None = None,
        on_up: UpSink | None = None,
        http: httpx.AsyncClient | None = None,
        max_publishers: int = 32,
    ) -> None:
        self.url = url
        self._admin_key = admin_key
        self._session = JanusSession(url, token_secret=token_secret, http=http)
        self._on_candidate = on_candidate
        self._on_up = on_up
        self._max_publishers = max_publishers
        self._control: int | None = None
        self._legs: dict[LegKey, Leg] = {}
        self._lock = asyncio.Lock()

    def set_sinks(self, *, on_candidate: CandidateSink, on_up: UpSink) -> None:
        self._on_candidate = on_candidate
        self._on_up = on_up

    async def start(self) -> None:
        await self._session.open()
        self._control = await self._session.attach()

    async def close(self) -> None:
        await self._session.close()
        self._legs.clear()

    @property
    def healthy(self) -> bool:
        return not self._session.closed.is_set()

    def room_secret(self, room: str) -> str:
        return hmac.new(self._admin_key.encode(), room.encode(), hashlib.sha256).hexdigest()[:32]

    # -- rooms ------------------------------------------------------------------

    async def create_room(self, room: str, *, description: str = "") -> None:
        """Create the videoroom for a meeting (no error when it exists)."""
        body = {
            "request": "create",
            "room": room,
            "admin_key": self._admin_key,
            "secret": self.room_secret(room),
            "description": description[:100] or room,
            "publishers": self._max_publishers,
            "is_private": True,
            "permanent": False,
            "audiocodec": "opus",
            "videocodec": "vp8",
            "notify_joining": False,
        }
        try:
            await self._session.request(self._ctl, body)
        except JanusError as exc:
            if exc.janus_code != _ROOM_EXISTS:
                raise

    async def destroy_room(self, room: str) -> None:
        """Destroy the room (everyone in it is hung up); no error when it is gone."""
        for key in [k for k in self._legs if k[0] == room]:
            await self._drop(key)
        body = {"request": "destroy", "room": room, "secret": self.room_secret(room)}
        try:
            await self._session.request(self._ctl, body)
        except JanusError as exc:
            if exc.janus_code != _NO_SUCH_ROOM:
                raise

    async def room_exists(self, room: str) -> bool:
        data = await self._session.request(self._ctl, {"request": "exists", "room": room})
        return bool(data.get("exists"))

    async def publishers(self, room: str) -> list[str]:
        """The ids of the feeds publishing in ``room``, as Janus sees them."""
        body = {"request": "listparticipants", "room": room}
        data = await self._session.request(self._ctl, body)
        return [str(p["id"]) for p in data.get("participants", []) if p.get("publisher")]

    # -- legs -------------------------------------------------------------------

    async def publish(
        self, room: str, participant: str, offer: dict[str, Any], *, display: str = ""
    ) -> dict[str, Any]:
        """Join ``participant`` to ``room`` as a publisher with the client's
        offer (``{"type": "offer", "sdp": ...}``); Janus's answer."""
        key: LegKey = (room, participant, None)
        await self._drop(key)  # a re-publish replaces the old leg
        leg = await self._attach(key)
        body = {
            "request": "joinandconfigure",
            "ptype": "publisher",
            "room": room,
            "id": participant,
            "display": display[:100],
            "audio": True,
            "video": True,
        }
        try:
            _, jsep = await self._session.message(self._handle(leg), body, _jsep(offer))
        except JanusError:
            await self._drop(key)
            raise
        if jsep is None or jsep.get("type") != "answer":
            await self._drop(key)
            raise JanusError("Janus did not answer the publisher's offer")
        return {"type": "answer", "sdp": jsep["sdp"]}

    async def subscribe(self, room: str, participant: str, feed: str) -> dict[str, Any]:
        """Subscribe ``participant`` to ``feed``'s streams: Janus's offer, to be
        answered with :meth:`answer`."""
        key: LegKey = (room, participant, feed)
        await self._drop(key)
        leg = await self._attach(key)
        body = {
            "request": "join",
            "ptype": "subscriber",
            "room": room,
            "streams": [{"feed": feed}],
        }
        try:
            _, jsep = await self._session.message(self._handle(leg), body)
        except JanusError:
            await self._drop(key)
            raise
        if jsep is None or jsep.get("type") != "offer":
            await self._drop(key)
            raise JanusError("Janus offered nothing for the feed")
        leg.video_mid = _video_mid(str(jsep["sdp"]))
        return {"type": "offer", "sdp": jsep["sdp"]}

    async def select_layer(self, room: str, participant: str, feed: str, substream: int) -> None:
        """Which simulcast layer of ``feed`` the subscriber receives: 0 the
        smallest (thumbnails) to 2 the largest (the speaker, a shared screen)."""
        leg = self._legs.get((room, participant, feed))
        if leg is None or leg.handle is None or leg.video_mid is None:
            raise JanusError("no video subscription to that feed", _NO_SUCH_FEED)
        body = {
            "request": "configure",
            "streams": [{"mid": leg.video_mid, "substream": substream}],
        }
        await self._session.message(leg.handle, body)

    async def answer(self, room: str, participant: str, feed: str, answer: dict[str, Any]) -> None:
        """The client's answer to a subscription's offer: media starts flowing."""
        leg = self._legs.get((room, participant, feed))
        if leg is None or leg.handle is None:
            raise JanusError("no subscription to answer", _NO_SUCH_FEED)
        await self._session.message(leg.handle, {"request": "start"}, _jsep(answer))

    async def trickle(
        self, room: str, participant: str, feed: str | None, candidate: dict[str, Any] | None
    ) -> None:
        """A candidate from the client for one of its legs (None: gathering done).
        Kept until the leg's handle exists; dropped for a leg that never comes."""
        key: LegKey = (room, participant, feed)
        leg = self._legs.get(key)
        if leg is None:
            leg = self._legs[key] = Leg(key)
        if leg.handle is None:
            if len(leg.pending) < MAX_PENDING_CANDIDATES:
                leg.pending.append(candidate)
            return
        await self._session.trickle(leg.handle, candidate)

    async def unsubscribe(self, room: str, participant: str, feed: str) -> None:
        await self._drop((room, participant, feed))

    async def leave(self, room: str, participant: str) -> None:
        """Hang up every leg of ``participant`` and every subscription to its feed."""
        for key in [k for k in self._legs if k[0] == room and participant in (k[1], k[2])]:
            await self._drop(key)

    async def kick(self, room: str, participant: str) -> None:
        """Remove ``participant`` from the room now: Janus kicks its feed (its
        media stops for everyone) and every leg it had is hung up."""
        body = {
            "request": "kick",
            "room": room,
            "id": participant,
            "secret": self.room_secret(room),
        }
        try:
            await self._session.request(self._ctl, body)
        except JanusError as exc:
            if exc.janus_code not in (_NO_SUCH_ROOM, _NO_SUCH_FEED):
                raise
        await self.leave(room, participant)

    def legs(self, room: str) -> list[LegKey]:
        return [k for k, leg in self._legs.items() if k[0] == room and leg.handle is not None]

    # -- internals --------------------------------------------------------------

    @property
    def _ctl(self) -> int:
        if self._control is None:
            raise JanusError("the SFU controller is not started")
        return self._control

    def _handle(self, leg: Leg) -> int:
        if leg.handle is None:
            raise JanusError("the leg has no Janus handle")
        return leg.handle

    async def _attach(self, key: LegKey) -> Leg:
        leg = self._legs.get(key)
        if leg is None:
            leg = self._legs[key] = Leg(key)
        handle = await self._session.attach()
        if self._legs.get(key) is not leg:  # dropped while attaching
            await self._session.detach(handle)
            raise JanusError("the leg was hung up while it was set up")
        leg.handle = handle
        self._session.listen(handle, lambda event: self._on_event(key, event))
        pending, leg.pending = leg.pending, []
        for candidate in pending:
            await self._session.trickle(handle, candidate)
        leg.ready.set()
        return leg

    async def _drop(self, key: LegKey) -> None:
        leg = self._legs.pop(key, None)
        if leg is not None and leg.handle is not None:
            with contextlib.suppress(JanusError):
                await self._session.detach(leg.handle)

    def _on_event(self, key: LegKey, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "trickle" and self._on_candidate is not None:
            cand = event.get("candidate")
            if isinstance(cand, dict) and cand.get("completed"):
                self._on_candidate(key, None)
            elif isinstance(cand, dict):
                self._on_candidate(key, cand)
        elif kind == "webrtcup" and self._on_up is not None:
            self._on_up(key)
        elif kind == "hangup":
            log.info("janus hung up a leg of %s: %s", key[1], event.get("reason", ""))


def _video_mid(sdp: str) -> str | None:
    """The ``a=mid`` of the first video section of an SDP."""
    in_video = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            in_video = line.startswith("m=video")
        elif in_video and line.startswith("a=mid:"):
            return line[len("a=mid:") :].strip()
    return None


def _jsep(description: dict[str, Any]) -> dict[str, Any]:
    kind, sdp = description.get("type"), description.get("sdp")
    if kind not in ("offer", "answer") or not isinstance(sdp, str):
        raise JanusError("a session description needs type offer|answer and sdp")
    return {"type": kind, "sdp": sdp}
