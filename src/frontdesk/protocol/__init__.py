"""The RTC WebSocket wire format, shared by the server, the Python SDK and the
browser SDK: typed messages, the codec of meeting events and snapshots, the
protocol version, error and close codes."""

from __future__ import annotations

from frontdesk.protocol.codes import CLOSE_CODES, CloseCode, close_code_for
from frontdesk.protocol.events import EVENT_SCHEMAS, VALUE_SCHEMAS
from frontdesk.protocol.messages import (
    CLIENT_MESSAGES,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    SERVER_MESSAGES,
    ClientMessage,
    decode_client,
    decode_server,
    encode,
)

__all__ = [
    "CLIENT_MESSAGES",
    "CLOSE_CODES",
    "EVENT_SCHEMAS",
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "SERVER_MESSAGES",
    "VALUE_SCHEMAS",
    "ClientMessage",
    "CloseCode",
    "close_code_for",
    "decode_client",
    "decode_server",
    "encode",
]
