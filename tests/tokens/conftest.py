from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frontdesk.tokens import KeyMaterial, KeyRing, generate_key

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
ISSUER = "https://frontdesk.test"


@pytest.fixture(scope="session")
def key() -> KeyMaterial:
    return generate_key(NOW)


@pytest.fixture(scope="session")
def ring(key: KeyMaterial) -> KeyRing:
    return KeyRing([key])


@pytest.fixture(scope="session")
def other_ring() -> KeyRing:
    """A ring of a different node: its tokens must not verify on ``ring``."""
    return KeyRing([generate_key(NOW)])
