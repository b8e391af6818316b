"""The meeting chat: send with an idempotent client message id, history in order.

A message counts as sent only when the server acknowledged it, and the
acknowledgement carries the stored message. A send that is in flight when the
connection drops is sent again after the session resumed, with the same client
message id, so the server stores it once and the call resolves once.

When a send fails without an acknowledgement (no answer within the request
timeout, or the session ended first), the message may or may not be stored; the
error carries the ``client_msg_id`` it was sent with, so sending again with that
id is safe::

    try:
        await meeting.chat.send(text)
    except Unavailable as err:
        await meeting.chat.send(text, client_msg_id=err.client_msg_id)
"""

from __future__ import annotations

import bisect
import copy
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from frontdesk.domain.participants import ChatMessage
from frontdesk.errors import FrontdeskError, ProtocolError, ValidationFailed
from frontdesk.protocol.events import chat_from_wire

__all__ = ["Chat"]

MAX_CLIENT_MSG_ID = 64

#: ``(type, fields, retry) -> result``: how the chat sends a request on the session.
Requester = Callable[[str, dict[str, Any], bool], Awaitable[dict[str, Any]]]


class Chat:
    """``meeting.chat``: what was said (``history``) and how to say something."""

    def __init__(self, request: Requester) -> None:
        self._request = request
        self._by_seq: dict[int, ChatMessage] = {}
        self._seqs: list[int] = []

    @property
    def history(self) -> list[ChatMessage]:
        """Every message known so far, in sequence order, each once."""
        return [self._by_seq[s] for s in self._seqs]

    def __len__(self) -> int:
        return len(self._seqs)

    async def send(self, text: str, *, client_msg_id: str | None = None) -> ChatMessage:
        """Send ``text``; returns the stored message once the server acknowledged it.

        ``client_msg_id`` (1..64 characters; a random one when omitted) makes the
        send idempotent: the server stores one message per participant and id, and
        answers a repeated id with the message stored the first time. After a drop
        the SDK re-sends an unacknowledged message itself, with the same id.

        Every :class:`~frontdesk.errors.FrontdeskError` this raises carries the id
        it used as ``err.client_msg_id``. When the outcome is unknown (an
        ``Unavailable`` because no answer came within the request timeout), retry
        on the same meeting with ``chat.send(text, client_msg_id=err.client_msg_id)``:
        the message is stored at most once. The id is per participant, so it
        de-duplicates only within this session (including its resumes), not across
        a new join after the session ended.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed("a chat message needs some text")
        cmid = client_msg_id or uuid.uuid4().hex
        if not 0 < len(cmid) <= MAX_CLIENT_MSG_ID:
            raise ValidationFailed(f"client_msg_id must be 1..{MAX_CLIENT_MSG_ID} characters")
        try:
            result = await self._request("chat", {"id": cmid, "text": text}, True)
        except FrontdeskError as err:
            tagged = _with_client_msg_id(err, cmid)
            if tagged is err:
                raise
            raise tagged from None
        raw = result.get("message")
        if not isinstance(raw, Mapping):
            raise ProtocolError("the chat acknowledgement carries no message")
        message = chat_from_wire(raw)
        self._add(message)
        return message

    async def load_older(self, limit: int = 50) -> list[ChatMessage]:
        """Fetch up to ``limit`` messages older than the oldest known one; returns them
        (oldest first) after adding them to ``history``."""
        if not 1 <= limit <= 200:
            raise ValidationFailed("limit must be between 1 and 200")
        before = self._seqs[0] if self._seqs else 2**53
        result = await self._request("history", {"before_seq": before, "limit": limit}, True)
        raw = result.get("messages")
        if not isinstance(raw, list):
            raise ProtocolError("the history answer carries no message list")
        messages = sorted((chat_from_wire(m) for m in raw), key=lambda m: m.seq)
        self._merge(messages)
        return messages

    # --- fed by the meeting ------------------------------------------------------
    def _add(self, message: ChatMessage) -> bool:
        """Insert a message in seq order; ``False`` if it was known already."""
        if message.seq in self._by_seq:
            return False
        self._by_seq[message.seq] = message
        bisect.insort(self._seqs, message.seq)
        return True

    def _merge(self, messages: Iterable[ChatMessage]) -> None:
        for message in messages:
            self._add(message)


def _with_client_msg_id(err: FrontdeskError, client_msg_id: str) -> FrontdeskError:
    """A copy of ``err`` (same class, detail and fields) carrying ``client_msg_id``.
    A copy, because the session fails every pending request with one shared error
    when it ends, and each send has its own id."""
    try:
        tagged = copy.copy(err)
    except Exception:  # an error class that cannot be rebuilt: tag the original
        tagged = err
    tagged.client_msg_id = client_msg_id  # type: ignore[attr-defined]
    return tagged
