"""Organizers and agents: their accounts, sign-in, sessions and sign-out.

A session token stays valid until it expires unless its holder signs out: the
sign-out records its id among the used-token ids, which every check consults.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from frontdesk.config import Settings
from frontdesk.domain.model import User, UserRole, check_display_name, user_role
from frontdesk.errors import InvalidCredentials, TokenInvalid, UserNotFound, ValidationFailed
from frontdesk.server.credentials import Credentials
from frontdesk.server.keyring import KeyManager
from frontdesk.server.timing import DUMMY_HASH
from frontdesk.store.base import Store
from frontdesk.tokens import SessionClaims, issue_session_token, verify_session_token

__all__ = ["Accounts"]

#: How old an organizer's display name shown in a room being loaded may be (a
#: rename through this node is seen at once, through another within this).
DISPLAY_NAME_S = 30.0
_NAMES_MAX = 10_000


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ValidationFailed("password must have at least 8 characters")


class Accounts:
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
        self._names: dict[str, tuple[float, str]] = {}  # username -> (read at, name)

    async def create(
        self,
        username: str,
        display_name: str,
        password: str,
        role: UserRole | str = UserRole.AGENT,
    ) -> User:
        _check_password(password)
        user = User(
            username=username.strip(),
            display_name=check_display_name(display_name),
            password_hash=await self._credentials.hasher.hash(password),
            created_at=self._clock(),
            role=user_role(role),
        )
        await self._store.create_user(user)
        return user

    async def all(self) -> Sequence[User]:
        return await self._store.list_users()

    async def get(self, username: str) -> User:
        return await self._store.get_user(username)

    async def display_name(self, username: str) -> str:
        """The user's display name, as read at most :data:`DISPLAY_NAME_S` ago."""
        seen = self._names.get(username)
        if seen is not None and time.monotonic() - seen[0] <= DISPLAY_NAME_S:
            return seen[1]
        name = (await self._store.get_user(username)).display_name
        if len(self._names) >= _NAMES_MAX:
            self._names.clear()
        self._names[username] = (time.monotonic(), name)
        return name

    async def rename(self, username: str, display_name: str) -> User:
        """Give a user a new display name (in its normal form)."""
        user = await self._store.get_user(username)
        renamed = replace(user, display_name=check_display_name(display_name))
        await self._store.update_user(renamed)
        self._names.pop(username, None)
        return renamed

    async def set_password(self, username: str, password: str) -> User:
        """Give a user a new password (stored hashed); sessions already open stay."""
        _check_password(password)
        user = await self._store.get_user(username)
        changed = replace(user, password_hash=await self._credentials.hasher.hash(password))
        await self._store.update_user(changed)
        return changed

    async def set_disabled(self, username: str, disabled: bool) -> User:
        """Disable (or enable again) a user: a disabled user cannot sign in, and
        the sessions it holds stop working at their next use."""
        user = await self._store.get_user(username)
        if user.disabled != disabled:
            user = replace(user, disabled=disabled)
            await self._store.update_user(user)
        return user

    async def delete(self, username: str) -> User:
        """Remove a user's account; its sessions stop working at their next use.
        (Ending the meetings it organizes is the caller's choice.)"""
        user = await self._store.get_user(username)
        await self._store.delete_user(username)
        self._names.pop(username, None)
        return user

    async def set_role(self, username: str, role: UserRole | str) -> User:
        """Make a user an agent or a supervisor. Sessions look the role up on
        every use, so the change holds from the next request or join."""
        user = await self._store.get_user(username)
        changed = replace(user, role=user_role(role))
        if changed != user:
            await self._store.update_user(changed)
        return changed

    async def login(
        self, username: str, password: str, *, address: str = "unknown"
    ) -> tuple[str, SessionClaims, User]:
        creds = self._credentials
        creds.users.attempt(username, address)  # RateLimited when guessing
        try:
            user = await self._store.get_user(username)
        except (UserNotFound, ValidationFailed):
            await creds.hasher.verify(DUMMY_HASH, password)
            raise InvalidCredentials() from None
        if user.disabled or not await creds.hasher.verify(user.password_hash, password):
            raise InvalidCredentials()
        creds.users.succeeded(username, address)
        if creds.hasher.needs_rehash(user.password_hash):
            rehashed = await creds.hasher.hash(password)
            await self._store.update_user(replace(user, password_hash=rehashed))
        ring = await self._keys.refresh_if_stale()
        token, claims = issue_session_token(
            ring,
            issuer=self._settings.base_url,
            username=user.username,
            ttl_s=self._settings.session_ttl_s,
            now=self._clock(),
        )
        return token, claims, user

    async def _verified(self, token: str) -> SessionClaims:
        ring = await self._keys.ring_for(token)
        return verify_session_token(
            ring,
            token,
            issuer=self._settings.base_url,
            now=self._clock(),
            leeway_s=self._settings.clock_leeway_s,
        )

    async def for_session(self, token: str) -> User:
        claims = await self._verified(token)
        if await self._store.is_token_used(claims.jti):
            raise TokenInvalid("signed out")
        try:
            user = await self._store.get_user(claims.username)
        except UserNotFound:
            raise TokenInvalid("the user no longer exists") from None
        if user.disabled:
            raise TokenInvalid("the user is disabled")
        return user

    async def logout(self, token: str) -> None:
        """Revoke a session token: its id joins the used-token ids until it expires."""
        claims = await self._verified(token)
        await self._store.consume_token(claims.jti, f"session:{claims.username}", claims.expires_at)
