"""Guest tokens: minted for a business back end's guest, checked when the guest
discovers and joins, spent once when single-use; and the ICE servers a guest
is handed with its TURN credentials.

The rules are written once here: a guest token's lifetime is capped, an ended
meeting mints none, a revoked application's tokens stop working. The used-token
ids kept for single-use tokens also hold spent resume tokens and signed-out
sessions (:class:`~frontdesk.server.accounts.Accounts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from frontdesk.config import Settings
from frontdesk.domain.model import App, Meeting, Role, guest_token_role
from frontdesk.errors import TokenUsed, ValidationFailed
from frontdesk.server.applications import Applications
from frontdesk.server.keyring import KeyManager
from frontdesk.server.meetings import Meetings
from frontdesk.store.base import Store, TokenUse
from frontdesk.tokens import (
    GuestClaims,
    ResumeClaims,
    ice_servers_with_turn,
    issue_guest_token,
    verify_guest_token,
)

__all__ = ["GuestGrant", "GuestTokens"]

#: How many spent single-use token ids a node remembers itself (the store keeps
#: them all; this spares a join a store read under its room's lock).
_SPENT_MAX = 100_000


@dataclass(frozen=True, slots=True)
class GuestGrant:
    token: str
    discovery_uri: str
    expires_at: datetime
    meeting_id: str
    claims: GuestClaims


class GuestTokens:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        keys: KeyManager,
        meetings: Meetings,
        apps: Applications,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._keys = keys
        self._meetings = meetings
        self._apps = apps
        #: Single-use tokens spent through this node (jti -> expiry), newest last.
        self._spent: dict[str, datetime] = {}

    async def mint(
        self,
        meeting_id: str,
        *,
        display_name: str,
        role: Role = Role.GUEST,
        ttl_s: int | None = None,
        single_use: bool = False,
        origins: Sequence[str] = (),
        app: App | None = None,
        visit_id: str | None = None,
    ) -> GuestGrant:
        meeting = await self._meetings.for_app(meeting_id, app)
        return await self.mint_for(
            meeting,
            display_name=display_name,
            role=role,
            ttl_s=ttl_s,
            single_use=single_use,
            origins=origins,
            app=app,
            visit_id=visit_id,
        )

    async def mint_for(
        self,
        meeting: Meeting,
        *,
        display_name: str,
        role: Role = Role.GUEST,
        ttl_s: int | None = None,
        single_use: bool = False,
        origins: Sequence[str] = (),
        app: App | None = None,
        visit_id: str | None = None,
    ) -> GuestGrant:
        """:meth:`mint` for a meeting in hand, one the application may see (a
        helpdesk visit's, made with its token and stored with the visit)."""
        meeting.ensure_open()
        app_id = app.client_id if app else None
        guest_token_role(role)  # refused before anything is signed
        ttl = ttl_s if ttl_s is not None else self._settings.guest_token_ttl_s
        if ttl <= 0:
            raise ValidationFailed("ttl_s must be positive")
        ttl = min(ttl, self._settings.guest_token_max_ttl_s)
        ring = await self._keys.refresh_if_stale()
        token, claims = issue_guest_token(
            ring,
            issuer=self._settings.base_url,
            meeting_id=meeting.id,
            display_name=display_name,
            role=role,
            ttl_s=ttl,
            single_use=single_use,
            now=self._clock(),
            app_id=app_id,
            origins=[o.rstrip("/") for o in origins],
            visit_id=visit_id,
        )
        return GuestGrant(
            token=token,
            discovery_uri=self._meetings.discovery_uri(meeting.id),
            expires_at=claims.expires_at,
            meeting_id=meeting.id,
            claims=claims,
        )

    async def check(self, token: str, meeting_id: str) -> tuple[GuestClaims, Meeting]:
        """Verify a guest token for ``meeting_id`` (a single-use one must not be spent
        yet; the join spends it with :meth:`consume`)."""
        ring = await self._keys.ring_for(token)
        claims = verify_guest_token(
            ring,
            token,
            issuer=self._settings.base_url,
            meeting_id=meeting_id,
            now=self._clock(),
            leeway_s=self._settings.clock_leeway_s,
        )
        meeting = await self._meetings.recent(claims.meeting_id)
        meeting.ensure_open()
        if claims.app_id is not None:
            await self._apps.active(claims.app_id, "the application that issued this token")
        if claims.single_use and (
            claims.jti in self._spent or await self._store.is_token_used(claims.jti)
        ):
            raise TokenUsed()
        return claims, meeting

    async def meeting_of(self, token: str, meeting_id: str) -> Meeting:
        """The meeting a valid guest token for ``meeting_id`` names, ended or not
        (what its page may show the holder; joining checks far more: :meth:`check`)."""
        ring = await self._keys.ring_for(token)
        claims = verify_guest_token(
            ring,
            token,
            issuer=self._settings.base_url,
            meeting_id=meeting_id,
            now=self._clock(),
            leeway_s=self._settings.clock_leeway_s,
        )
        return await self._meetings.recent(claims.meeting_id)

    async def is_used(self, claims: GuestClaims) -> bool:
        """Whether the token was spent since :meth:`check` read the store: re-checked
        under the room's lock, where a spend through this node is seen (it is
        noted before the join's spend returns, under the same lock). A spend on
        another node at the same moment is what the store answers."""
        return claims.jti in self._spent

    async def consume(self, claims: GuestClaims) -> bool:
        """Spend a single-use token: True the first time, False ever after."""
        spent = await self._store.consume_token(claims.jti, claims.meeting_id, claims.expires_at)
        self.note_spent(claims)
        return spent

    @staticmethod
    def use_of(claims: GuestClaims) -> TokenUse:
        """A single-use token as the store spends it together with the join it
        let in (:meth:`LiveMeetings.run_spending`); then :meth:`note_spent`."""
        return TokenUse(claims.jti, claims.meeting_id, claims.expires_at)

    def note_spent(self, claims: GuestClaims) -> None:
        """Remember here that the token is spent (the store decided)."""
        spent = self._spent
        if len(spent) >= _SPENT_MAX:
            now = self._clock()
            for jti in [j for j, exp in spent.items() if exp <= now]:
                del spent[jti]
            while len(spent) >= _SPENT_MAX // 2:  # all still valid: forget the oldest
                del spent[next(iter(spent))]
        spent[claims.jti] = claims.expires_at

    async def consume_resume(self, claims: ResumeClaims) -> bool:
        """Spend a resume token (each is good for one resume): True the first time."""
        return await self._store.consume_token(claims.jti, claims.meeting_id, claims.expires_at)

    async def forget_expired(self, before: datetime) -> int:
        """Forget used-token ids (guest, resume, session) of tokens expired before
        ``before``: a token that has expired is refused without them."""
        return await self._store.purge_used_tokens(before)

    def ice_servers(self, user: str) -> list[dict[str, object]]:
        return ice_servers_with_turn(
            self._settings.ice_servers,
            secret=self._settings.turn_secret,
            user=user,
            ttl_s=self._settings.turn_ttl_s,
            now=self._clock(),
        )
