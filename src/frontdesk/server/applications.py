"""Trusted applications (business back ends): registered, authenticated with
their client secret, given access tokens, rotated and revoked.

A revoked application's tokens stop working with it: every token that names
an application is checked against :meth:`Applications.active`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from frontdesk.config import Settings
from frontdesk.domain.model import App
from frontdesk.errors import AppNotFound, InvalidClient, TokenInvalid
from frontdesk.server.credentials import Credentials
from frontdesk.server.keyring import KeyManager
from frontdesk.server.timing import DUMMY_HASH
from frontdesk.store.base import Store
from frontdesk.tokens import (
    AccessClaims,
    issue_access_token,
    new_client_id,
    new_client_secret,
    verify_access_token,
)

__all__ = ["AppCredentials", "Applications"]


@dataclass(frozen=True, slots=True)
class AppCredentials:
    client_id: str
    client_secret: str
    name: str


class Applications:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        keys: KeyManager,
        credentials: Credentials,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._keys = keys
        self._credentials = credentials

    async def create(self, name: str) -> AppCredentials:
        secret = new_client_secret()
        app = App(
            client_id=new_client_id(),
            name=name.strip(),
            secret_hash=await self._credentials.hasher.hash(secret),
            created_at=self._clock(),
        )
        await self._store.create_app(app)
        return AppCredentials(app.client_id, secret, app.name)

    async def get(self, client_id: str) -> App:
        """The application, revoked or not (``AppNotFound`` for none)."""
        return await self._store.get_app(client_id)

    async def all(self) -> Sequence[App]:
        """Every application, revoked ones included."""
        return await self._store.list_apps()

    async def revoked_ids(self) -> set[str]:
        return {a.client_id for a in await self._store.list_apps() if not a.active}

    async def revoke(self, client_id: str) -> App:
        """Revoke an application: its secret, its tokens and its guests' seats stop
        working (live seats end as each node notices, see ``_watch_revocations``)."""
        return await self._store.revoke_app(client_id, self._clock())

    async def authenticate(
        self, client_id: str, client_secret: str, *, address: str = "unknown"
    ) -> App:
        creds = self._credentials
        creds.clients.attempt(client_id, address)  # RateLimited when guessing
        try:
            app = await self._store.get_app(client_id)
        except AppNotFound:
            await creds.hasher.verify(DUMMY_HASH, client_secret)
            raise InvalidClient() from None
        if not app.active or not await self._matches_a_secret(app, client_secret):
            raise InvalidClient()
        creds.clients.succeeded(client_id, address)
        return app

    async def _matches_a_secret(self, app: App, client_secret: str) -> bool:
        for secret_hash in app.secret_hashes(self._clock()):
            if await self._credentials.hasher.verify(secret_hash, client_secret):
                return True
        return False

    async def rotate_secret(self, client_id: str, *, overlap_s: int) -> AppCredentials:
        """A routine secret change: a new secret, the old one still accepted for
        ``overlap_s`` (while back ends are redeployed). Live sessions are not
        touched; to end everything after a compromise, revoke the application."""
        app = await self._store.get_app(client_id)
        secret = new_client_secret()
        rotated = app.with_new_secret(
            await self._credentials.hasher.hash(secret), now=self._clock(), overlap_s=overlap_s
        )
        await self._store.update_app_secret(rotated)
        return AppCredentials(app.client_id, secret, app.name)

    async def issue_access_token(self, app: App) -> tuple[str, AccessClaims]:
        ring = await self._keys.refresh_if_stale()
        return issue_access_token(
            ring,
            issuer=self._settings.base_url,
            client_id=app.client_id,
            ttl_s=self._settings.access_token_ttl_s,
            now=self._clock(),
        )

    def access_token_expiry(self) -> timedelta:
        return timedelta(seconds=self._settings.access_token_ttl_s)

    async def for_access_token(self, token: str) -> App:
        ring = await self._keys.ring_for(token)
        claims = verify_access_token(
            ring,
            token,
            issuer=self._settings.base_url,
            now=self._clock(),
            leeway_s=self._settings.clock_leeway_s,
        )
        return await self.active(claims.client_id, "the application")

    async def active(self, client_id: str, what: str) -> App:
        """The application a token names, refused (``token_invalid``) when it is
        gone or revoked: its tokens stop working with it."""
        try:
            app = await self._store.get_app(client_id)
        except AppNotFound:
            raise TokenInvalid(f"{what} no longer exists") from None
        if not app.active:
            raise TokenInvalid(f"{what} was revoked")
        return app
