"""The node's signing keys: loaded from the store, created on first start,
reloaded when another node (or ``frontdesk keys rotate``) changed them.

With ``FRONTDESK_KEY_PASSPHRASE`` set, private keys are stored as encrypted
PKCS#8 (``BestAvailableEncryption``), so a copy of the database alone cannot
mint tokens. Keys stored in clear before the passphrase was set keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization

from frontdesk.errors import AlreadyExists, Unavailable
from frontdesk.store.base import SigningKeyRecord, Store
from frontdesk.tokens import KeyMaterial, KeyRing, generate_key

__all__ = ["KeyManager", "rotate_keys"]

log = logging.getLogger(__name__)


_ENCRYPTED = "-----BEGIN ENCRYPTED PRIVATE KEY-----"


def _seal(pem: str, passphrase: str | None) -> str:
    if not passphrase:
        return pem
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


def _unseal(pem: str, passphrase: str | None) -> str:
    if not pem.startswith(_ENCRYPTED):
        return pem
    if not passphrase:
        raise Unavailable("the signing keys are encrypted: set FRONTDESK_KEY_PASSPHRASE")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=passphrase.encode())
    except ValueError:
        raise Unavailable("FRONTDESK_KEY_PASSPHRASE does not open the signing keys") from None
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _material(rec: SigningKeyRecord, passphrase: str | None) -> KeyMaterial:
    return KeyMaterial(
        kid=rec.kid,
        private_pem=_unseal(rec.private_pem, passphrase),
        created_at=rec.created_at,
        retired_at=rec.retired_at,
        expires_at=rec.expires_at,
    )


def _record(key: KeyMaterial, passphrase: str | None) -> SigningKeyRecord:
    return SigningKeyRecord(
        kid=key.kid,
        private_pem=_seal(key.private_pem, passphrase),
        created_at=key.created_at,
        retired_at=key.retired_at,
        expires_at=key.expires_at,
    )


async def rotate_keys(
    store: Store, now: datetime, *, overlap_s: int, passphrase: str | None = None
) -> str:
    """Make a new signing key active; older keys keep verifying for ``overlap_s``."""
    key = generate_key(now)
    await store.add_signing_key(_record(key, passphrase))
    await store.retire_signing_keys(
        except_kid=key.kid, now=now, expires_at=now + timedelta(seconds=overlap_s)
    )
    await store.delete_expired_signing_keys(now)
    return key.kid


class KeyManager:
    """Holds the current :class:`KeyRing`; refreshes it from the store."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        refresh_s: float = 30.0,
        passphrase: str | None = None,
        rotation_overlap_s: int = 0,
    ):
        self._store = store
        self._passphrase = passphrase
        self._rotation_overlap_s = rotation_overlap_s
        self._clock = clock
        self._refresh_s = refresh_s
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def ring(self) -> KeyRing:
        if self._ring is None:
            raise RuntimeError("KeyManager.load() was not awaited")
        return self._ring

    async def load(self) -> KeyRing:
        """Load keys; create the first one when the store has none usable."""
        async with self._lock:
            now = self._clock()
            records = [r for r in await self._store.list_signing_keys() if not _expired(r, now)]
            if not any(r.retired_at is None for r in records):
                key = generate_key(now)
                # Another node may have created one at the same moment: both are kept.
                with contextlib.suppress(AlreadyExists):
                    await self._store.add_signing_key(_record(key, self._passphrase))
                records = [r for r in await self._store.list_signing_keys() if not _expired(r, now)]
                log.info("created signing key %s", key.kid)
            self._ring = KeyRing([_material(r, self._passphrase) for r in records])
            self._loaded_at = asyncio.get_running_loop().time()
            return self._ring

    async def rotate(self) -> str:
        """Make a new signing key active (``frontdesk keys rotate``); the older keys
        keep verifying for the rotation overlap. Returns the new key's id."""
        kid = await rotate_keys(
            self._store,
            self._clock(),
            overlap_s=self._rotation_overlap_s,
            passphrase=self._passphrase,
        )
        await self.load()
        return kid

    async def records(self) -> Sequence[SigningKeyRecord]:
        """Every stored key, retired and expired ones included."""
        return await self._store.list_signing_keys()

    async def forget_expired(self) -> int:
        """Delete the keys past their overlap: no live token can name them."""
        return await self._store.delete_expired_signing_keys(self._clock())

    async def refresh_if_stale(self) -> KeyRing:
        if (
            self._ring is None
            or asyncio.get_running_loop().time() - self._loaded_at > self._refresh_s
        ):
            return await self.load()
        return self._ring

    async def ring_for(self, token: str) -> KeyRing:
        """The ring to verify ``token`` with: reloads once when its kid is unknown."""
        ring = await self.refresh_if_stale()
        if ring.has_kid(token):
            return ring
        if asyncio.get_running_loop().time() - self._loaded_at > 1.0:
            return await self.load()
        return ring


def _expired(rec: SigningKeyRecord, now: datetime) -> bool:
    return rec.expires_at is not None and rec.expires_at <= now
