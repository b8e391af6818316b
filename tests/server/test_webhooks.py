"""The webhook dispatcher against a real HTTP receiver on 127.0.0.1 and a real store
(SQLite, and PostgreSQL): delivery, retries, targets, the hot path, and the outbox
(restarts, several nodes, claims of dead nodes, retention)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from frontdesk.config import Settings
from frontdesk.domain import (
    AccessPolicy,
    Admit,
    App,
    EndMeeting,
    Event,
    Join,
    JoinMethod,
    Leave,
    Meeting,
    Role,
    Room,
    SendChat,
    Typing,
)
from frontdesk.errors import TokenInvalid, Unavailable
from frontdesk.server import webhooks
from frontdesk.server.metrics import Metrics
from frontdesk.server.webhook_targets import TargetPolicy
from frontdesk.server.webhooks import USER_AGENT, WebhookDispatcher, _retry_after, webhook_event_for
from frontdesk.service_client import verify_webhook
from frontdesk.store import DeliveryState, Store, WebhookDelivery, WebhookRecord, tables
from frontdesk.store.sql import SqlStore
from tests.store.conftest import Target
from tests.support.databases import postgres_url_or_skip, sqlite_url, temp_schema

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
# The receiver listens on 127.0.0.1: allowed as an operator allows an on-premises network.
LOOPBACK_ALLOWED = TargetPolicy.from_settings(Settings(webhook_allowed_networks=("127.0.0.1/32",)))
SECRET = "whsec-do-not-log-me"


# --- a tiny HTTP/1.1 receiver ----------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # what the receiver answered (None: it hung)


@dataclass
class Receiver:
    """Records every request; answers each path from its script (then 200).

    A script entry is a status code, ``(status, extra_headers)`` or ``"hang"``.
    """

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Any]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    delay_s: float = 0.0  # before every answer

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await reader.readline()
            if not request_line:
                return
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            path = request_line.split()[1].decode()
            received = Received(path, headers, body)
            self.requests.append(received)
            script = self.scripts.get(path, [])
            reply = script.pop(0) if script else 200
            if reply == "hang":
                await self.release.wait()
                return
            status, extra = reply if isinstance(reply, tuple) else (reply, {})
            received.status = status
            await asyncio.sleep(self.delay_s)
            head = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            status_line = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n"
            writer.write(f"{status_line}{head}\r\n".encode())
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    server = await asyncio.start_server(r.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    r.base_url = f"http://127.0.0.1:{port}"
    try:
        yield r
    finally:
        r.release.set()
        server.close()
        await server.wait_closed()
        await asyncio.sleep(0)  # let released handlers close their sockets


# --- store and dispatcher ---------------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    """The test's database: more stores (nodes) may be opened on it."""
    if request.param == "sqlite":
        yield Target(sqlite_url(tmp_path / "t.db"))
        return
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        yield Target(url, schema)


@pytest.fixture
async def store(target: Target) -> AsyncIterator[SqlStore]:
    s = await target.open()
    for app_id in ("app_1", "app_2"):
        await s.create_app(App(app_id, f"Bank {app_id}", "argon2$x", T0))
    await s.create_meeting(meeting("m_1", created_by_app="app_1"))
    await s.create_meeting(meeting("m_own"))  # an organizer's meeting: no app
    try:
        yield s
    finally:
        await s.close()


def meeting(meeting_id: str, **kw: Any) -> Meeting:
    return Meeting(
        id=meeting_id,
        join_code=f"code-{meeting_id}",
        subject="Mortgage advice",
        organizer="alice",
        created_at=T0,
        **kw,
    )


