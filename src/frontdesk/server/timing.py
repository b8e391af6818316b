"""Time, as the services share it: the wall clock, the pause between attempts
of a write that lost a race, and a constant hash that makes an unknown name
take as long to refuse as a wrong secret."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

from frontdesk.tokens import hash_secret

__all__ = ["DUMMY_HASH", "backoff", "utcnow"]

# A constant hash to verify against when the client id is unknown, so that the
# answer takes as long as for a wrong secret (no user enumeration by timing).
DUMMY_HASH = hash_secret("frontdesk-dummy-secret")


async def backoff(attempt: int) -> None:
    """A short, growing, jittered pause before attempt ``attempt + 1``."""
    await asyncio.sleep(random.uniform(0, 0.005) * (attempt + 1))  # noqa: S311


def utcnow() -> datetime:
    return datetime.now(UTC)
