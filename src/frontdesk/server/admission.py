"""Letting a new session into a live meeting: one order for every credential.

1. **Verify** the credential (guest token, join code, user session). Nothing
   about a meeting is read before a token's signature checks out, and every
   token that does not verify gets the same answer (``token_invalid``), so a
   forged token learns nothing about the meeting it names.
2. **Load** the meeting's live room.
3. **Check** what the credential binds: the web origin a token was minted for,
   a single-use token not spent yet.
4. **Join** through the meeting core (which decides role, lobby and limits),
   and **consume** a single-use token in the transaction that stores the
   join: it is spent only by a join that succeeded, and a join that lost the
   race to spend it (another node, at the same moment) is undone.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from frontdesk.domain import commands as cmd
from frontdesk.domain.model import Meeting, Role
from frontdesk.domain.participants import JoinMethod
from frontdesk.errors import OriginRefused, TokenInvalid, TokenUsed
from frontdesk.protocol import messages as m
from frontdesk.protocol import urls
from frontdesk.server.live import LiveMeetings, LiveRoom
from frontdesk.server.operations import Operations
from frontdesk.server.ratelimit import RateLimiter
from frontdesk.tokens import (
    MEETING_AUDIENCE_PREFIX,
    GuestClaims,
    unverified_claims,
    verify_resume_token,
)

__all__ = ["GuestAdmission", "meeting_of_token"]

#: The one answer to a token that does not verify, whatever is wrong with it.
BAD_TOKEN = "the token is not valid"


def meeting_of_token(token: str) -> str:
    """The meeting a token names (its audience), read *before* verification:
    only to know which meeting's verification rules apply."""
    try:
        claims = unverified_claims(token)
    except TokenInvalid:
        raise TokenInvalid(BAD_TOKEN) from None
    aud = claims.get("aud")
    if isinstance(aud, list):
        aud = aud[0] if aud else None
    if not isinstance(aud, str) or not aud.startswith(MEETING_AUDIENCE_PREFIX):
        raise TokenInvalid(BAD_TOKEN)
    return aud[len(MEETING_AUDIENCE_PREFIX) :]


@dataclass(frozen=True, slots=True)
class Admitted:
    room: LiveRoom
    participant_id: str


