"""FRONTDESK_KEY_PASSPHRASE: signing keys are stored encrypted (PKCS#8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.config import Settings
from frontdesk.errors import Unavailable
from frontdesk.server.operations import Operations
from frontdesk.store import open_store


async def test_keys_are_encrypted_at_rest(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/k.db"
    store = await open_store(url)
    try:
        # A key made before the passphrase was set (in clear) keeps working.
        plain = Operations(Settings(database_url=url), store)
        await plain.start()
        locked = Operations(Settings(database_url=url, key_passphrase="s3cret pass"), store)
        await locked.start()
        kid = await locked.keys.rotate()
        records = {r.kid: r for r in await store.list_signing_keys()}
        assert records[kid].private_pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert "PRIVATE KEY" in next(r for k, r in records.items() if k != kid).private_pem

        await locked.accounts.create("alice", "Alice", "correct horse battery")
        m = await locked.meetings.create(subject="", organizer="alice")
        grant = await locked.guest_tokens.mint(m.id, display_name="Ann")
        claims, _ = await locked.guest_tokens.check(grant.token, m.id)
        assert claims.display_name == "Ann"

        with pytest.raises(Unavailable, match="FRONTDESK_KEY_PASSPHRASE"):
            await Operations(Settings(database_url=url), store).start()
        wrong = Operations(Settings(database_url=url, key_passphrase="nope"), store)
        with pytest.raises(Unavailable, match="does not open"):
            await wrong.start()
    finally:
        await store.close()
