"""The RTC WebSocket wire format, shared by the server, the Python SDK and the
browser SDK: typed messages, the protocol version, error and close codes."""

from __future__ import annotations

from frontdesk.protocol.codes import CLOSE_CODES, CloseCode, close_code_for
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
    "MAX_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "SERVER_MESSAGES",
    "ClientMessage",
    "CloseCode",
    "close_code_for",
    "decode_client",
    "decode_server",
    "encode",
]
