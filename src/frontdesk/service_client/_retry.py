"""Bounded retries with back-off when the node says "not now".

A node answers 503 ``unavailable`` (with ``Retry-After``) while its database is
away, and a network failure looks the same from here. A request is retried when
doing it twice cannot do harm:

* the node *answered* 503 ``unavailable``: it did not do the work;
* the connection could not even be opened: nothing was sent;
* any other network failure or timeout, for GET, PUT and DELETE only.

Between attempts: ``Retry-After`` when the node gave one, else a doubling
delay with jitter, each capped at ``max_delay_s``; at most ``retries`` more
attempts, then the last ``Unavailable`` is raised.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from frontdesk.errors import Unavailable, ValidationFailed

__all__ = ["RetryPolicy", "with_retries"]

logger = logging.getLogger(__name__)
T = TypeVar("T")
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 3
    initial_delay_s: float = 0.25
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.retries < 0 or not 0 < self.initial_delay_s <= self.max_delay_s:
            raise ValidationFailed("need retries >= 0 and 0 < initial_delay_s <= max_delay_s")

    def delay(self, attempt: int, err: Unavailable) -> float:
        retry_after = err.extra.get("retry_after")
        if isinstance(retry_after, int | float) and retry_after > 0:
            return min(float(retry_after), self.max_delay_s)
        base = min(self.max_delay_s, self.initial_delay_s * 2.0 ** min(attempt, 30))
        return base * (1 - 0.5 * random.random())  # noqa: S311 - not a secret


def _safe_to_repeat(method: str, err: Unavailable) -> bool:
    cause = err.__cause__
    if cause is None:  # an answer of the node (503): the work was not done
        return True
    if isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout):
        return True
    return method.upper() in _IDEMPOTENT


async def with_retries(method: str, call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> T:
    """``await call()``, again after ``Unavailable`` while it is safe and allowed."""
    attempt = 0
    while True:
        try:
            return await call()
        except Unavailable as err:
            if attempt >= policy.retries or not _safe_to_repeat(method, err):
                raise
            pause = policy.delay(attempt, err)
            attempt += 1
            logger.info(
                "%s unavailable (%s); retry %d in %.2fs", method, err.detail, attempt, pause
            )
            await asyncio.sleep(pause)
