"""What a Frontdesk node can be asked to do, independent of transport.

The HTTP routes, the CLI's admin commands and the RTC endpoint all call these
operations, so a rule (a revoked app's tokens stop working, a guest token's
lifetime is capped, an ended meeting mints no tokens) is written once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from frontdesk.config import Settings
from frontdesk.domain.model import (
    UNSET,
    AccessPolicy,
    App,
    LobbyBypass,
    Meeting,
    MeetingState,
    Role,
    Unset,
    User,
    check_display_name,
    new_join_code,
    new_meeting_id,
)
from frontdesk.errors import (
    AppNotFound,
    Conflict,
    InvalidClient,
    InvalidCredentials,
    MeetingNotFound,
    TokenInvalid,
    TokenUsed,
    UserNotFound,
    ValidationFailed,
)
from frontdesk.protocol import urls
from frontdesk.server.credentials import Credentials
from frontdesk.server.keyring import KeyManager, rotate_keys
from frontdesk.store.base import Store, WebhookRecord
from frontdesk.tokens import (
    AccessClaims,
    GuestClaims,
    SessionClaims,
    hash_secret,
    ice_servers_with_turn,
    issue_access_token,
    issue_guest_token,
    issue_session_token,
    new_client_id,
    new_client_secret,
    verify_access_token,
    verify_guest_token,
    verify_session_token,
)

__all__ = ["AppCredentials", "GuestGrant", "Operations", "utcnow"]

log = logging.getLogger(__name__)

# A constant hash to verify against when the client id is unknown, so that the
# answer takes as long as for a wrong secret (no user enumeration by timing).
_DUMMY_HASH = hash_secret("frontdesk-dummy-secret")
# How often a meeting change is re-read and re-applied when another won the race
# (with a short, growing, jittered pause between attempts).
_WRITE_ATTEMPTS = 8


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.005) * (attempt + 1))  # noqa: S311


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AppCredentials:
    client_id: str
    client_secret: str
    name: str


@dataclass(frozen=True, slots=True)
class GuestGrant:
    token: str
    discovery_uri: str
    expires_at: datetime
    meeting_id: str
    claims: GuestClaims


class Operations:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        credentials: Credentials | None = None,
    ) -> None:
        self.settings = settings
        # Argon2 off the event loop, bounded; failed sign-ins throttled.
        self.credentials = credentials or Credentials()
        self.store = store
        self.clock = clock
        self.keys = KeyManager(store, clock, passphrase=settings.key_passphrase)

    async def start(self) -> None:
        await self.keys.load()

    @property
    def issuer(self) -> str:
        return self.settings.base_url

    # --- applications -------------------------------------------------------------
    async def create_app(self, name: str) -> AppCredentials:
        secret = new_client_secret()
        app = App(
            client_id=new_client_id(),
            name=name.strip(),
            secret_hash=await self.credentials.hasher.hash(secret),
            created_at=self.clock(),
        )
        await self.store.create_app(app)
        return AppCredentials(app.client_id, secret, app.name)

    async def authenticate_client(
        self, client_id: str, client_secret: str, *, address: str = "unknown"
    ) -> App:
        creds = self.credentials
        creds.clients.attempt(client_id, address)  # RateLimited when guessing
        try:
            app = await self.store.get_app(client_id)
        except AppNotFound:
            await creds.hasher.verify(_DUMMY_HASH, client_secret)
            raise InvalidClient() from None
        if not app.active or not await self._matches_a_secret(app, client_secret):
            raise InvalidClient()
        creds.clients.succeeded(client_id, address)
        return app

    async def _matches_a_secret(self, app: App, client_secret: str) -> bool:
        for secret_hash in app.secret_hashes(self.clock()):
            if await self.credentials.hasher.verify(secret_hash, client_secret):
                return True
        return False

    async def rotate_app_secret(self, client_id: str, *, overlap_s: int) -> AppCredentials:
        """A routine secret change: a new secret, the old one still accepted for
        ``overlap_s`` (while back ends are redeployed). Live sessions are not
        touched; to end everything after a compromise, revoke the application."""
        app = await self.store.get_app(client_id)
        secret = new_client_secret()
        rotated = app.with_new_secret(
            await self.credentials.hasher.hash(secret), now=self.clock(), overlap_s=overlap_s
        )
        await self.store.update_app_secret(rotated)
        return AppCredentials(app.client_id, secret, app.name)

    async def issue_access_token(self, app: App) -> tuple[str, AccessClaims]:
        ring = await self.keys.refresh_if_stale()
        return issue_access_token(
            ring,
            issuer=self.issuer,
            client_id=app.client_id,
            ttl_s=self.settings.access_token_ttl_s,
            now=self.clock(),
        )

    async def app_for_access_token(self, token: str) -> App:
        ring = await self.keys.ring_for(token)
        claims = verify_access_token(
            ring, token, issuer=self.issuer, now=self.clock(), leeway_s=self.settings.clock_leeway_s
        )
        return await self.active_app(claims.client_id, "the application")

    async def active_app(self, client_id: str, what: str) -> App:
        """The application a token names, refused (``token_invalid``) when it is
        gone or revoked: its tokens stop working with it."""
        try:
            app = await self.store.get_app(client_id)
        except AppNotFound:
            raise TokenInvalid(f"{what} no longer exists") from None
        if not app.active:
            raise TokenInvalid(f"{what} was revoked")
        return app

    # --- users ---------------------------------------------------------------------
    async def create_user(self, username: str, display_name: str, password: str) -> User:
        if len(password) < 8:
            raise ValidationFailed("password must have at least 8 characters")
        user = User(
            username=username.strip(),
            display_name=check_display_name(display_name),
            password_hash=await self.credentials.hasher.hash(password),
            created_at=self.clock(),
        )
        await self.store.create_user(user)
        return user

    async def rename_user(self, username: str, display_name: str) -> User:
        """Give a user a new display name (in its normal form)."""
        user = await self.store.get_user(username)
        renamed = replace(user, display_name=check_display_name(display_name))
        await self.store.update_user(renamed)
        return renamed

    async def login(
        self, username: str, password: str, *, address: str = "unknown"
    ) -> tuple[str, SessionClaims, User]:
        creds = self.credentials
        creds.users.attempt(username, address)  # RateLimited when guessing
        try:
            user = await self.store.get_user(username)
        except (UserNotFound, ValidationFailed):
            await creds.hasher.verify(_DUMMY_HASH, password)
            raise InvalidCredentials() from None
        if user.disabled or not await creds.hasher.verify(user.password_hash, password):
            raise InvalidCredentials()
        creds.users.succeeded(username, address)
        if creds.hasher.needs_rehash(user.password_hash):
            rehashed = await creds.hasher.hash(password)
            await self.store.update_user(replace(user, password_hash=rehashed))
        ring = await self.keys.refresh_if_stale()
        token, claims = issue_session_token(
            ring,
            issuer=self.issuer,
            username=user.username,
            ttl_s=self.settings.session_ttl_s,
            now=self.clock(),
        )
        return token, claims, user

    async def user_for_session(self, token: str) -> User:
        ring = await self.keys.ring_for(token)
        claims = verify_session_token(
            ring, token, issuer=self.issuer, now=self.clock(), leeway_s=self.settings.clock_leeway_s
        )
        if await self.store.is_token_used(claims.jti):
            raise TokenInvalid("signed out")
        try:
            user = await self.store.get_user(claims.username)
        except UserNotFound:
            raise TokenInvalid("the user no longer exists") from None
        if user.disabled:
            raise TokenInvalid("the user is disabled")
        return user

    async def logout(self, token: str) -> None:
        """Revoke a session token: its id joins the used-token ids until it expires."""
        ring = await self.keys.ring_for(token)
        claims = verify_session_token(
            ring, token, issuer=self.issuer, now=self.clock(), leeway_s=self.settings.clock_leeway_s
        )
        await self.store.consume_token(claims.jti, f"session:{claims.username}", claims.expires_at)

    # --- meetings ------------------------------------------------------------------
    async def create_meeting(
        self,
        *,
        subject: str,
        organizer: str,
        start: datetime | None = None,
        end: datetime | None = None,
        access_policy: AccessPolicy = AccessPolicy.LOBBY,
        lobby_bypass: LobbyBypass = LobbyBypass.NONE,
        app_id: str | None = None,
    ) -> Meeting:
        try:
            await self.store.get_user(organizer)
        except UserNotFound:
            raise ValidationFailed(f"organizer {organizer!r} is not a Frontdesk user") from None
        now = self.clock()
        scheduled = start is not None and start > now
        meeting = Meeting(
            id=new_meeting_id(),
            join_code=new_join_code(),
            subject=subject,
            organizer=organizer,
            created_at=now,
            access_policy=access_policy,
            lobby_bypass=lobby_bypass,
            start=start,
            end=end,
            state=MeetingState.SCHEDULED if scheduled else MeetingState.ACTIVE,
            created_by_app=app_id,
        )
        await self.store.create_meeting(meeting)
        return meeting

    async def get_meeting(self, meeting_id: str) -> Meeting:
        return (await self.store.get_meeting(meeting_id)).as_of(self.clock())

    async def meeting_for_app(self, meeting_id: str, app: App | None) -> Meeting:
        """A meeting the application may see: one it made, or one made by no
        application (an agent's, from the console or the CLI). Another
        application's meeting is answered as not found, not as forbidden.
        ``app=None`` is the operator (CLI) or an agent: every meeting."""
        meeting = await self.get_meeting(meeting_id)
        if app is not None and meeting.created_by_app not in (None, app.client_id):
            raise MeetingNotFound(f"no meeting {meeting_id!r}")
        return meeting

    async def list_meetings(
        self,
        *,
        organizer: str | None = None,
        state: MeetingState | None = None,
        visible_to_app: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Meeting]:
        now = self.clock()
        found = await self.store.list_meetings(
            organizer=organizer,
            state=state,
            visible_to_app=visible_to_app,
            now=now,
            limit=limit,
            offset=offset,
        )
        return [m.as_of(now) for m in found]

    async def update_meeting(
        self,
        meeting_id: str,
        *,
        app: App | None = None,
        subject: str | None = None,
        start: datetime | Unset | None = UNSET,
        end: datetime | Unset | None = UNSET,
        access_policy: AccessPolicy | None = None,
        lobby_bypass: LobbyBypass | None = None,
    ) -> Meeting:
        """Change an open meeting: an ended one answers ``meeting_ended``."""
        return await self._write_over_revision(
            meeting_id,
            app,
            lambda meeting: meeting.updated(
                subject=subject,
                start=start,
                end=end,
                access_policy=access_policy,
                lobby_bypass=lobby_bypass,
            ).as_of(self.clock()),
        )

    async def end_meeting(self, meeting_id: str, *, app: App | None = None) -> Meeting:
        """End a meeting (idempotent): its tokens and join URL stop working."""
        try:
            return await self._write_over_revision(
                meeting_id,
                app,
                lambda meeting: meeting if meeting.ended else meeting.ended_copy(self.clock()),
            )
        except Conflict:
            return await self.get_meeting(meeting_id)

    async def _write_over_revision(
        self, meeting_id: str, app: App | None, change: Callable[[Meeting], Meeting]
    ) -> Meeting:
        """Read the meeting, apply ``change`` and write the result over the revision
        it was made from, so a concurrent end or change is never overwritten. The
        loser of a race (``Conflict``, or ``MeetingEnded`` meanwhile) re-reads and
        re-applies: ``change`` then sees the ended meeting. ``change`` returning the
        meeting itself means there is nothing to write."""
        for attempt in range(_WRITE_ATTEMPTS):
            meeting = await self.meeting_for_app(meeting_id, app)
            updated = change(meeting)
            if updated is meeting:
                return meeting
            try:
                await self.store.update_meeting(updated)
            except Conflict:  # MeetingEnded is one too
                await _backoff(attempt)
                continue
            return updated
        raise Conflict(f"meeting {meeting_id} is being changed by others; try again")

    async def meeting_for_join_code(self, join_code: str) -> Meeting:
        if not join_code or len(join_code) > urls.MAX_JOIN_CODE:
            raise MeetingNotFound()
        return await self.store.get_meeting_by_join_code(join_code)

    def join_url(self, meeting: Meeting) -> str:
        return urls.join_url(self.settings.base_url, meeting.join_code)

    def discovery_uri(self, meeting_id: str) -> str:
        return urls.discovery_uri(self.settings.base_url, meeting_id)

    def rtc_url(self) -> str:
        return urls.rtc_url(self.settings.base_url)

    # --- guest tokens ------------------------------------------------------------------
    async def mint_guest_token(
        self,
        meeting_id: str,
        *,
        display_name: str,
        role: Role = Role.GUEST,
        ttl_s: int | None = None,
        single_use: bool = False,
        origins: Sequence[str] = (),
        app: App | None = None,
    ) -> GuestGrant:
        meeting = await self.meeting_for_app(meeting_id, app)
        meeting.ensure_open()
        app_id = app.client_id if app else None
        if role is Role.ORGANIZER:
            raise ValidationFailed("a guest token cannot carry the organizer role")
        ttl = ttl_s if ttl_s is not None else self.settings.guest_token_ttl_s
        if ttl <= 0:
            raise ValidationFailed("ttl_s must be positive")
        ttl = min(ttl, self.settings.guest_token_max_ttl_s)
        ring = await self.keys.refresh_if_stale()
        token, claims = issue_guest_token(
            ring,
            issuer=self.issuer,
            meeting_id=meeting.id,
            display_name=display_name,
            role=role,
            ttl_s=ttl,
            single_use=single_use,
            now=self.clock(),
            app_id=app_id,
            origins=[o.rstrip("/") for o in origins],
        )
        return GuestGrant(
            token=token,
            discovery_uri=self.discovery_uri(meeting.id),
            expires_at=claims.expires_at,
            meeting_id=meeting.id,
            claims=claims,
        )

    async def check_guest_token(self, token: str, meeting_id: str) -> tuple[GuestClaims, Meeting]:
        """Verify a guest token for ``meeting_id`` (a single-use one must not be spent
        yet; the join spends it with :meth:`consume_guest_token`)."""
        ring = await self.keys.ring_for(token)
        claims = verify_guest_token(
            ring,
            token,
            issuer=self.issuer,
            meeting_id=meeting_id,
            now=self.clock(),
            leeway_s=self.settings.clock_leeway_s,
        )
        meeting = await self.get_meeting(claims.meeting_id)
        meeting.ensure_open()
        if claims.app_id is not None:
            await self.active_app(claims.app_id, "the application that issued this token")
        if claims.single_use and await self.store.is_token_used(claims.jti):
            raise TokenUsed()
        return claims, meeting

    async def consume_guest_token(self, claims: GuestClaims) -> bool:
        """Spend a single-use token: True the first time, False ever after."""
        return await self.store.consume_token(claims.jti, claims.meeting_id, claims.expires_at)

    def ice_servers(self, user: str) -> list[dict[str, object]]:
        return ice_servers_with_turn(
            self.settings.ice_servers,
            secret=self.settings.turn_secret,
            user=user,
            ttl_s=self.settings.turn_ttl_s,
            now=self.clock(),
        )

    # --- keys --------------------------------------------------------------------------
    async def rotate_keys(self) -> str:
        kid = await rotate_keys(
            self.store,
            self.clock(),
            # Never shorter than the life of a token signed just before: rotation
            # must not break a live token (guest, access, session or resume).
            overlap_s=max(self.settings.key_rotation_overlap_s, self.settings.longest_token_life_s),
            passphrase=self.settings.key_passphrase,
        )
        await self.keys.load()
        return kid

    async def housekeeping(self) -> dict[str, int]:
        """Forget what can no longer matter: used-token ids of tokens that have
        expired (with the clock leeway) and signing keys past their overlap."""
        now = self.clock()
        before = now - timedelta(seconds=self.settings.clock_leeway_s)
        tokens = await self.store.purge_used_tokens(before)
        keys = await self.store.delete_expired_signing_keys(now)
        return {"used_tokens": tokens, "signing_keys": keys}

    # --- webhooks ------------------------------------------------------------------------
    async def create_webhook(self, app_id: str, url: str, events: Sequence[str]) -> WebhookRecord:
        hook = WebhookRecord(
            id="wh_" + secrets.token_urlsafe(12),
            app_id=app_id,
            url=url,
            secret="whsec_" + secrets.token_urlsafe(32),
            events=tuple(dict.fromkeys(events)),
            created_at=self.clock(),
        )
        await self.store.create_webhook(hook)
        return hook

    def access_token_expiry(self) -> timedelta:
        return timedelta(seconds=self.settings.access_token_ttl_s)
