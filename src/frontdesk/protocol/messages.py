"""Messages of protocol version 1: JSON objects with a ``type`` field.

Client → server messages are decoded into frozen dataclasses (the server and the
SDK branch on their class). Server → client messages are plain JSON objects whose
fields are listed in :data:`SERVER_MESSAGES`; :func:`decode_server` checks the
required ones. Both tables are the single source of the wire schema: the browser
SDK is checked against them by a test.

Every client message may carry ``ref`` (a string of at most 64 characters); the
server's ``ok`` or ``error`` answer to it carries the same ``ref``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from frontdesk.domain.text import has_surrogate, json_has_surrogate, maybe_escaped_surrogate, scrub
from frontdesk.errors import LimitExceeded, ProtocolError, UnsupportedVersion

__all__ = [
    "CLIENT_MESSAGES",
    "MAX_FRAME_BYTES",
    "MAX_SERVER_FRAME",
    "PROTOCOL_VERSION",
    "SERVER_MESSAGES",
    "Admit",
    "Auth",
    "Barge",
    "Chat",
    "ClientMessage",
    "Deny",
    "End",
    "Hello",
    "History",
    "Leave",
    "Media",
    "Mute",
    "Ping",
    "Remove",
    "SfuAnswer",
    "SfuLayer",
    "SfuPublish",
    "SfuSubscribe",
    "SfuTrickle",
    "SfuUnsubscribe",
    "Signal",
    "Typing",
    "Whisper",
    "decode_client",
    "decode_server",
    "encode",
]

PROTOCOL_VERSION = 1
#: Cap on one client -> server frame (SDP offers fit with room to spare).
MAX_FRAME_BYTES = 64 * 1024
#: Cap on one server -> client frame, and the SDK's WebSocket ``max_size``: a
#: welcome or state snapshot carries up to 200 chat messages and a ``history``
#: answer up to 200 (4,000 characters each, up to 4 UTF-8 bytes a character, plus
#: the JSON around them), so server frames get far more room than client ones.
MAX_SERVER_FRAME = 4 * 1024 * 1024
MAX_ID = 64
MAX_TOKEN = 8192
MAX_CHAT_FRAME_TEXT = 16_000  # the domain enforces the real chat limit (4,000)

SignalKind = Literal["offer", "answer", "candidate", "renegotiate"]
AuthKind = Literal["token", "url", "session", "resume"]

#: Client message type -> {field: "type[?]"}; "?" marks an optional field.
CLIENT_MESSAGES: dict[str, dict[str, str]] = {
    "hello": {"v": "int", "auth": "object", "client": "str?"},
    "chat": {"id": "str", "text": "str"},
    # a chat message for the agents and supervisors only (never a guest)
    "whisper": {"id": "str", "text": "str"},
    # a monitoring supervisor comes in: the guests see it join from now on
    "barge": {},
    "typing": {"typing": "bool"},
    # ``screen_sharing``: my video is a shared screen now (shown large to the others)
    "media": {
        "audio_muted": "bool?",
        "video_muted": "bool?",
        "hand_raised": "bool?",
        "screen_sharing": "bool?",
    },
    "admit": {"participant_id": "str"},
    "deny": {"participant_id": "str"},
    "mute": {"participant_id": "str"},
    "remove": {"participant_id": "str"},
    "end": {},
    "leave": {},
    "signal": {"to": "str", "kind": "str", "data": "object"},
    "history": {"before_seq": "int", "limit": "int?"},
    "ping": {},
    # Media through the SFU (the node drives Janus; clients speak only these):
    # my offer for my own media going up, answered by ok {sdp} (the answer)
    "sfu_publish": {"sdp": "str"},
    # receive a feed (a publishing participant's id), answered by ok {sdp} (an offer)
    "sfu_subscribe": {"feed": "str"},
    # my answer to the offer of a feed I subscribed to
    "sfu_answer": {"feed": "str", "sdp": "str"},
    # one of my ICE candidates ({candidate, sdpMid, sdpMLineIndex}; none: the last
    # was sent) for my publishing leg (no feed) or a feed's leg
    "sfu_trickle": {"feed": "str?", "candidate": "object?"},
    "sfu_unsubscribe": {"feed": "str"},
    # which simulcast layer of a feed to receive: 0 (small, thumbnails) to 2 (large)
    "sfu_layer": {"feed": "str", "substream": "int"},
}

#: Server message type -> {field: "type[?]"}.
SERVER_MESSAGES: dict[str, dict[str, str]] = {
    # answer to hello: who I am, how to resume, and the state of the meeting
    "welcome": {
        "v": "int",
        "participant_id": "str",
        "resume_token": "str",
        "state": "str",
        "snapshot": "object",
        "heartbeat_s": "number",
        "resumed": "bool",
        "ice_servers": "list?",
    },
    # my session state changed (lobby -> joined on admission): a fresh snapshot
    "state": {"state": "str", "snapshot": "object"},
    # a sequenced meeting event (participant_joined, chat_message, ...)
    "event": {"seq": "int", "name": "str", "at": "str", "data": "object"},
    "typing": {"participant_id": "str", "typing": "bool"},
    "signal": {"from": "str", "kind": "str", "data": "object"},
    "ok": {"ref": "str?", "result": "object?"},
    # ``retry_after``: seconds, on rate limits; ``rtc_url``: where the meeting is
    # hosted, on ``wrong_node`` (a typed redirect: connect there instead)
    "error": {
        "ref": "str?",
        "code": "str",
        "message": "str",
        "retry_after": "number?",
        "rtc_url": "str?",
    },
    # answer to ping; carries a fresh resume token once the current one is half spent
    "pong": {"resume_token": "str?"},
    "ping": {},
    "bye": {"reason": "str", "code": "int"},
    # how media travels now (mesh | sfu) and, on the SFU, the feeds to receive
    # (participant ids of those publishing); sent on joining and as it changes
    "sfu_route": {"route": "str", "feeds": "list"},
    # one of the SFU's ICE candidates for a leg (no feed: my publishing leg)
    "sfu_trickle": {"feed": "str?", "candidate": "object?"},
    # to a helpdesk visitor (not sequenced, sent again as it changes): the visit's
    # state (queued, offered, accepted, ...), the place in the queue while queued
    # ("you are number 3") and about how long it may take, ``null`` when unknown
    "visit_position": {
        "visit_id": "str",
        "state": "str",
        "position": "int?",
        "estimated_wait_s": "int?",
    },
}


@dataclass(frozen=True, slots=True)
class Auth:
    kind: AuthKind
    token: str | None = None  # guest token, session token or resume token
    join_url: str | None = None
    display_name: str | None = None
    meeting_id: str | None = None
    last_seq: int = 0
    #: A session join that asks to monitor unseen (granted to supervisors only).
    monitor: bool = False
    #: A random key the guest's browser keeps for its tab (``url`` and ``token``
    #: joins): a reload that sends it again replaces the session it left behind.
    client_key: str | None = None

    def __repr__(self) -> str:  # never print a secret
        return f"Auth(kind={self.kind!r}, meeting_id={self.meeting_id!r})"


@dataclass(frozen=True, slots=True)
class Hello:
    v: int
    auth: Auth
    client: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Chat:
    id: str
    text: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Whisper:
    id: str
    text: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Barge:
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Typing:
    typing: bool
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    audio_muted: bool | None = None
    video_muted: bool | None = None
    hand_raised: bool | None = None
    screen_sharing: bool | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Admit:
    participant_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Deny:
    participant_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Mute:
    participant_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Remove:
    participant_id: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class End:
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Leave:
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    to: str
    kind: SignalKind
    data: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class SfuPublish:
    sdp: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class SfuSubscribe:
    feed: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class SfuAnswer:
    feed: str
    sdp: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class SfuTrickle:
    feed: str | None = None
    #: ``{candidate, sdpMid, sdpMLineIndex}``; ``None``: the client has sent its last.
    candidate: dict[str, Any] | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class SfuUnsubscribe:
    feed: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class SfuLayer:
    feed: str
    substream: int
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    before_seq: int
    limit: int = 50
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: str | None = None


ClientMessage = (
    Hello
    | Chat
    | Whisper
    | Barge
    | Typing
    | Media
    | Admit
    | Deny
    | Mute
    | Remove
    | End
    | Leave
    | Signal
    | History
    | Ping
    | SfuPublish
    | SfuSubscribe
    | SfuAnswer
    | SfuTrickle
    | SfuUnsubscribe
    | SfuLayer
)

_TYPES: dict[str, type[Any]] = {
    "str": str,
    "int": int,
    "bool": bool,
    "object": dict,
    "list": list,
    "number": float,
}


def _check_fields(kind: str, obj: dict[str, Any], spec: dict[str, str]) -> None:
    for name, typ in spec.items():
        optional = typ.endswith("?")
        base = typ.rstrip("?")
        if name not in obj or obj[name] is None:
            if optional:
                continue
            raise ProtocolError(f"{kind}: field {name!r} is required")
        value = obj[name]
        if base == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif base == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, _TYPES[base])
        if not ok:
            raise ProtocolError(f"{kind}: field {name!r} must be {base}")


def _str(obj: dict[str, Any], name: str, max_len: int, *, required: bool = True) -> str | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise ProtocolError(f"field {name!r} is required")
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"field {name!r} must be a string")
    if len(value) > max_len:
        raise LimitExceeded(f"field {name!r} is longer than {max_len}")
    if required and not value:
        raise ProtocolError(f"field {name!r} must not be empty")
    return value


def _auth(obj: dict[str, Any]) -> Auth:
    kind = obj.get("kind")
    if kind == "token":
        return Auth(
            kind="token",
            token=_str(obj, "token", MAX_TOKEN),
            client_key=_client_key(obj),
        )
    if kind == "url":
        return Auth(
            kind="url",
            join_url=_str(obj, "join_url", 2048),
            display_name=_str(obj, "display_name", 200),
            client_key=_client_key(obj),
        )
    if kind == "session":
        monitor = obj.get("monitor", False)
        if monitor is None:
            monitor = False
        if not isinstance(monitor, bool):
            raise ProtocolError("auth.monitor must be a boolean")
        return Auth(
            kind="session",
            token=_str(obj, "token", MAX_TOKEN),
            meeting_id=_str(obj, "meeting_id", MAX_ID),
            monitor=monitor,
        )
    if kind == "resume":
        last = obj.get("last_seq", 0)
        if not isinstance(last, int) or isinstance(last, bool) or last < 0:
            raise ProtocolError("last_seq must be a non-negative integer")
        return Auth(kind="resume", token=_str(obj, "token", MAX_TOKEN), last_seq=last)
    raise ProtocolError("auth.kind must be one of token, url, session, resume")


def _client_key(obj: dict[str, Any]) -> str | None:
    """A tab's key (optional): 16..64 characters, so it cannot be guessed."""
    key = _str(obj, "client_key", MAX_ID, required=False)
    if key is not None and len(key) < 16:
        raise ProtocolError("auth.client_key must be 16..64 characters")
    return key