async def add_hook(
    store: Store, hook_id: str, url: str, events: tuple[str, ...], app_id: str = "app_1"
) -> WebhookRecord:
    hook = WebhookRecord(hook_id, app_id, url, SECRET, events, T0)
    await store.create_webhook(hook)
    return hook


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def make(store: Store, metrics: Metrics) -> AsyncIterator[Any]:
    made: list[WebhookDispatcher] = []

    async def factory(*, start: bool = True, **kw: Any) -> WebhookDispatcher:
        kw.setdefault("retry_delays", (0.05, 0.1))
        kw.setdefault("timeout_s", 2.0)
        kw.setdefault("targets", LOOPBACK_ALLOWED)
        d = WebhookDispatcher(store, metrics=metrics, **kw)
        made.append(d)
        if start:
            await d.start()
        return d

    yield factory
    for d in made:
        await d.stop(drain_s=0)


def count(metrics: Metrics, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "frontdesk_webhook_deliveries_total", {"outcome": outcome}
    )
    return value or 0.0


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.02)


JOINED = {"meeting_id": "m_1", "seq": 1, "participant_id": "g1", "display_name": "Ann"}


@pytest.fixture(autouse=True)
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="frontdesk.server.webhooks")
    yield
    assert SECRET not in caplog.text


# --- mapping ----------------------------------------------------------------------------------
def room_events() -> list[Event]:
    room = Room(meeting("m_1", access_policy=AccessPolicy.LOBBY))
    org = Join("org", "Alice Agent", Role.ORGANIZER, JoinMethod.USER, username="alice")
    events = room.handle(org, T0)
    events += room.handle(Join("g1", "Ann Visitor", Role.GUEST, JoinMethod.URL), T0)
    events += room.handle(Admit("org", "g1"), T0)
    events += room.handle(Typing("g1"), T0)
    events += room.handle(SendChat("g1", "c1", "Hello"), T0 + timedelta(seconds=1))
    events += room.handle(Leave("g1"), T0 + timedelta(seconds=2))
    events += room.handle(EndMeeting("org"), T0 + timedelta(seconds=3))
    return events


def test_webhook_event_for_maps_domain_events() -> None:
    mapped = [w for e in room_events() for w in webhook_event_for(e, "m_1")]
    assert [name for name, _ in mapped] == [
        "participant.joined",
        "lobby.waiting",
        "participant.joined",
        "chat.message",
        "participant.left",
        "meeting.ended",
    ]
    by_name = dict(mapped[1:])  # the guest's events
    assert by_name["lobby.waiting"] | {"seq": 0} == {
        "meeting_id": "m_1",
        "seq": 0,
        "at": T0.isoformat(),
        "participant_id": "g1",
        "display_name": "Ann Visitor",
        "role": "guest",
    }
    assert by_name["participant.joined"]["role"] == "guest"
    assert by_name["chat.message"]["text"] == "Hello"
    assert by_name["chat.message"]["participant_id"] == "g1"
    assert by_name["participant.left"]["reason"] == "left"
    assert by_name["meeting.ended"]["reason"] == "ended_by_moderator"
    assert all(isinstance(data["seq"], int) and data["seq"] > 0 for _, data in mapped)


def test_retry_after_parsing() -> None:
    now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert _retry_after("7", now) == 7.0
    assert _retry_after("Sat, 01 Mar 2025 09:00:30 GMT", now) == 30.0
    assert _retry_after("Sat, 01 Mar 2025 08:00:00 GMT", now) == 0.0
    assert _retry_after("soon", now) is None
    assert _retry_after(None, now) is None


# --- delivery ---------------------------------------------------------------------------------
async def test_signed_delivery_of_room_events(receiver: Receiver, store: Store, make: Any) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined", "chat.message"))
    d = await make()
    for event in room_events():
        for name, data in webhook_event_for(event, "m_1"):
            d.publish(name, data, meeting_id="m_1")
    await d.drain(5)

    got = receiver.at("/a")
    assert len(got) == 3
    payloads = [verify_webhook(SECRET, r.body, r.headers) for r in got]
    assert sorted(p["type"] for p in payloads) == [
        "chat.message",
        "participant.joined",
        "participant.joined",
    ]
    for r, p in zip(got, payloads, strict=True):
        assert r.headers["content-type"] == "application/json"
        assert r.headers["user-agent"] == USER_AGENT
        assert r.headers["frontdesk-webhook-id"] == p["id"]
        assert datetime.fromisoformat(p["created_at"]).tzinfo is not None
        assert p["data"]["meeting_id"] == "m_1"
    assert len({p["id"] for p in payloads}) == 3
    # a wrong secret or a tampered body is refused by the receiver's check
    with pytest.raises(TokenInvalid):
        verify_webhook("other", got[0].body, got[0].headers)
    with pytest.raises(TokenInvalid):
        verify_webhook(SECRET, got[0].body + b" ", got[0].headers)


