"""Guessing passwords and client secrets, through a real node on 127.0.0.1.

The attackers send from other loopback source addresses (127.0.0.x, bound on
the client side), so the node sees distinct client addresses; every request
still goes to 127.0.0.1. The node runs in the test's event loop, so a monitor
task there measures exactly the stall every WebSocket of the node would feel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import httpx

from frontdesk.errors import RateLimited
from frontdesk.server.credentials import FailureGuard
from frontdesk.tokens import hash_secret, verify_secret
from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery"


def _client(server: LiveServer, source: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=server.base_url, transport=transport, timeout=60)


async def _login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/v1/session", json={"username": username, "password": password})


class LoopLag:
    """The largest delay of a 5 ms timer on this loop while the block runs."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, loop.time() - t0 - 0.005)


@asynccontextmanager
async def loop_lag() -> AsyncIterator[LoopLag]:
    lag = LoopLag()
    task = asyncio.create_task(lag._watch())
    await asyncio.sleep(0.02)
    try:
        yield lag
    finally:
        task.cancel()


def _one_check_s() -> float:
    """How long one Argon2 verification takes on this machine, now."""
    secret_hash = hash_secret("a password of some length")
    t0 = time.perf_counter()
    verify_secret(secret_hash, "a wrong one")
    return time.perf_counter() - t0


def _lag_bound(check_s: float) -> float:
    """Generous, for a busy 2-core machine: on the loop, the burst stalls it for
    many checks back to back (2 s, about ten checks, in bench/login_storm.py);
    off the loop, for no check at all (what remains is scheduling noise)."""
    return max(0.5, 4 * check_s)


def _is_problem(r: httpx.Response, status: int, code: str) -> bool:
    return (
        r.status_code == status
        and r.headers["content-type"] == "application/problem+json"
        and r.json()["code"] == code
    )


async def _probe(server: LiveServer, done: asyncio.Event) -> list[float]:
    """/healthz round trips (seconds) until ``done``."""
    rtts: list[float] = []
    async with _client(server) as http:
        while not done.is_set():
            t0 = time.perf_counter()
            assert (await http.get("/healthz")).status_code == 200
            rtts.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
    return rtts


async def _storm(
    server: LiveServer, attempts: list[Callable[[], Awaitable[httpx.Response]]]
) -> tuple[list[httpx.Response], float, list[float]]:
    done = asyncio.Event()
    async with loop_lag() as lag:
        probe = asyncio.create_task(_probe(server, done))
        answers = await asyncio.gather(*(a() for a in attempts))
        done.set()
        rtts = await probe
    return list(answers), lag.worst, rtts


async def test_30_concurrent_bad_logins_do_not_block_the_event_loop(server: LiveServer) -> None:
    # Thirty fresh addresses, one guess each: every one of them costs an Argon2 check.
    bound = _lag_bound(_one_check_s())
    clients = [_client(server, f"127.0.0.{10 + i}") for i in range(30)]
    try:
        attempts = [partial(_login, h, "alice", "wrong password") for h in clients]
        answers, worst_lag, rtts = await _storm(server, attempts)
    finally:
        for h in clients:
            await h.aclose()
    print(
        f"\nloop lag during 30 concurrent bad logins: {worst_lag * 1000:.1f} ms "
        f"(bound {bound * 1000:.0f} ms); /healthz max {max(rtts) * 1000:.1f} ms "
        f"over {len(rtts)} probes"
    )
    # Beyond the bounded queue the node says "busy" at once instead of queueing.
    assert all(
        _is_problem(r, 401, "invalid_credentials") or _is_problem(r, 503, "unavailable")
        for r in answers
    ), [r.text for r in answers]
    assert sum(r.status_code == 401 for r in answers) >= 2
    assert all(int(r.headers["Retry-After"]) >= 1 for r in answers if r.status_code == 503)
    # Argon2 runs off the loop: the loop never stalls for the checks' time,
    # and the health probe kept answering throughout.
    assert worst_lag < bound, (worst_lag, bound)
    assert len(rtts) >= 5


async def test_limiter_fires_and_the_real_user_still_signs_in(server: LiveServer) -> None:
    bound = _lag_bound(_one_check_s())
    async with _client(server, "127.0.0.1") as attacker, _client(server, "127.0.0.2") as user:
        attempts = [partial(_login, attacker, "alice", f"guess {i}") for i in range(30)]
        answers, worst_lag, _rtts = await _storm(server, attempts)
        refused = [r for r in answers if r.status_code == 429]
        checked = [r for r in answers if r.status_code == 401]
        # Five free failures (one more per delay that passed while the burst arrived).
        assert 5 <= len(checked) <= 8 and len(checked) + len(refused) == 30
        for r in refused:
            assert _is_problem(r, 429, "rate_limited") and int(r.headers["Retry-After"]) >= 1
        assert worst_lag < bound, (worst_lag, bound)
        # Still guessing one after the other: refused, and told how long to wait.
        assert await _until_refused(attacker) >= 1

        # The real user, from an address that has not been failing: signed in.
        r = await _login(user, "alice", PASSWORD)
        assert r.status_code == 200, r.text
        assert (await user.get("/v1/me")).json()["username"] == "alice"

        # The user mistypes once (their address now counts as failing) while the
        # attacker exhausts the account again: the address alice signed in from
        # before is still let through with the right password.
        assert (await _login(user, "alice", "typo")).status_code == 401
        await _until_refused(attacker)
        assert (await _login(user, "alice", PASSWORD)).status_code == 200


