"""The one codec of meeting events, snapshots and chat messages.

The domain's typed values (:mod:`frontdesk.domain.events`,
:mod:`frontdesk.domain.snapshot`) become JSON here, and only here, in two forms:

- **wire**: what clients receive (``event`` frames, snapshots, ``history``
  answers) and what webhooks carry. A participant is its
  :class:`~frontdesk.domain.participants.ParticipantView`: no login name.
- **record**: what the store keeps. The wire form plus the recipients
  (``"to"``) and an agent's login name inside the participant (the meeting core
  needs it to restore who is the organizer). Records written by every earlier
  version decode (the golden files in ``tests/protocol`` hold them).

Datetimes are ISO 8601 strings, enums their values. The field tables
(:data:`EVENT_SCHEMAS`) are derived from the classes, so the schema that the
browser SDK is generated from cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from frontdesk.domain.events import PAYLOAD_TYPES, Event, EventPayload, EventType
from frontdesk.domain.participants import ChatMessage, LobbyEntry, ParticipantView
from frontdesk.domain.snapshot import MeetingView, Snapshot
from frontdesk.errors import ProtocolError
from frontdesk.protocol.messages import encode

__all__ = [
    "EVENT_SCHEMAS",
    "REDACTABLE",
    "VALUE_SCHEMAS",
    "chat_from_wire",
    "chat_size",
    "chat_to_wire",
    "event_frame",
    "event_from_record",
    "event_to_record",
    "format_time",
    "parse_time",
    "payload_from_wire",
    "payload_to_wire",
    "redact_record",
    "snapshot_from_wire",
    "snapshot_to_wire",
]

_T = TypeVar("_T")

#: Payload fields kept in the store only, never sent (and where they are stored).
_RECORD_ONLY = frozenset({"username", "guest_app", "identity"})
#: Fields said only when true (older peers never saw them; messages stay small).
_ONLY_WHEN_TRUE = frozenset({"redacted", "screen_sharing"})
#: Fields said only when they hold something (``None``, empty): added for
#: supervisors and helpdesk visits, so every frame and record without one
#: stays as it always was.
_OMITTED_WHEN_EMPTY = frozenset({"supervisor", "whispers", "visit_id"})

#: The stored events whose content the chat retention policy deletes, and the
#: fields that hold it: the record keeps everything else (who, when, to whom)
#: and says ``"redacted": true``. A new kind of event that carries what someone
#: wrote (a whisper) adds itself here.
REDACTABLE: dict[str, tuple[str, ...]] = {
    EventType.CHAT_MESSAGE.value: ("text",),
    EventType.WHISPER.value: ("text",),
}


def format_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    return datetime.fromisoformat(value)


# --- generic dataclass <-> JSON ------------------------------------------------------------
#: A dataclass -> the names of its fields that go on the wire (in order).
_WIRE_FIELDS: dict[type[Any], tuple[str, ...]] = {}
_PLAIN = frozenset({str, int, bool, float, type(None)})


def _wire_dict(value: Any, names: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for name in names:
        field = getattr(value, name)
        if field is False and name in _ONLY_WHEN_TRUE:
            continue  # a flag that is on the wire only when set (golden files unchanged)
        if name in _OMITTED_WHEN_EMPTY and (field is None or field == ()):
            continue  # supervisors' fields: absent for everyone else
        out[name] = _to_json(field)
    return out


def _to_json(value: Any) -> Any:
    cls = type(value)
    if cls in _PLAIN:  # most values: nothing to convert
        return value
    names = _WIRE_FIELDS.get(cls)
    if names is not None:
        return _wire_dict(value, names)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = tuple(f.name for f in dataclasses.fields(value) if f.name not in _RECORD_ONLY)
        _WIRE_FIELDS[cls] = names
        return _wire_dict(value, names)
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return value


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    return hints


def _from_json(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _from_json(inner, value)
    if origin is tuple:
        (inner, _ellipsis) = get_args(tp)
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(_from_json(inner, v) for v in value)
    if isinstance(tp, type):
        if issubclass(tp, Enum):
            return tp(value)
        if tp is datetime:
            parsed = parse_time(value)
            if parsed is None:
                raise TypeError("a time is required")
            return parsed
        if dataclasses.is_dataclass(tp):
            return _dataclass_from_json(tp, value)
        if tp is bool:
            if not isinstance(value, bool):
                raise TypeError(f"expected a boolean, got {value!r}")
            return value
        if tp is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"expected an integer, got {value!r}")
            return value
        if tp is str:
            if not isinstance(value, str):
                raise TypeError(f"expected a string, got {type(value).__name__}")
            return value
    raise TypeError(f"cannot decode {tp!r}")  # pragma: no cover - a new field type


def _dataclass_from_json(cls: type[Any], value: Any, **extra: Any) -> Any:
    if not isinstance(value, Mapping):
        raise TypeError(f"{cls.__name__}: expected an object")
    hints = _hints(cls)
    kwargs: dict[str, Any] = dict(extra)
    for f in dataclasses.fields(cls):
        if f.name in kwargs:
            continue
        if f.name in value:
            kwargs[f.name] = _from_json(hints[f.name], value[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise KeyError(f"{cls.__name__}: field {f.name!r} is missing")
    return cls(**kwargs)


def _schema_type(tp: Any) -> str:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _schema_type(inner[0]) + "?"
    if origin is tuple or origin is list:
        return "list"
    if isinstance(tp, type):
        if tp is bool:
            return "bool"
        if tp is int:
            return "int"
        if issubclass(tp, str) or tp is datetime:  # StrEnum values and ISO times
            return "str"
        if dataclasses.is_dataclass(tp):
            return "object"
    raise TypeError(f"no schema type for {tp!r}")  # pragma: no cover


def _schema(cls: type[Any]) -> dict[str, str]:
    hints = _hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in _RECORD_ONLY:
            continue
        kind = _schema_type(hints[f.name])
        if f.name in _OMITTED_WHEN_EMPTY and not kind.endswith("?"):
            kind += "?"
        out[f.name] = kind
    return out


#: Event name -> {field: "type[?]"} of its wire ``data`` (as CLIENT_MESSAGES).
EVENT_SCHEMAS: dict[str, dict[str, str]] = {
    str(name): _schema(cls) for name, cls in PAYLOAD_TYPES.items()
}
#: The shapes inside events and snapshots, by name.
VALUE_SCHEMAS: dict[str, dict[str, str]] = {
    "participant": _schema(ParticipantView),
    "lobby_entry": _schema(LobbyEntry),
    "chat_message": _schema(ChatMessage),
    "meeting": _schema(MeetingView),
    "snapshot": _schema(Snapshot),
}


# --- events ---------------------------------------------------------------------------
def payload_to_wire(payload: EventPayload) -> dict[str, Any]:
    """An event's ``data`` as clients and webhooks see it."""
    data: dict[str, Any] = _to_json(payload)
    return data