async def test_only_subscribed_events_of_the_app_are_delivered(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    base = receiver.base_url
    await add_hook(store, "wh_a", f"{base}/a", ("participant.joined", "meeting.ended"))
    await add_hook(store, "wh_b", f"{base}/b", ("chat.message",))
    await add_hook(store, "wh_c", f"{base}/c", ("participant.joined",), app_id="app_2")
    d = await make()
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    d.publish("chat.message", {"text": "hi"}, meeting_id="m_1")
    d.publish("participant.left", {"participant_id": "g1"}, meeting_id="m_1")
    d.publish("lobby.waiting", {"participant_id": "g2"}, meeting_id="m_1")
    d.publish("meeting.ended", {"reason": "x"}, meeting_id="m_1")
    d.publish("meeting.ended", {"reason": "again"}, meeting_id="m_1")  # one per meeting
    d.publish("participant.joined", JOINED, meeting_id="m_own")  # no app, no guest app: nobody
    await d.drain(5)
    # app_2 vouched a guest into the agent's meeting: from then on it reads it (alone)
    await store.add_meeting_guest_app("m_own", "app_2", T0)
    d.publish("participant.joined", JOINED, meeting_id="m_own")
    await d.drain(5)

    def types(path: str) -> list[str]:
        return sorted(verify_webhook(SECRET, r.body, r.headers)["type"] for r in receiver.at(path))

    assert types("/a") == ["meeting.ended", "participant.joined"]
    assert types("/b") == ["chat.message"]
    assert types("/c") == ["participant.joined"]  # only the agent meeting's, once vouched
    assert count(metrics, "delivered") == 4


async def test_hooks_are_cached_between_events(receiver: Receiver, store: Store, make: Any) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    d = await make(hook_cache_s=60)
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    await add_hook(store, "wh_b", f"{receiver.base_url}/b", ("participant.joined",))
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert (len(receiver.at("/a")), len(receiver.at("/b"))) == (2, 0)

    fresh = await make(hook_cache_s=0)
    fresh.publish("participant.joined", JOINED, meeting_id="m_1")
    await fresh.drain(5)
    assert (len(receiver.at("/a")), len(receiver.at("/b"))) == (3, 1)


# --- retries ----------------------------------------------------------------------------------
async def test_server_errors_are_retried_until_delivered(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    receiver.scripts["/a"] = [500, 500, 200]
    d = await make(retry_delays=(0.05, 0.1), poll_s=60)  # its own work wakes it, not a poll
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)

    got = receiver.at("/a")
    assert len(got) == 3
    assert len({r.headers["frontdesk-webhook-id"] for r in got}) == 1  # same delivery
    assert len({r.body for r in got}) == 1
    for r in got:
        verify_webhook(SECRET, r.body, r.headers)
    assert (count(metrics, "retry"), count(metrics, "delivered")) == (2, 1)
    assert count(metrics, "failed") == 0


async def test_retries_give_up_after_the_last_delay(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics, caplog: Any
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    receiver.scripts["/a"] = [503, (429, {"Retry-After": "0"}), 502, 200]
    d = await make(retry_delays=(0.05, 0.05))
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert len(receiver.at("/a")) == 3
    assert (count(metrics, "retry"), count(metrics, "failed")) == (2, 1)
    assert count(metrics, "delivered") == 0
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.INFO, logging.INFO, logging.WARNING]


async def test_waiting_retries_do_not_hold_up_other_deliveries(
    receiver: Receiver, store: Store, make: Any
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    await add_hook(store, "wh_b", f"{receiver.base_url}/b", ("chat.message",))
    receiver.scripts["/a"] = [500]
    d = await make(retry_delays=(0.4,), concurrency=1)  # one worker: it must not sleep
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    d.publish("chat.message", {"text": "hi"}, meeting_id="m_1")
    await d.drain(5)
    assert [r.path for r in receiver.requests] == ["/a", "/b", "/a"]


async def test_client_error_is_not_retried(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    receiver.scripts["/a"] = [400, 200]
    d = await make()
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)  # a scheduled retry would be waited for here
    assert len(receiver.at("/a")) == 1
    assert (count(metrics, "failed"), count(metrics, "retry")) == (1, 0)


async def test_hanging_receiver_times_out_then_retry_delivers(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    await add_hook(store, "wh_slow", f"{receiver.base_url}/slow", ("participant.joined",))
    await add_hook(store, "wh_ok", f"{receiver.base_url}/ok", ("chat.message",))
    receiver.scripts["/slow"] = ["hang"]
    d = await make(timeout_s=0.3, retry_delays=(0.05,), concurrency=2)
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    d.publish("chat.message", {"text": "hi"}, meeting_id="m_1")
    await d.drain(5)
    assert len(receiver.at("/slow")) == 2
    assert len(receiver.at("/ok")) == 1
    assert (count(metrics, "retry"), count(metrics, "delivered")) == (1, 2)


async def test_connection_refused_is_retried_then_fails(
    store: Store, make: Any, metrics: Metrics
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    await add_hook(store, "wh_a", f"http://127.0.0.1:{port}/a", ("participant.joined",))
    d = await make(retry_delays=(0.02,))
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert (count(metrics, "retry"), count(metrics, "failed")) == (1, 1)


async def test_non_http_hook_url_is_refused(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics, caplog: Any
) -> None:
    await add_hook(store, "wh_f", "file:///etc/passwd", ("participant.joined",))
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    d = await make()
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert len(receiver.requests) == 1
    assert (count(metrics, "failed"), count(metrics, "delivered")) == (1, 1)
    assert "not an http(s) URL" in caplog.text


# --- targets (SSRF guard at delivery) ---------------------------------------------------------
def resolving(answers: dict[str, list[list[str]]], calls: list[str]) -> TargetPolicy:
    """A policy allowing 127.0.0.1 whose DNS answers come from ``answers`` (one list of
    addresses per lookup, the last one repeated), as a rebinding DNS server would."""

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        seq = answers[host]
        return seq.pop(0) if len(seq) > 1 else seq[0]

    return TargetPolicy(LOOPBACK_ALLOWED.allowed, resolver=resolve)


async def test_stored_hook_to_a_forbidden_address_is_never_posted(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics, caplog: Any
) -> None:
    # Stored before the guard (or by hand): the default policy allows no loopback.
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    port = receiver.base_url.rsplit(":", 1)[1]
    await add_hook(store, "wh_u", f"http://u:p@127.0.0.1:{port}/u", ("participant.joined",))
    d = await make(targets=TargetPolicy(), retry_delays=(0.02, 0.02))
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert receiver.requests == []
    # the loopback one is retried like a failure, the one with user info refused at once
    assert (count(metrics, "retry"), count(metrics, "failed")) == (2, 2)
    assert "is loopback" in caplog.text and "user info" in caplog.text
    assert count(metrics, "delivered") == 0


async def test_dns_rebinding_to_loopback_is_not_posted(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    port = receiver.base_url.rsplit(":", 1)[1]
    url = f"http://hooks.bank.test:{port}/a"
    await add_hook(store, "wh_a", url, ("participant.joined",))
    calls: list[str] = []
    # Public when the hook was registered, loopback (not allowed here) ever after.
    policy = resolving({"hooks.bank.test": [["93.184.215.14"], ["127.0.0.2"]]}, calls)
    await policy.vet_url(url)  # registration: accepted
    d = await make(targets=policy, retry_delays=(0.02,))
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert receiver.requests == []
    assert (count(metrics, "retry"), count(metrics, "failed")) == (1, 1)
    assert calls == ["hooks.bank.test"] * 3  # registration, then once per attempt


async def test_delivery_connects_to_the_address_it_vetted(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    """One resolution per connection, and that answer is the one connected to: a
    resolver that turns hostile right after the check has no second lookup to win.
    The Host header stays the hook's host name."""
    port = receiver.base_url.rsplit(":", 1)[1]
    await add_hook(store, "wh_a", f"http://hooks.bank.test:{port}/a", ("participant.joined",))
    calls: list[str] = []
    policy = resolving({"hooks.bank.test": [["127.0.0.1"], ["169.254.169.254"]]}, calls)
    d = await make(targets=policy)
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    (got,) = receiver.at("/a")
    assert got.headers["host"] == f"hooks.bank.test:{port}"
    verify_webhook(SECRET, got.body, got.headers)
    assert calls == ["hooks.bank.test"] and count(metrics, "delivered") == 1


async def test_one_forbidden_address_among_good_ones_refuses_the_name(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    port = receiver.base_url.rsplit(":", 1)[1]
    await add_hook(store, "wh_a", f"http://both.bank.test:{port}/a", ("participant.joined",))
    calls: list[str] = []
    policy = resolving({"both.bank.test": [["127.0.0.1", "10.0.0.1"]]}, calls)
    d = await make(targets=policy, retry_delays=())
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert receiver.requests == [] and count(metrics, "failed") == 1


async def test_redirects_are_not_followed(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    receiver.scripts["/a"] = [(307, {"Location": f"{receiver.base_url}/elsewhere"})]
    d = await make()
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    assert [r.path for r in receiver.requests] == ["/a"]
    assert (count(metrics, "failed"), count(metrics, "retry")) == (1, 0)


# --- the hot path -----------------------------------------------------------------------------
async def test_publish_never_blocks_and_drops_when_full(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics, caplog: Any
) -> None:
    assert not inspect.iscoroutinefunction(WebhookDispatcher.publish)
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    d = await make(start=False, max_queue=10)
    for i in range(1000):
        assert d.publish("participant.joined", {**JOINED, "seq": i}, meeting_id="m_1") is None
    assert count(metrics, "dropped") == 990
    drops = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(drops) == 1 and drops[0].levelno == logging.WARNING  # not one line per drop

    await d.start()
    await d.drain(5)
    seqs = sorted(
        verify_webhook(SECRET, r.body, r.headers)["data"]["seq"] for r in receiver.at("/a")
    )
    assert seqs == list(range(10))
    assert count(metrics, "delivered") == 10


async def test_publish_survives_bad_input_and_hanging_receivers(
    receiver: Receiver, store: Store, make: Any, metrics: Metrics
) -> None:
    await add_hook(store, "wh_slow", f"{receiver.base_url}/slow", ("chat.message",))
    receiver.scripts["/slow"] = ["hang"] * 5
    d = await make(timeout_s=5.0, concurrency=1)
    d.publish("chat.message", None, meeting_id="m_1")  # not a mapping
    d.publish("chat.message", {"at": T0, "obj": object()}, meeting_id="m_1")
    for _ in range(200):  # the only worker is stuck on the receiver; publish still returns
        d.publish("chat.message", {"text": "hi"}, meeting_id="m_1")

    async def stuck() -> bool:
        return len(receiver.at("/slow")) == 1

    await eventually(stuck)
    await asyncio.sleep(0.05)
    assert len(receiver.at("/slow")) == 1  # the only worker waits on it
    assert len(await store.list_webhook_deliveries(limit=1000)) == 201  # stored meanwhile
    await d.stop(drain_s=0.1)  # gives up, cancels the stuck request
    assert count(metrics, "delivered") == 0


# --- the outbox: restarts, several nodes, dead nodes, retention ---------------------------------
def node(store: Store, metrics: Metrics, name: str, **kw: Any) -> WebhookDispatcher:
    kw.setdefault("timeout_s", 2.0)
    kw.setdefault("targets", LOOPBACK_ALLOWED)
    kw.setdefault("poll_s", 0.05)
    return WebhookDispatcher(store, metrics=metrics, node_id=name, **kw)


async def test_two_nodes_never_deliver_an_event_twice(
    receiver: Receiver, store: SqlStore, target: Target
) -> None:
    """Two nodes on one database, both publishing and both delivering, some
    deliveries retried (by either node): one 2xx per delivery, no more."""
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    await add_hook(store, "wh_b", f"{receiver.base_url}/b", ("participant.joined",))
    receiver.scripts["/a"] = [500] * 5  # fewer than one delivery's attempts
    receiver.delay_s = 0.005
    other = await target.open()
    metrics = [Metrics(), Metrics()]
    delays = (0.02,) * 5
    nodes = [
        node(st, m, f"node-{i}", retry_delays=delays, concurrency=3)
        for i, (st, m) in enumerate(zip((store, other), metrics, strict=True))
    ]
    n = 30
    try:
        for d in nodes:
            await d.start()
        for i in range(n):
            nodes[i % 2].publish("participant.joined", {**JOINED, "seq": i}, meeting_id="m_1")
        for d in nodes:
            await d.drain(10)
        ok = Counter(
            r.headers["frontdesk-webhook-id"] for r in receiver.requests if r.status == 200
        )
        assert len(ok) == 2 * n and set(ok.values()) == {1}
        assert len([r for r in receiver.requests if r.status == 500]) == 5
        delivered = [count(m, "delivered") for m in metrics]
        assert sum(delivered) == 2 * n and min(delivered) > 0  # both nodes delivered
        assert sum(count(m, "retry") for m in metrics) == 5
        rows = await store.list_webhook_deliveries(limit=1000)
        assert len(rows) == 2 * n and {r.state for r in rows} == {DeliveryState.DELIVERED}
        assert {r.id for r in rows} == set(ok)
    finally:
        for d in nodes:
            await d.stop(drain_s=0)
        await other.close()


async def test_retries_survive_a_restart(
    receiver: Receiver, store: SqlStore, target: Target, metrics: Metrics
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    receiver.scripts["/a"] = [503, 500, 200]
    first = node(store, metrics, "node-1", retry_delays=(0.3, 0.05))
    await first.start()
    first.publish("participant.joined", JOINED, meeting_id="m_1")

    async def retry_scheduled() -> bool:
        return count(metrics, "retry") == 1

    await eventually(retry_scheduled)
    await first.stop(drain_s=0)  # before the retry falls due
    (row,) = await store.list_webhook_deliveries()
    assert (row.state, row.attempts, row.claimed_by) == (DeliveryState.PENDING, 1, None)
    assert row.last_error == "HTTP 503"

    restarted = await target.open()  # the node again, from scratch
    try:
        second = node(restarted, Metrics(), "node-1", retry_delays=(0.3, 0.05))
        await second.start()
        await second.drain(5)
        await second.stop()
        got = receiver.at("/a")
        assert [r.status for r in got] == [503, 500, 200]
        assert len({r.headers["frontdesk-webhook-id"] for r in got}) == 1  # one delivery id
        assert len({r.body for r in got}) == 1
        for r in got:
            assert verify_webhook(SECRET, r.body, r.headers)["id"] == row.id
        (done,) = await restarted.list_webhook_deliveries()
        assert (done.id, done.state, done.attempts) == (row.id, DeliveryState.DELIVERED, 3)
    finally:
        await restarted.close()


async def test_a_dead_nodes_claim_is_taken_over_when_it_expires(
    receiver: Receiver, store: SqlStore, make: Any
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    pending = WebhookDelivery(
        id="dlv_1",
        webhook_id="wh_a",
        app_id="app_1",
        event="participant.joined",
        payload=JOINED,
        meeting_id="m_1",
        created_at=T0,
    )
    await store.enqueue_webhook_deliveries([pending])
    # a node claimed it, then died before it posted anything
    assert len(await store.claim_webhook_deliveries("node-9/dead", limit=5, claim_s=1.0)) == 1
    d = await make(poll_s=0.05)
    await asyncio.sleep(0.3)
    assert receiver.requests == []  # the claim still holds
    await d.drain(5)
    (got,) = receiver.at("/a")
    payload = verify_webhook(SECRET, got.body, got.headers)
    assert got.headers["frontdesk-webhook-id"] == payload["id"] == "dlv_1"
    assert payload == {
        "id": "dlv_1",
        "type": "participant.joined",
        "created_at": T0.isoformat(),
        "data": JOINED,
    }
    (row,) = await store.list_webhook_deliveries()
    assert (row.state, row.attempts) == (DeliveryState.DELIVERED, 2)  # the dead claim counted


async def test_stopping_hands_claims_in_flight_back(
    receiver: Receiver, store: SqlStore, make: Any, metrics: Metrics
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    receiver.scripts["/a"] = ["hang"]
    first = await make(timeout_s=30)
    first.publish("participant.joined", JOINED, meeting_id="m_1")

    async def posted() -> bool:
        return len(receiver.at("/a")) == 1

    await eventually(posted)
    await first.stop(drain_s=0.1)  # cuts the hanging post short
    (row,) = await store.list_webhook_deliveries()
    assert (row.state, row.claimed_by, row.attempts) == (DeliveryState.PENDING, None, 1)
    second = await make()  # claims it at once: no claim to wait out
    await second.drain(5)
    got = receiver.at("/a")
    assert len(got) == 2 and got[0].headers["frontdesk-webhook-id"] == row.id
    assert got[1].headers["frontdesk-webhook-id"] == row.id
    assert (count(metrics, "delivered"), count(metrics, "failed")) == (1, 0)


async def test_finished_deliveries_are_purged_after_the_retention(
    receiver: Receiver, store: SqlStore, make: Any
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    await add_hook(store, "wh_b", f"{receiver.base_url}/b", ("participant.joined",))
    receiver.scripts["/b"] = [404]
    d = await make(retention_s=3600, purge_every_s=0.05, poll_s=0.05)
    d.publish("participant.joined", JOINED, meeting_id="m_1")
    await d.drain(5)
    rows = await store.list_webhook_deliveries()
    assert sorted(r.state for r in rows) == [DeliveryState.DELIVERED, DeliveryState.FAILED]
    await asyncio.sleep(0.2)  # purged often: still there, they are recent
    assert len(await store.list_webhook_deliveries()) == 2
    async with store.engine.begin() as conn:  # an hour and more goes by
        await conn.execute(sa.update(tables.webhook_deliveries).values(next_attempt_at=T0))

    async def purged() -> bool:
        return not await store.list_webhook_deliveries()

    await eventually(purged)


async def test_a_store_refusing_deliveries_never_reaches_the_meeting(
    receiver: Receiver,
    store: SqlStore,
    make: Any,
    metrics: Metrics,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
) -> None:
    await add_hook(store, "wh_a", f"{receiver.base_url}/a", ("participant.joined",))
    monkeypatch.setattr(webhooks, "_STORE_RETRIES", (0.01, 0.01))
    calls: list[int] = []

    async def refuse(rows: Sequence[WebhookDelivery]) -> int:
        calls.append(len(rows))
        raise Unavailable("the database is unavailable")

    monkeypatch.setattr(store, "enqueue_webhook_deliveries", refuse)
    d = await make()
    assert d.publish("participant.joined", JOINED, meeting_id="m_1") is None

    async def dropped() -> bool:
        return count(metrics, "dropped") == 1

    await eventually(dropped)
    assert calls == [1, 1, 1]
    assert "cannot store 1 deliveries" in caplog.text and "dropped" in caplog.text
    monkeypatch.undo()  # the database is back
    d.publish("participant.joined", {**JOINED, "seq": 2}, meeting_id="m_1")
    await d.drain(5)
    (got,) = receiver.at("/a")
    assert verify_webhook(SECRET, got.body, got.headers)["data"]["seq"] == 2