def _load(raw: str | bytes, limit: int) -> dict[str, Any]:
    if len(raw) > limit:
        raise LimitExceeded(f"message larger than {limit} bytes")
    if isinstance(raw, bytes):
        # json.loads(bytes) would let CESU-8 surrogates through ('surrogatepass').
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("message is not valid UTF-8") from None
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProtocolError("message is not valid JSON") from None
    if not isinstance(obj, dict):
        raise ProtocolError("message must be a JSON object")
    if maybe_escaped_surrogate(raw) and json_has_surrogate(obj):
        raise ProtocolError("message holds a lone surrogate: text must be valid Unicode")
    return obj


def decode_client(raw: str | bytes) -> ClientMessage:
    """Parse and validate one client frame. Raises only ``ProtocolError`` or
    ``LimitExceeded`` (above :data:`MAX_FRAME_BYTES`; and ``UnsupportedVersion`` for
    a hello of another version)."""
    obj = _load(raw, MAX_FRAME_BYTES)
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_MESSAGES:
        raise ProtocolError(f"unknown message type {kind!r}"[:120])
    _check_fields(kind, obj, CLIENT_MESSAGES[kind])
    ref = _str(obj, "ref", MAX_ID, required=False)
    if kind == "hello":
        if obj["v"] != PROTOCOL_VERSION:
            raise UnsupportedVersion(f"this server speaks protocol version {PROTOCOL_VERSION}")
        client = _str(obj, "client", 100, required=False)
        return Hello(v=obj["v"], auth=_auth(obj["auth"]), client=client, ref=ref)
    if kind in ("chat", "whisper"):
        cls = Chat if kind == "chat" else Whisper
        return cls(
            id=_str(obj, "id", MAX_ID) or "",
            text=_str(obj, "text", MAX_CHAT_FRAME_TEXT, required=False) or "",
            ref=ref,
        )
    if kind == "barge":
        return Barge(ref=ref)
    if kind == "typing":
        return Typing(typing=obj["typing"], ref=ref)
    if kind == "media":
        return Media(
            audio_muted=obj.get("audio_muted"),
            video_muted=obj.get("video_muted"),
            hand_raised=obj.get("hand_raised"),
            screen_sharing=obj.get("screen_sharing"),
            ref=ref,
        )
    if kind in ("admit", "deny", "mute", "remove"):
        pid = _str(obj, "participant_id", MAX_ID) or ""
        if kind == "admit":
            return Admit(participant_id=pid, ref=ref)
        if kind == "deny":
            return Deny(participant_id=pid, ref=ref)
        if kind == "mute":
            return Mute(participant_id=pid, ref=ref)
        return Remove(participant_id=pid, ref=ref)
    if kind == "end":
        return End(ref=ref)
    if kind == "leave":
        return Leave(ref=ref)
    if kind == "signal":
        sk = obj["kind"]
        if sk not in ("offer", "answer", "candidate", "renegotiate"):
            raise ProtocolError("signal.kind must be offer, answer, candidate or renegotiate")
        return Signal(to=_str(obj, "to", MAX_ID) or "", kind=sk, data=obj["data"], ref=ref)
    if kind.startswith("sfu_"):
        return _sfu(kind, obj, ref)
    if kind == "history":
        limit = obj.get("limit")
        if limit is None:  # an optional field may be absent or null
            limit = 50
        if obj["before_seq"] < 0 or not 1 <= limit <= 200:
            raise ProtocolError("history: before_seq >= 0 and 1 <= limit <= 200")
        return History(before_seq=obj["before_seq"], limit=limit, ref=ref)
    return Ping(ref=ref)