def payload_from_wire(name: str, data: Mapping[str, Any]) -> EventPayload | None:
    """The typed payload of a wire event; ``None`` for a name this version does
    not know (newer servers add events). Malformed data is a ``ProtocolError``."""
    try:
        cls = PAYLOAD_TYPES[EventType(name)]
    except ValueError:
        return None
    payload: EventPayload = _decode(cls, data, f"{name} event")
    return payload


def event_frame(event: Event) -> str:
    """The wire frame of an event: ``event`` for sequenced ones, ``typing`` for
    the ephemeral typing signal."""
    data = payload_to_wire(event.payload)
    if event.seq is None:
        return encode(str(event.type), **data)
    return encode("event", seq=event.seq, name=str(event.type), at=event.at.isoformat(), data=data)


def event_to_record(event: Event) -> dict[str, Any]:
    """The stored ``data`` of a sequenced event: the wire data, the recipients,
    and inside the participant an agent's login name and, for a token guest,
    the application that vouched (said only when known)."""
    data = payload_to_wire(event.payload)
    username = getattr(event.payload, "username", None)
    if "participant" in data:
        data["participant"]["username"] = username
        guest_app = getattr(event.payload, "guest_app", None)
        if guest_app is not None:
            data["participant"]["guest_app"] = guest_app
        identity = getattr(event.payload, "identity", None)
        if identity is not None:  # who the session is across sessions (a rejoin replaces it)
            data["participant"]["identity"] = identity
    data["to"] = sorted(event.to)
    return data


def event_from_record(seq: int, type: str, at: datetime, data: Mapping[str, Any]) -> Event:
    """Rebuild a stored event (of this version or any earlier one)."""
    body = dict(data)
    to = frozenset(str(x) for x in body.pop("to", ()))
    cls = PAYLOAD_TYPES[EventType(type)]
    extra: dict[str, Any] = {}
    participant = body.get("participant")
    if isinstance(participant, Mapping):
        extra["username"] = participant.get("username")
        if "guest_app" in participant:
            extra["guest_app"] = participant.get("guest_app")
        if "identity" in participant:
            extra["identity"] = participant.get("identity")
    payload: EventPayload = _dataclass_from_json(cls, body, **extra)
    return Event(seq, at, payload, to)


def redact_record(type: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored ``data`` of an event once the retention policy deleted its
    content (:data:`REDACTABLE`); ``None`` when the type holds none or the
    record is redacted already (so redacting twice changes nothing)."""
    fields = REDACTABLE.get(type)
    if fields is None or data.get("redacted") is True:
        return None
    out = dict(data)
    for name in fields:
        if name in out:
            out[name] = ""
    out["redacted"] = True
    return out


# --- values ---------------------------------------------------------------------------
def _decode(cls: type[_T], data: object, what: str) -> _T:
    """One wire value as its typed class; anything malformed is a ``ProtocolError``."""
    try:
        value: _T = _dataclass_from_json(cls, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed {what}: {exc}") from None
    return value


def chat_to_wire(message: ChatMessage) -> dict[str, Any]:
    data: dict[str, Any] = _to_json(message)
    return data


def chat_from_wire(data: Mapping[str, Any]) -> ChatMessage:
    """A chat message as sent in snapshots, ``history`` answers and ``ok``s."""
    return _decode(ChatMessage, data, "chat message")


def chat_size(message: ChatMessage) -> int:
    """Bytes of one message as encoded (non-ASCII escaped), to cap frames."""
    return len(json.dumps(chat_to_wire(message)))


def snapshot_to_wire(snapshot: Snapshot) -> dict[str, Any]:
    data: dict[str, Any] = _to_json(snapshot)
    if not snapshot.chat_truncated:
        del data["chat_truncated"]  # only said when true, as in every version
    return data


def snapshot_from_wire(data: Mapping[str, Any]) -> Snapshot:
    return _decode(Snapshot, data, "snapshot from the server")
