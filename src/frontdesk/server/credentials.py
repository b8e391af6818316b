"""Checking passwords and client secrets without stalling the node or helping guessers.

**Off the event loop.** Argon2id is slow on purpose (tens to hundreds of
milliseconds of CPU per check). Run on the event loop, every check froze every
WebSocket of the node; 30 concurrent bad logins stalled them for about a
second. :class:`OffloopHasher` runs hashing and verification in a small
process-wide thread pool (argon2-cffi releases the GIL), at most ``workers`` at
a time per node — one fewer than the cores, so the event loop keeps a core —
and refuses quickly (``Unavailable``, 503 with ``Retry-After``) once
``queue_limit`` checks are already waiting, instead of queueing without bound.

**Failure limiting** (:class:`FailureGuard`, OWASP "Blocking Brute Force
Attacks" / ASVS 2.2.1: throttle, do not lock out). Failures are counted in a
sliding window (15 minutes) per account and per client address:

* *per address, across accounts* — after ``address_free`` (10) failures, an
  address must wait 1 s, then 2 s, 4 s ... (doubling with each further
  failure, capped at ``max_delay_s``, 15 minutes) after its last failure
  before it is heard again; this stops one address from spraying many accounts;
* *per account* — after ``account_free`` (5) failures on an account, each
  further attempt must wait 1 s, 2 s, 4 s ... (capped the same) after the
  account's last failure; this slows guessing one account from many addresses;
* an early attempt is answered 429 ``rate_limited`` with ``Retry-After``
  without checking the password (so it costs no Argon2 time either).

So that the per-account limit slows attackers without locking out the real
user, it does not apply to an address that the account signed in from
successfully before (a "known device", the OWASP device-cookie idea keyed by
address, the last few per account), nor to an address with no failures at all
in the window. A distributed attacker thus gets at most one guess per fresh
address per window before that address counts as failing. A success resets the
account's counter; it does not reset the address's (signing in to one's own
account must not clear the record of guessing others'). Unknown account names
count like known ones, so the limiter reveals nothing about which exist.

Memory is bounded: the least recently used keys are forgotten beyond
``max_keys``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from frontdesk.errors import RateLimited, Unavailable
from frontdesk.tokens import hash_secret, needs_rehash, verify_secret

__all__ = ["Credentials", "FailureGuard", "OffloopHasher"]

T = TypeVar("T")

WINDOW_S = 15 * 60.0
_executor: ThreadPoolExecutor | None = None


def default_workers() -> int:
    """Argon2 checks at a time: one fewer than the cores (at least one)."""
    return max(1, (os.cpu_count() or 2) - 1)


def _pool() -> ThreadPoolExecutor:
    """One small pool per process, shared by every node in it (CPU is too)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="frontdesk-argon2"
        )
    return _executor


class OffloopHasher:
    """Argon2 hashing and verification in worker threads, bounded."""

    def __init__(self, *, workers: int | None = None, queue_limit: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.queue_limit = queue_limit if queue_limit is not None else 16 * self.workers
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        if self._slots.locked() and self._waiting >= self.queue_limit:
            raise Unavailable("too many sign-ins at once; try again shortly", retry_after=1)
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.get_running_loop().run_in_executor(_pool(), fn, *args)
        finally:
            self._slots.release()

    async def hash(self, secret: str) -> str:
        return await self._run(hash_secret, secret)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        return await self._run(verify_secret, secret_hash, secret)

    @staticmethod
    def needs_rehash(secret_hash: str) -> bool:
        return needs_rehash(secret_hash)  # parses the PHC string only: cheap


@dataclass(slots=True)
class _Failures:
    count: int = 0
    last: float = 0.0
    known: list[str] = field(default_factory=list)  # addresses that signed in


class FailureGuard:
    """Failure counts per account and per address, with capped exponential delays."""

    def __init__(
        self,
        *,
        account_free: int = 5,
        address_free: int = 10,
        window_s: float = WINDOW_S,
        max_delay_s: float = 15 * 60.0,
        known_per_account: int = 8,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_free = account_free
        self.address_free = address_free
        self.window_s = window_s
        self.max_delay_s = max_delay_s
        self.known_per_account = known_per_account
        self.max_keys = max_keys
        self.clock = clock
        self._accounts: OrderedDict[str, _Failures] = OrderedDict()
        self._addresses: OrderedDict[str, _Failures] = OrderedDict()

    def _get(self, table: OrderedDict[str, _Failures], key: str, now: float) -> _Failures:
        entry = table.get(key)
        if entry is None:
            entry = table[key] = _Failures()
            if len(table) > self.max_keys:
                table.popitem(last=False)
        else:
            table.move_to_end(key)
            if entry.count and now - entry.last > self.window_s:
                entry.count = 0  # the window has passed: forgiven
        return entry

    def _delay(self, failures: int, free: int) -> float:
        """0 below ``free`` failures; then 1 s, 2 s, 4 s ... up to ``max_delay_s``."""
        excess = failures - free
        if excess < 0:
            return 0.0
        return float(min(self.max_delay_s, 2.0 ** min(excess, 30)))

    def attempt(self, account: str, address: str) -> None:
        """Admit one attempt, or raise ``RateLimited`` (with ``retry_after``) when it
        comes too soon. An admitted attempt counts as a failure until
        :meth:`succeeded` says otherwise, so concurrent guesses are counted
        before any of them is checked."""
        now = self.clock()
        by_address = self._get(self._addresses, address, now)
        by_account = self._get(self._accounts, account.casefold(), now)
        wait = by_address.last + self._delay(by_address.count, self.address_free) - now
        if wait <= 0 and not (address in by_account.known or by_address.count == 0):
            wait = by_account.last + self._delay(by_account.count, self.account_free) - now
        if wait > 0:
            raise RateLimited(
                f"too many failed attempts; retry in {wait:.0f} s", retry_after=max(1, round(wait))
            )
        for entry in (by_address, by_account):
            entry.count += 1
            entry.last = now

    def succeeded(self, account: str, address: str) -> None:
        """The admitted attempt was right: forget the account's failures, take
        back the address's provisional one, and remember the address."""
        now = self.clock()
        by_address = self._get(self._addresses, address, now)
        by_address.count = max(0, by_address.count - 1)
        by_account = self._get(self._accounts, account.casefold(), now)
        by_account.count = 0
        if address in by_account.known:
            by_account.known.remove(address)
        by_account.known.append(address)
        del by_account.known[: -self.known_per_account]


class Credentials:
    """The node's hasher and its two guards: user sign-in and client credentials."""

    def __init__(
        self,
        *,
        hasher: OffloopHasher | None = None,
        users: FailureGuard | None = None,
        clients: FailureGuard | None = None,
    ) -> None:
        self.hasher = hasher or OffloopHasher()
        self.users = users or FailureGuard()
        self.clients = clients or FailureGuard()