class GuestAdmission:
    def __init__(self, ops: Operations, live: LiveMeetings) -> None:
        self.ops = ops
        self.live = live
        settings = ops.settings
        per_address = settings.url_joins_per_address_per_min
        per_meeting = settings.url_joins_per_meeting_per_min
        self._url_per_address = RateLimiter(per_address, burst=max(1, per_address // 2))
        self._url_per_meeting = RateLimiter(per_meeting, burst=max(1, per_meeting // 2))

    async def admit(
        self,
        auth: m.Auth,
        *,
        origin: str | None,
        address: str | None,
        on_joined: Callable[[LiveRoom, str], None],
    ) -> Admitted:
        """Join a new session with ``auth`` (not a resume). ``on_joined`` runs
        under the room's lock right after the join (attach and welcome there, so
        no event of the room can slip in between). Joins with the URL alone (no
        one vouched for them) are limited per remote ``address`` and per meeting
        (``rate_limited`` with ``retry_after``); token holders and agents are
        vouched for and limited where their credentials are issued."""
        ops = self.ops
        pid = "p_" + secrets.token_urlsafe(9)
        single_use: GuestClaims | None = None
        app_id: str | None = None
        if auth.kind == "token":
            assert auth.token is not None
            claims, meeting = await self._verified(auth.token)
            lr = await self.live.room(meeting.id)
            if claims.origins and origin is not None and origin.rstrip("/") not in claims.origins:
                raise OriginRefused(
                    f"this token may not be used from web origin {origin!r}: the back end "
                    "that minted it allowed only the origins in its `origins`"
                )
            await ops.audience.note_guest_app(meeting, claims.app_id)
            # One person per token: a reload (or another tab) with it replaces the seat.
            join = cmd.Join(
                pid,
                claims.display_name,
                claims.role,
                JoinMethod.TOKEN,
                guest_app=claims.app_id,
                visit_id=claims.visit_id,
                identity=f"token:{claims.subject}",
            )
            single_use = claims if claims.single_use else None
            app_id = claims.app_id
        elif auth.kind == "url":
            assert auth.join_url is not None and auth.display_name is not None
            if address is not None:
                self._url_per_address.check(address)
            meeting = await ops.meetings.for_join_code(urls.join_code(auth.join_url))
            self._url_per_meeting.check(meeting.id)
            lr = await self.live.room(meeting.id)
            # Nobody vouched for this guest: only its own tab's key says it is the same person.
            identity = f"tab:{auth.client_key}" if auth.client_key else None
            join = cmd.Join(pid, auth.display_name, Role.GUEST, JoinMethod.URL, identity=identity)
        elif auth.kind == "session":  # an organizer or agent signed in through the user API
            assert auth.token is not None and auth.meeting_id is not None
            user = await ops.accounts.for_session(auth.token)
            lr = await self.live.room(auth.meeting_id)
            role = Role.ORGANIZER if user.username == lr.room.meeting.organizer else Role.PRESENTER
            # The role is looked up with the session, on every join; the
            # meeting core decides whether it allows monitoring.
            join = cmd.Join(
                pid,
                user.display_name,
                role,
                JoinMethod.USER,
                username=user.username,
                user_role=user.role,
                monitor=auth.monitor,
                identity=f"user:{user.username}",
            )
        else:  # pragma: no cover - the decoder knows only these kinds
            raise TokenInvalid(BAD_TOKEN)
        async with lr.lock:
            await self.live.ensure_current(lr)
            if single_use is None:
                await self.live.run_locked(lr, join)
            else:
                tokens = ops.guest_tokens
                if await tokens.is_used(single_use):
                    raise TokenUsed()
                # The join's events and the spend: one transaction.
                spent = await self.live.run_spending(lr, join, tokens.use_of(single_use))
                tokens.note_spent(single_use)
                if not spent:
                    # Spent on another node at the same moment: undo this join.
                    await self.live.run_locked(lr, cmd.Leave(pid))
                    raise TokenUsed()
            if app_id is not None:
                lr.guest_apps[pid] = app_id
            on_joined(lr, pid)
        return Admitted(lr, pid)

    async def resume(
        self, auth: m.Auth, *, on_resumed: Callable[[LiveRoom, str], Awaitable[None]]
    ) -> Admitted:
        """Take a seat back with a resume token. The token is verified first, must
        not be spent (each is good for one resume: the welcome carries the next),
        and its application must not have been revoked. ``on_resumed`` runs under
        the room's lock (it also tells a seat that is gone why)."""
        ops = self.ops
        assert auth.token is not None
        meeting_id = meeting_of_token(auth.token)
        ring = await ops.keys.ring_for(auth.token)
        try:
            claims = verify_resume_token(
                ring,
                auth.token,
                issuer=ops.issuer,
                meeting_id=meeting_id,
                now=ops.clock(),
                leeway_s=ops.settings.clock_leeway_s,
            )
        except TokenInvalid:
            raise TokenInvalid(BAD_TOKEN) from None
        if claims.app_id is not None:
            await ops.apps.active(claims.app_id, "the application that vouched for this guest")
        lr = await self.live.room(meeting_id)
        pid = claims.participant_id
        async with lr.lock:
            await self.live.ensure_current(lr)
            p = lr.room.participant(pid)
            if p.active and not await ops.guest_tokens.consume_resume(claims):
                raise TokenUsed("this resume token was used already")
            if claims.app_id is not None:
                lr.guest_apps[pid] = claims.app_id
            await on_resumed(lr, pid)
        return Admitted(lr, pid)

    async def _verified(self, token: str) -> tuple[GuestClaims, Meeting]:
        meeting_id = meeting_of_token(token)
        try:
            return await self.ops.guest_tokens.check(token, meeting_id)
        except TokenInvalid:
            raise TokenInvalid(BAD_TOKEN) from None