#: An SDP of the SFU path (a simulcast offer with audio and video fits easily).
MAX_SDP = 32 * 1024
MAX_CANDIDATE = 1024


def _sfu(kind: str, obj: dict[str, Any], ref: str | None) -> ClientMessage:
    if kind == "sfu_publish":
        return SfuPublish(sdp=_str(obj, "sdp", MAX_SDP) or "", ref=ref)
    if kind == "sfu_trickle":
        return SfuTrickle(
            feed=_str(obj, "feed", MAX_ID, required=False) or None,
            candidate=_candidate(obj.get("candidate")),
            ref=ref,
        )
    feed = _str(obj, "feed", MAX_ID) or ""
    if kind == "sfu_subscribe":
        return SfuSubscribe(feed=feed, ref=ref)
    if kind == "sfu_unsubscribe":
        return SfuUnsubscribe(feed=feed, ref=ref)
    if kind == "sfu_layer":
        if not 0 <= obj["substream"] <= 2:
            raise ProtocolError("sfu_layer.substream is 0, 1 or 2")
        return SfuLayer(feed=feed, substream=obj["substream"], ref=ref)
    return SfuAnswer(feed=feed, sdp=_str(obj, "sdp", MAX_SDP) or "", ref=ref)


def _candidate(value: Any) -> dict[str, Any] | None:
    """A trickled candidate, reduced to the three fields Janus takes; ``None`` (or
    an empty candidate string) marks the end of candidates."""
    if value is None:
        return None
    text = _str(value, "candidate", MAX_CANDIDATE, required=False)
    if not text:
        return None
    mid = _str(value, "sdpMid", MAX_ID, required=False)
    index = value.get("sdpMLineIndex")
    if index is not None and (
        not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64
    ):
        raise ProtocolError("sdpMLineIndex must be an integer from 0 to 63")
    if mid is None and index is None:
        raise ProtocolError("an ICE candidate needs sdpMid or sdpMLineIndex")
    out: dict[str, Any] = {"candidate": text}
    if mid is not None:
        out["sdpMid"] = mid
    if index is not None:
        out["sdpMLineIndex"] = index
    return out


def decode_server(raw: str | bytes) -> dict[str, Any]:
    """Parse one server frame (used by the SDK); checks the fields of known types
    and passes unknown types through so newer servers do not break old clients.
    Frames up to :data:`MAX_SERVER_FRAME` are accepted (snapshots and history
    answers are far larger than any client frame); larger ones raise
    ``LimitExceeded``."""
    obj = _load(raw, MAX_SERVER_FRAME)
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("server message without type")
    spec = SERVER_MESSAGES.get(kind)
    if spec is not None:
        _check_fields(kind, obj, spec)
    return obj


def encode(type_: str, **fields: Any) -> str:
    """One server or client frame as compact JSON (``None`` fields are dropped)."""
    body = {"type": type_}
    body.update({k: v for k, v in fields.items() if v is not None})
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    # Nothing the edges accept holds a surrogate; a value that slipped in anyway
    # (an old store) is repaired here rather than breaking the socket it is sent on.
    return scrub(text) if has_surrogate(text) else text