async def _until_refused(http: httpx.AsyncClient) -> int:
    """Guess alice's password until refused; the Retry-After of the refusal."""
    for i in range(12):
        r = await _login(http, "alice", f"again {i}")
        if r.status_code == 429:
            assert _is_problem(r, 429, "rate_limited")
            return int(r.headers["Retry-After"])
        assert r.status_code == 401
    raise AssertionError("never refused")


async def test_one_address_spraying_many_accounts_is_limited(server: LiveServer) -> None:
    async with _client(server, "127.0.0.3") as sprayer, _client(server, "127.0.0.4") as user:
        statuses = []
        for i in range(14):  # unknown names count like known ones
            r = await _login(sprayer, f"user{i}", "password1")
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert _is_problem(r, 429, "rate_limited")
                break
        # Ten free failures per address (one more per delay that passed meanwhile).
        assert statuses[-1] == 429 and 10 <= statuses.count(401) <= 12, statuses
        assert (await _login(user, "alice", PASSWORD)).status_code == 200


async def test_client_secret_guessing_is_limited(server: LiveServer) -> None:
    creds = await server.ops.apps.create("Harbor Bank")
    bound = _lag_bound(_one_check_s())

    def token(http: httpx.AsyncClient, secret: str) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, secret),
        )

    async with _client(server, "127.0.0.5") as attacker, _client(server, "127.0.0.6") as app:
        # A node that has served a token before: what the first mint sets up
        # (imports, caches) is not what this measures.
        assert (await token(app, creds.client_secret)()).status_code == 200
        answers, worst_lag, _ = await _storm(
            server, [token(attacker, f"guess-{i}") for i in range(30)]
        )
        assert sum(r.status_code == 401 for r in answers) == 5
        assert sum(_is_problem(r, 429, "rate_limited") for r in answers) == 25
        assert worst_lag < bound, (worst_lag, bound)
        r = await token(app, creds.client_secret)()
        assert r.status_code == 200 and r.json()["access_token"]


# --- the scheme itself, on a fake clock -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _retry_after(guard: FailureGuard, account: str, address: str) -> int | None:
    try:
        guard.attempt(account, address)
    except RateLimited as err:
        return int(err.extra["retry_after"])
    return None


def test_account_delays_double_are_capped_and_forgiven_after_the_window() -> None:
    clock = Clock()
    guard = FailureGuard(clock=clock, max_delay_s=60, address_free=100)
    for _ in range(5):
        assert _retry_after(guard, "alice", "10.0.0.1") is None
    waits = []
    for _ in range(9):
        wait = _retry_after(guard, "Alice", "10.0.0.1")  # names compare case-insensitively
        assert wait is not None
        waits.append(wait)
        clock.now += wait
        assert _retry_after(guard, "alice", "10.0.0.1") is None
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    clock.now += 15 * 60 + 1
    assert _retry_after(guard, "alice", "10.0.0.1") is None


def test_success_resets_the_account_and_remembers_the_address() -> None:
    clock = Clock()
    guard = FailureGuard(clock=clock)
    for _ in range(5):
        guard.attempt("alice", "10.0.0.1")
    assert _retry_after(guard, "alice", "10.0.0.1") == 1
    assert _retry_after(guard, "alice", "10.0.0.9") is None  # a clean address
    guard.succeeded("alice", "10.0.0.9")
    for _ in range(5):
        assert _retry_after(guard, "alice", "10.0.0.1") is None
    assert _retry_after(guard, "alice", "10.0.0.1") == 1
    guard.attempt("bob", "10.0.0.9")  # alice's address is failing now, but known
    assert _retry_after(guard, "alice", "10.0.0.9") is None


def test_address_limit_across_accounts() -> None:
    clock = Clock()
    guard = FailureGuard(clock=clock)
    for i in range(10):
        assert _retry_after(guard, f"user{i}", "10.0.0.1") is None
    assert _retry_after(guard, "someone", "10.0.0.1") == 1
    assert _retry_after(guard, "someone", "10.0.0.2") is None
    clock.now += 1
    assert _retry_after(guard, "someone", "10.0.0.1") is None
    assert _retry_after(guard, "someone", "10.0.0.1") == 2
