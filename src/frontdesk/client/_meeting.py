"""The :class:`Meeting` object: one participant's live view of a meeting and the
calls it may make (chat, typing, media, moderation, signalling, leave)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from datetime import datetime
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Literal

from frontdesk.client._chat import Chat
from frontdesk.client._errors import session_ended
from frontdesk.client._events import (
    EVENT_NAMES,
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
from frontdesk.domain import events as ev
from frontdesk.domain.events import ChatPosted
from frontdesk.domain.participants import (
    ChatMessage,
    JoinMethod,
    LobbyEntry,
    Participant,
    SessionState,
    SupervisorMode,
)
from frontdesk.errors import (
    FrontdeskError,
    IllegalState,
    PermissionDenied,
    Unavailable,
    ValidationFailed,
)
from frontdesk.protocol.events import chat_from_wire, payload_to_wire, snapshot_from_wire

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


#: ``rtc_url() -> str``: where the meeting is hosted ("home"). Called to open the
#: meeting and again whenever the node the session was on cannot be reached.
RtcUrl = Callable[[], Awaitable[str]]


class Meeting:
    """One participant session. Open it with ``async with`` (or :meth:`connect`);
    leaving the block leaves the meeting.

    ``rtc_url`` finds the node hosting the meeting; the session follows the
    cluster's ``wrong_node`` redirects from there and calls it again when the
    node it was on is gone."""

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
        #: For a helpdesk visit: ``{"visit_id", "state", "position",
        #: "estimated_wait_s"}`` as last sent ("you are number 3, about 2
        #: minutes"; the estimate is ``None`` when it cannot be known).
        self.visit_position: dict[str, Any] | None = None
        #: How media travels in the meeting, as the node last said: "mesh" or
        #: "sfu"; on the SFU, ``sfu_feeds`` are the participants publishing.
        self.media_route = "mesh"
        self.sfu_feeds: list[str] = []
        self.organizer_present: bool | None = None
        self.lobby_timeout_at: datetime | None = None
        self._roster: dict[str, Participant] = {}
        self._lobby: dict[str, LobbyEntry] = {}
        self._whispers: dict[int, ChatMessage] = {}
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
            resolve=self._resolve_url,
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
    def rtc_url(self) -> str | None:
        """The RTC URL of the node the session is on (or was on last)."""
        return self._session.rtc_url if self._session is not None else None

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
        screen_sharing: bool | None = None,
    ) -> None:
        fields = {
            "audio_muted": audio_muted,
            "video_muted": video_muted,
            "hand_raised": hand_raised,
            "screen_sharing": screen_sharing,
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

    # --- supervisors (agents and supervisors only) -------------------------------------
    @property
    def whispers(self) -> list[ChatMessage]:
        """Whispers among the agents and supervisors, in order (a guest has none)."""
        return [self._whispers[s] for s in sorted(self._whispers)]

    @property
    def monitoring(self) -> bool:
        """This session is a supervisor watching unseen by the guests."""
        return self.me is not None and self.me.supervisor is SupervisorMode.MONITOR

    async def whisper(self, text: str) -> ChatMessage:
        """Send a chat message only the agents and supervisors receive. A guest's
        session raises ``PermissionDenied`` without asking the server."""
        if self.me is not None and self.me.method is not JoinMethod.USER:
            raise PermissionDenied("whispers are for agents and supervisors")
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("a whisper needs some text")
        result = await self._request("whisper", {"id": uuid.uuid4().hex, "text": text}, True)
        message = chat_from_wire(result["message"])
        self._whispers[message.seq] = message
        return message

    async def barge(self) -> None:
        """A monitoring supervisor comes in: the guests see it join from now on.
        Anyone else (a guest included) gets ``IllegalState`` without asking."""
        if not self.monitoring:
            raise IllegalState("only a monitoring supervisor barges in")
        await self._request("barge", {})

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
        if event.payload is None and event.name in EVENT_NAMES:
            self._log.warning("malformed %s event #%s from the server", event.name, event.seq)
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
        elif kind == "sfu_route":
            self.media_route = str(msg["route"])
            self.sfu_feeds = [str(f) for f in msg["feeds"]]
            data = {"route": self.media_route, "feeds": list(self.sfu_feeds)}
            self._emitter.emit(MeetingEvent("sfu_route", data))
            self._changed.set()
        elif kind == "sfu_trickle":
            data = {"feed": msg.get("feed"), "candidate": msg.get("candidate")}
            self._emitter.emit(MeetingEvent("sfu_trickle", data))
        elif kind == "visit_position":
            self.visit_position = {
                "visit_id": msg["visit_id"],
                "state": msg["state"],
                "position": msg.get("position"),
                "estimated_wait_s": msg.get("estimated_wait_s"),
            }
            self._emitter.emit(MeetingEvent("visit_position", dict(self.visit_position)))
            self._changed.set()
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
            data.update(resumed=True)
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

    def _apply_snapshot(self, raw: Mapping[str, Any]) -> None:
        snapshot = snapshot_from_wire(raw)  # ProtocolError when malformed
        self.info = dict(raw.get("meeting") or {})
        self.meeting_id = snapshot.meeting.id
        self.me = Participant.from_view(snapshot.me)
        self._roster = {p.id: Participant.from_view(p) for p in snapshot.roster}
        self._lobby = {e.participant_id: e for e in snapshot.lobby}
        self.chat._merge(snapshot.chat)
        self._whispers.update((w.seq, w) for w in snapshot.whispers)
        self.lobby_position = snapshot.lobby_position
        self.organizer_present = snapshot.organizer_present
        self.lobby_timeout_at = snapshot.timeout_at
        self._log.extra = {"meeting_id": self.meeting_id, "participant_id": self.participant_id}

    def _fold(self, event: MeetingEvent) -> None:
        """Keep roster, lobby, chat and meeting info current with one event."""
        match event.payload:
            case ChatPosted():
                message = event.message
                if message is not None:
                    self.chat._add(message)
            case ev.ParticipantJoined(participant=view):
                self._roster[view.id] = Participant.from_view(view)
                self._lobby.pop(view.id, None)
            case ev.ParticipantWaiting(participant=view):
                self._lobby[view.id] = LobbyEntry(
                    view.id,
                    view.display_name,
                    view.role,
                    view.method,
                    view.vouched,
                    view.state,
                    view.lobby_since,
                    None,
                    view.visit_id,
                )
            case (
                ev.ParticipantAdmitted(participant_id=pid)
                | ev.ParticipantDenied(participant_id=pid)
            ):
                self._lobby.pop(pid, None)
            case ev.ParticipantLeft(participant_id=pid):
                self._roster.pop(pid, None)
                self._lobby.pop(pid, None)
            case ev.ParticipantReconnecting(participant_id=pid):
                if (member := self._roster.get(pid)) is not None:
                    member.state = SessionState.RECONNECTING
            case ev.ParticipantReconnected(participant_id=pid):
                if (member := self._roster.get(pid)) is not None:
                    member.state = SessionState.JOINED
            case ev.MediaChanged() as media:
                if (member := self._roster.get(media.participant_id)) is not None:
                    member.audio_muted = media.audio_muted
                    member.video_muted = media.video_muted
                    member.hand_raised = media.hand_raised
                    member.screen_sharing = media.screen_sharing
            case ev.LobbyPosition() as pos if pos.participant_id == self.participant_id:
                self.lobby_position = pos.position
                self.organizer_present = pos.organizer_present
                self.lobby_timeout_at = pos.timeout_at
            case ev.PolicyChanged() as policy:
                self.info.update(payload_to_wire(policy))
            case ev.MeetingEnded():
                self.info["ended"] = True
            case ev.WhisperPosted() as whisper if event.seq is not None and event.at is not None:
                self._whispers[event.seq] = whisper.message(event.seq, event.at)
            case ev.SupervisorBarged(participant_id=pid):
                for member in (self._roster.get(pid), self.me):
                    if member is not None and member.id == pid:
                        member.supervisor = SupervisorMode.BARGED
            case _:
                pass

    def __repr__(self) -> str:
        return (
            f"<Meeting {self.meeting_id} participant={self.participant_id} "
            f"state={self.state.value}>"
        )
