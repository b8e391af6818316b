"""``frontdesk join``: the terminal chat client, against the fake RTC server."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from frontdesk.cli.join import join, run_join, stdin_lines

from .conftest import join_fake
from .fake_rtc import FakeRtc, running, until


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, highlight=False, color_system=None), out


async def _lines(*items: str, gate: asyncio.Event | None = None) -> AsyncIterator[str]:
    for item in items:
        if gate is not None:
            await gate.wait()
        yield item


async def test_once_sends_one_message_and_leaves(fake: FakeRtc) -> None:
    console, out = _console()
    code = await run_join(join_fake(fake), console, once="Hello from a script", admit_timeout=2)
    assert code == 0
    assert [f["text"] for f in fake.frames if f["type"] == "chat"] == ["Hello from a script"]
    assert any(f["type"] == "leave" for f in fake.frames)
    assert "sent #1" in out.getvalue()


async def test_typed_lines_become_chat_and_events_print(fake: FakeRtc) -> None:
    console, out = _console()
    lines = _lines("hello there\n", "\n", "/who\n", "/quit\n")
    assert await run_join(join_fake(fake), console, lines=lines) == 0
    text = out.getvalue()
    assert [f["text"] for f in fake.frames if f["type"] == "chat"] == ["hello there"]
    assert "Ann: hello there" in text  # the chat_message event, printed once
    assert text.count("hello there") == 1
    assert "Alice (organizer, p_alice)" in text


async def test_session_ended_by_others_exits_1(fake: FakeRtc) -> None:
    console, out = _console()
    gate = asyncio.Event()  # never set: the user types nothing
    task = asyncio.create_task(run_join(join_fake(fake), console, lines=_lines("x", gate=gate)))
    await until(lambda: fake.conn is not None)
    await asyncio.sleep(0.05)
    await fake.emit("meeting_ended", {"reason": "ended_by_moderator", "by": "p_alice"})
    await fake.bye("meeting_ended", 4010)
    assert await asyncio.wait_for(task, 3) == 1
    assert "the meeting has ended" in out.getvalue()
    assert "session ended: meeting_ended" in out.getvalue()


async def test_stdin_lines_reads_a_stream() -> None:
    got = [line async for line in stdin_lines(io.StringIO("a\nb\n"))]
    assert got == ["a\n", "b\n"]


@pytest.fixture
def threaded_fake() -> Iterator[FakeRtc]:
    """The fake server on its own loop in a thread (the CLI runs its own loop)."""
    fake = FakeRtc()
    ready, stop = threading.Event(), threading.Event()

    async def main() -> None:
        async with running(fake):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(5)
    yield fake
    stop.set()
    thread.join(5)


def test_cli_command_once(threaded_fake: FakeRtc) -> None:
    app = typer.Typer()
    app.command()(join)
    result = CliRunner().invoke(app, [threaded_fake.join_url, "--name", "Ann", "--once", "hi"])
    assert result.exit_code == 0, result.output
    assert "sent #1" in result.output
    assert threaded_fake.hellos[0]["auth"]["display_name"] == "Ann"


def test_cli_command_rejects_mixed_arguments() -> None:
    app = typer.Typer()
    app.command()(join)
    result = CliRunner().invoke(app, ["http://127.0.0.1:9/j/x", "--discovery", "http://x/d"])
    assert result.exit_code == 2
