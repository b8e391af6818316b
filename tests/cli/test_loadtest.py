"""``frontdesk loadtest`` against a real node: every sent message is acked and
delivered to the other guests of its meeting."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frontdesk.cli.loadgen import Hist
from frontdesk.cli.loadtest import Shape, ShapeReport, run_loadtest, run_shape, summary
from frontdesk.cli.main import app
from frontdesk.config import Settings
from tests.support.live_server import live_server


async def test_loadtest_small_run(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/lt.db")
    async with live_server(settings) as srv:
        ops = srv.ops
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        creds = await ops.apps.create("load")
        res = await run_loadtest(
            url=srv.base_url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            organizer="alice",
            meetings=3,
            guests=3,
            rate=4,
            duration=1.5,
        )
    assert res.errors == {}
    assert len(res.join_ms) == 9
    assert res.sent >= 9 * 4
    assert len(res.ack_ms) == res.sent
    # each message reaches the two other guests of its meeting
    assert res.received == 2 * res.sent
    assert any("chat delivery" in line for line in summary(res))


# --- raw WebSocket clients in worker processes (frontdesk.cli.loadgen) -----------------------


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    """A node with its limits raised, an organizer and an application."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/raw.db",
        ws_messages_per_s=1000,
        rate_limit_per_min=100_000,
    )
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        creds = await srv.ops.apps.create("load")
        yield srv.base_url, creds.client_id, creds.client_secret


async def shape(node: tuple[str, str, str], shape: Shape, **kw: object) -> ShapeReport:
    url, client_id, secret = node
    args: dict[str, object] = {
        "meetings": 2, "guests": 2, "rate": 5.0, "duration": 1.0, "processes": 1,
        "concurrency": 4, "deflate": True,
    }  # fmt: skip
    args.update(kw)
    return await run_shape(
        url=url, client_id=client_id, client_secret=secret, organizer="alice", shape=shape,
        **args,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_pairs_over_two_processes(node: tuple[str, str, str]) -> None:
    r = await shape(node, Shape.pairs, meetings=3, guests=7, processes=2)
    assert r.ok, r.lines
    assert r.join is not None and r.join.joined == 6  # --guests is 2 for pairs
    c = r.chat
    assert c is not None and c.sent >= 6 * 4
    assert c.acked == c.sent == c.ack.n
    assert c.received == c.sent == c.delivery.n  # each message reaches the other guest
    assert any(line.startswith("chat delivery") for line in r.lines)


async def test_room_senders_go_as_fast_as_acks(node: tuple[str, str, str]) -> None:
    r = await shape(node, Shape.room, guests=5, senders=2, deflate=False)
    assert r.ok, r.lines
    c = r.chat
    assert c is not None and c.senders == 2 and c.members == 5
    assert c.acked == c.sent > 10  # closed loop: far more than --rate
    assert c.received == 4 * c.sent


async def test_room_over_the_participant_cap_reports_refusals(node: tuple[str, str, str]) -> None:
    r = await shape(node, Shape.joins, meetings=1, guests=52, concurrency=8)
    assert not r.ok
    assert r.join is not None and r.join.joined == 50
    assert r.join.errors == {"limit_exceeded": 2}


async def test_joins_and_idle_read_the_node_from_proc(node: tuple[str, str, str]) -> None:
    r = await shape(node, Shape.joins, meetings=3, guests=2, node_pid=os.getpid())
    assert r.ok, r.lines
    assert r.join is not None and r.join.joined == 6 and r.join.latency.n == 6
    assert r.join.rate > 0 and r.join.node_cpu >= 0
    r = await shape(node, Shape.idle, meetings=2, guests=2, node_pid=os.getpid())
    assert r.ok, r.lines
    assert r.rss_mb is not None and r.rss_mb[1] > 0
    assert any("idle guests" in line for line in r.lines)


async def test_api_shape_creates_meetings_with_tokens(node: tuple[str, str, str]) -> None:
    r = await shape(node, Shape.api, concurrency=2)
    assert r.ok, r.lines
    assert r.api is not None and r.api.done > 0 and r.api.latency.n >= r.api.done


def test_cli_refuses_raw_shapes_without_processes() -> None:
    args = "loadtest --client-id x --client-secret y --organizer alice --shape room --processes 0"
    result = CliRunner().invoke(app, args.split())
    assert result.exit_code == 2
    assert "needs --processes" in result.output


def test_histogram_percentiles_and_merge() -> None:
    a, b = Hist(), Hist()
    for us in range(1, 1001):
        a.add(us)  # 1 µs .. 1 ms, exact
    for us in (5_000, 1_000_000):
        b.add(us)  # 5 ms, 1 s: within 0.1 %
    assert a.pct_ms(50) == 0.5 and a.pct_ms(99) == 0.99
    merged = Hist.of([a.sparse(), b.sparse()])
    assert merged.n == 1002
    assert abs(merged.max_ms() - 1000) < 1
    assert abs(Hist.of([b.sparse()]).pct_ms(1) - 5) < 0.005
