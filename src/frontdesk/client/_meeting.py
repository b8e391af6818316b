"""The :class:`Meeting` object: one participant's live view of a meeting and the
calls it may make (chat, typing, media, moderation, signalling, leave)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Literal

from frontdesk.client._chat import Chat, chat_message_from_dict
from frontdesk.client._errors import session_ended
from frontdesk.client._events import (
    EventCallback,
    EventEmitter,
    EventName,
    EventStream,
    MeetingEvent,
)
from frontdesk.client._session import (
    OpenConnection,
    ReconnectPolicy,
    Session,
    reason_of,
    websocket_connection,
)
from frontdesk.domain.participants import Participant, SessionState, parse_time
from frontdesk.errors import FrontdeskError, IllegalState, ProtocolError, Unavailable

if TYPE_CHECKING:
    from aiortc.mediastreams import MediaStreamTrack

    from frontdesk.client.media import MediaSession

__all__ = ["LobbyEntry", "Meeting", "MeetingLogAdapter", "SignalKind"]

_logger = logging.getLogger("frontdesk.client")

SignalKind = Literal["offer", "answer", "candidate", "renegotiate"]


class MeetingLogAdapter(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with the meeting and participant ids (never a token)."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        return (
            f"[meeting={extra.get('meeting_id')} participant={extra.get('participant_id')}] {msg}",
            kwargs,
        )


@dataclass(frozen=True, slots=True)
class LobbyEntry:
    """A guest waiting in the lobby, as moderators see it."""

    participant_id: str
    display_name: str
    role: str
    method: str  # token | url | user
    vouched: bool  # the back end vouched for the name (token) or not (URL alone)
    waiting_since: datetime | None = None
    timeout_at: datetime | None = None

    @classmethod
    def from_snapshot(cls, d: Mapping[str, Any]) -> LobbyEntry:
        return cls(
            participant_id=str(d["participant_id"]),
            display_name=str(d["display_name"]),
            role=str(d.get("role", "guest")),
            method=str(d.get("method", "url")),
            vouched=bool(d.get("vouched", False)),
            waiting_since=parse_time(d.get("waiting_since")),
            timeout_at=parse_time(d.get("timeout_at")),
        )

    @classmethod
    def from_participant(cls, p: Participant) -> LobbyEntry:
        return cls(p.id, p.display_name, p.role.value, p.method.value, p.vouched, p.lobby_since)


RtcUrl = Callable[[], Awaitable[str]]


class Meeting:
    """One participant session. Open it with ``async with`` (or :meth:`connect`);
    leaving the block leaves the meeting."""

    def __init__(
        self,
        rtc_url: RtcUrl,
        auth: dict[str, Any],
        *,
        open_connection: OpenConnection | None = None,
        reconnect: ReconnectPolicy | None = None,
        request_timeout: float | None = 30.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self._resolve_url = rtc_url
        self._auth = auth
        self._open_connection = open_connection or websocket_connection
        self._reconnect = reconnect or ReconnectPolicy()
        self._request_timeout = request_timeout
        self._log = MeetingLogAdapter(logger or _logger, {})
        self._emitter = EventEmitter(self._log)
        self._session: Session | None = None
        self.chat = Chat(self._request)
        self.state = SessionState.CONNECTING
        self.participant_id: str | None = None
        self.meeting_id: str | None = None
        self.left_reason: str | None = None
        self.error: FrontdeskError | None = None
        self.info: dict[str, Any] = {}
        self.me: Participant | None = None
        self.lobby_position: int | None = None
        self.organizer_present: bool | None = None
        self.lobby_timeout_at: datetime | None = None
        self._roster: dict[str, Participant] = {}
        self._lobby: dict[str, LobbyEntry] = {}
        self._changed = asyncio.Event()
        self.ice_servers: list[dict[str, Any]] = []  # from the welcome (may hold TURN secrets)
        self.media: MediaSession | None = None

    # --- opening and closing ---------------------------------------------------------
    async def connect(self) -> Meeting:
        """Open the connection; returns once the server welcomed this session."""
        if self._session is not None:
            raise IllegalState("this meeting object is connected already")
        url = await self._resolve_url()
        self._session = Session(
            url,
            self._auth,
            self,
            open_connection=self._open_connection,
            reconnect=self._reconnect,
            request_timeout=self._request_timeout,
            log=self._log,
        )
        try:
            await self._session.open()
        except FrontdeskError as err:
            self._set_left(reason_of(err), err)
            raise
        return self

    async def __aenter__(self) -> Meeting:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.leave()

    async def leave(self) -> None:
        """Leave the meeting and close the connection (does nothing once left)."""
        if self.media is not None:
            await self.media.stop()
        if self._session is not None:
            await self._session.close(leave=True)
        else:
            self._set_left("left", session_ended("left"))

    async def wait_closed(self) -> str:
        """Wait until the session ends; returns the leave reason."""
        while self.state is not SessionState.LEFT:
            await self._wait_change()
        return self.left_reason or "left"

    # --- reading ---------------------------------------------------------------
    @property
    def roster(self) -> Mapping[str, Participant]:
        """Who is in the meeting (joined or reconnecting), by participant id."""
        return MappingProxyType(self._roster)

    @property
    def lobby(self) -> Mapping[str, LobbyEntry]:
        """Who waits in the lobby (seen by organizers and presenters only)."""
        return MappingProxyType(self._lobby)

    @property
    def last_seq(self) -> int:
        return self._session.last_seq if self._session is not None else 0

    async def admitted(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Return once this session is in the meeting; raise the typed error (e.g.
        ``DeniedAtLobby``, ``LobbyTimedOut``, ``SessionMeetingEnded``) if it ends instead."""

        async def wait() -> None:
            while self.state is not SessionState.JOINED:
                if self.state is SessionState.LEFT:
                    raise self.error or session_ended(self.left_reason or "left")
                await self._wait_change()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise Unavailable(f"not admitted within {timeout}s") from None

    def events(self) -> EventStream:
        """Every event from now on as an async iterator; it stops when the session ends."""
        return self._emitter.subscribe()

    def on(self, name: EventName | Literal["*"], callback: EventCallback) -> Callable[[], None]:
        """Register a callback (sync or async); returns a function that unregisters it."""
        return self._emitter.on(name, callback)

    # --- acting ----------------------------------------------------------------
    async def typing(self, typing: bool = True) -> None:
        """Show or hide "typing…" to the others (ephemeral: not answered, not retried;
        a refusal arrives as an ``error`` event)."""
        await self._send("typing", {"typing": bool(typing)})

    async def set_media(
        self,
        *,
        audio_muted: bool | None = None,
        video_muted: bool | None = None,
        hand_raised: bool | None = None,
    ) -> None:
        fields = {
            "audio_muted": audio_muted,
            "video_muted": video_muted,
            "hand_raised": hand_raised,
        }
        await self._request("media", {k: v for k, v in fields.items() if v is not None})

    async def start_media(
        self,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        ice_host_addresses: Sequence[str] | None = None,
        ice_servers: Sequence[Mapping[str, Any]] | None = None,
        audio_muted: bool = False,
        video_muted: bool = False,
    ) -> MediaSession:
        """Publish ``audio``/``video`` (aiortc tracks, e.g. ``tone_track()``; ``None``:
        receive only) to every joined participant and receive theirs; needs the
        ``frontdesk[media]`` extra. See :mod:`frontdesk.client.media`."""
        if self.media is not None and not self.media.stopped:
            raise IllegalState("media was started already (stop it first)")
        from frontdesk.client.media import start_media

        self.media = await start_media(
            self,
            audio=audio,
            video=video,
            ice_host_addresses=ice_host_addresses,
            ice_servers=ice_servers,
            audio_muted=audio_muted,
            video_muted=video_muted,
        )
        return self.media

    async def admit(self, participant_id: str) -> None:
        await self._request("admit", {"participant_id": participant_id})

    async def deny(self, participant_id: str) -> None:
        await self._request("deny", {"participant_id": participant_id})

    async def mute(self, participant_id: str) -> None:
        await self._request("mute", {"participant_id": participant_id})

    async def remove(self, participant_id: str) -> None:
        await self._request("remove", {"participant_id": participant_id})

    async def end(self) -> None:
        """End the meeting for everyone (organizers and presenters)."""
        await self._request("end", {})

    async def send_signal(self, to: str, kind: SignalKind, data: Mapping[str, Any]) -> None:
        """Relay a WebRTC offer, answer, ICE candidate or renegotiation to ``to``
        (not answered when relayed; a refusal arrives as an ``error`` event)."""
        await self._send("signal", {"to": to, "kind": kind, "data": dict(data)})

    async def _send(self, type_: str, fields: dict[str, Any]) -> None:
        if self._session is None:
            raise IllegalState("connect first (use 'async with')")
        if self._session.finished:
            raise self._session.end_error or session_ended("left")
        await self._session.send_frame(type_, fields)

    async def _request(
        self, type_: str, fields: dict[str, Any], retry: bool = False
    ) -> dict[str, Any]:
        if self._session is None:
            raise IllegalState("connect first (use 'async with')")
        return await self._session.request(type_, fields, retry=retry)

    # --- fed by the session (SessionHandler) ----------------------------------------
    def _on_welcome(self, welcome: dict[str, Any]) -> None:
        self.participant_id = str(welcome["participant_id"])
        self.ice_servers = [dict(s) for s in welcome.get("ice_servers") or []]
        self._log.extra = {"meeting_id": self.meeting_id, "participant_id": self.participant_id}
        self._apply_snapshot(welcome["snapshot"])
        self._set_state(SessionState(welcome["state"]), resumed=bool(welcome["resumed"]))

    def _on_event(self, msg: dict[str, Any]) -> None:
        event = MeetingEvent.from_wire(msg)
        try:
            self._fold(event)
        except (KeyError, TypeError, ValueError, FrontdeskError) as exc:
            self._log.warning("could not fold event %s #%s: %r", event.name, event.seq, exc)
        self._emitter.emit(event)
        self._changed.set()

    def _on_frame(self, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "state":
            self._apply_snapshot(msg["snapshot"])
            self._set_state(SessionState(msg["state"]))
        elif kind == "typing":
            data = {"participant_id": msg["participant_id"], "typing": msg["typing"]}
            self._emitter.emit(MeetingEvent("typing", data))
        elif kind == "signal":
            data = {"from": msg["from"], "kind": msg["kind"], "data": msg["data"]}
            self._emitter.emit(MeetingEvent("signal", data))
        elif kind == "error":
            self._emitter.emit(
                MeetingEvent("error", {"code": msg["code"], "message": msg["message"]})
            )
        else:
            self._log.debug("ignoring server frame of type %r", kind)

    def _on_reconnecting(self) -> None:
        self._set_state(SessionState.RECONNECTING)

    def _on_end(self, reason: str, error: FrontdeskError) -> None:
        self._set_left(reason, error)

    # --- state --------------------------------------------------------------------
    def _set_state(self, state: SessionState, *, resumed: bool = False) -> None:
        if state is self.state or self.state is SessionState.LEFT:
            return
        self.state = state
        data: dict[str, Any] = {"state": state.value, "reason": None}
        if resumed:
            data["resumed"] = True
        self._emitter.emit(MeetingEvent("state_changed", data))
        self._changed.set()

    def _set_left(self, reason: str, error: FrontdeskError) -> None:
        if self.state is SessionState.LEFT:
            return
        self.left_reason = reason
        self.error = error
        self.state = SessionState.LEFT
        self._emitter.emit(MeetingEvent("state_changed", {"state": "left", "reason": reason}))
        self._emitter.close()
        self._changed.set()

    async def _wait_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    def _apply_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        try:
            info = snapshot.get("meeting") or {}
            self.info = dict(info)
            self.meeting_id = str(info["id"]) if "id" in info else self.meeting_id
            me = snapshot.get("me")
            if me:
                self.me = Participant.from_public(me)
            self._roster = {
                p.id: p for p in (Participant.from_public(d) for d in snapshot.get("roster", []))
            }
            lobby = (LobbyEntry.from_snapshot(d) for d in snapshot.get("lobby") or [])
            self._lobby = {e.participant_id: e for e in lobby}
            self.chat._merge(chat_message_from_dict(m) for m in snapshot.get("chat") or [])
            self.lobby_position = snapshot.get("lobby_position")
            self.organizer_present = snapshot.get("organizer_present")
            self.lobby_timeout_at = parse_time(snapshot.get("timeout_at"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed snapshot from the server: {exc!r}") from None
        self._log.extra = {"meeting_id": self.meeting_id, "participant_id": self.participant_id}

    def _fold(self, event: MeetingEvent) -> None:
        """Keep roster, lobby, chat and meeting info current with one event."""
        d = event.data
        name = event.name
        if name == "chat_message":
            message = event.message
            if message is not None:
                self.chat._add(message)
        elif name == "participant_joined":
            p = Participant.from_public(d["participant"])
            self._roster[p.id] = p
            self._lobby.pop(p.id, None)
        elif name == "participant_waiting":
            entry = LobbyEntry.from_participant(Participant.from_public(d["participant"]))
            self._lobby[entry.participant_id] = entry
        elif name in ("participant_admitted", "participant_denied"):
            self._lobby.pop(d["participant_id"], None)
        elif name == "participant_left":
            self._roster.pop(d["participant_id"], None)
            self._lobby.pop(d["participant_id"], None)
        elif name in ("participant_reconnecting", "participant_reconnected"):
            member = self._roster.get(d["participant_id"])
            if member is not None:
                joined = name == "participant_reconnected"
                member.state = SessionState.JOINED if joined else SessionState.RECONNECTING
        elif name == "media_changed":
            member = self._roster.get(d["participant_id"])
            if member is not None:
                member.audio_muted = bool(d["audio_muted"])
                member.video_muted = bool(d["video_muted"])
                member.hand_raised = bool(d["hand_raised"])
        elif name == "lobby_position" and d.get("participant_id") == self.participant_id:
            self.lobby_position = d.get("position")
            self.organizer_present = d.get("organizer_present")
            self.lobby_timeout_at = parse_time(d.get("timeout_at"))
        elif name == "policy_changed":
            self.info.update(d)
        elif name == "meeting_ended":
            self.info["ended"] = True

    def __repr__(self) -> str:
        return (
            f"<Meeting {self.meeting_id} participant={self.participant_id} "
            f"state={self.state.value}>"
        )
