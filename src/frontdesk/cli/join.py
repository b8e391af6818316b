"""``frontdesk join``: a terminal chat client on the Python App SDK.

::

    frontdesk join https://host/j/CODE --name Ann
    FRONTDESK_GUEST_TOKEN=... frontdesk join --discovery https://host/v1/discovery/ID
    frontdesk join URL --name Ann --once "Hello"      # for scripts: send, then leave

Events print as lines; each line typed is sent as chat. ``/quit`` leaves;
``/who`` lists the roster; moderators may ``/admit ID``, ``/deny ID`` and ``/end``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncIterator
from typing import TextIO

import typer
from rich.console import Console
from rich.markup import escape

from frontdesk import client as fd
from frontdesk.domain import events as ev
from frontdesk.errors import FrontdeskError, ValidationFailed

__all__ = ["describe", "join", "run_join", "stdin_lines"]

HELP = "/quit leaves · /who lists who is here · /admit ID · /deny ID · /end (moderators)"


def join(
    url: str | None = typer.Argument(None, help="The meeting's join URL."),
    name: str = typer.Option("Guest", "--name", "-n", help="Display name (join URL only)."),
    discovery: str | None = typer.Option(
        None, "--discovery", help="Discovery URI from the back end (with --token)."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="FRONTDESK_GUEST_TOKEN",
        help="Guest token (prefer the FRONTDESK_GUEST_TOKEN variable: argv is visible).",
    ),
    once: str | None = typer.Option(None, "--once", help="Send this one message, then leave."),
    wait: float = typer.Option(300.0, "--wait", help="Seconds to wait for admission (--once)."),
) -> None:
    """Join a meeting as a guest and chat in the terminal."""
    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        meeting = _open(url, name, discovery, token)
    except FrontdeskError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {escape(exc.detail)}")
        raise typer.Exit(2) from None
    lines = None if once is not None else stdin_lines()
    try:
        code = asyncio.run(run_join(meeting, console, once=once, lines=lines, admit_timeout=wait))
    except FrontdeskError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {escape(exc.detail)}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _open(url: str | None, name: str, discovery: str | None, token: str | None) -> fd.Meeting:
    if discovery is not None or token is not None:
        if url is not None or discovery is None or not token:
            raise ValidationFailed("use either URL --name NAME, or --discovery URI --token T")
        return fd.join_with_token(discovery, token)
    if url is None:
        raise ValidationFailed("give the join URL, or --discovery and --token")
    return fd.join(url, display_name=name)


async def run_join(
    meeting: fd.Meeting,
    console: Console,
    *,
    once: str | None = None,
    lines: AsyncIterator[str] | None = None,
    admit_timeout: float | None = None,
) -> int:
    """Run a joined session until ``/quit``, the end of ``lines`` or the end of the
    session. Returns the exit code: 0 when we left, 1 when the session ended otherwise."""
    async with meeting:
        me = meeting.participant_id
        console.print(f"[bold]joined[/bold] as {me} ({meeting.state.value}) · {HELP}")
        meeting.on("*", lambda e: _print(console, meeting, e))
        if once is not None:
            await meeting.admitted(timeout=admit_timeout)
            sent = await meeting.chat.send(once)
            console.print(f"sent #{sent.seq}")
            return 0
        if lines is not None:
            closed = asyncio.create_task(meeting.wait_closed())
            typed = asyncio.create_task(_handle_lines(meeting, console, lines))
            await asyncio.wait({closed, typed}, return_when=asyncio.FIRST_COMPLETED)
            for task in (closed, typed):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, FrontdeskError):
                    await task
        else:
            await meeting.wait_closed()
    reason = meeting.left_reason or "left"
    if reason != "left":
        console.print(f"[yellow]session ended[/yellow]: {reason}")
        return 1
    return 0


async def _handle_lines(meeting: fd.Meeting, console: Console, lines: AsyncIterator[str]) -> None:
    async for raw in lines:
        line = raw.strip()
        if not line:
            continue
        command, _, arg = line.partition(" ")
        try:
            if command == "/quit":
                return
            if command == "/who":
                for p in meeting.roster.values():
                    console.print(f"  {escape(p.display_name)} ({p.role.value}, {p.id})")
                for entry in meeting.lobby.values():
                    name = escape(entry.display_name)
                    console.print(f"  {name} waiting in the lobby ({entry.participant_id})")
            elif command in ("/admit", "/deny"):
                action = meeting.admit if command == "/admit" else meeting.deny
                await action(arg.strip())
            elif command == "/end":
                await meeting.end()
            elif command.startswith("/"):
                console.print(HELP)
            elif meeting.state is fd.SessionState.LOBBY:
                console.print("[dim](still in the lobby: not sent)[/dim]")
            else:
                await meeting.chat.send(line)
        except FrontdeskError as exc:
            console.print(f"[red]error[/red] ({exc.code}): {escape(exc.detail)}")


def describe(meeting: fd.Meeting, event: fd.MeetingEvent) -> str | None:
    """One line (rich markup) for an event, or ``None`` for events not worth a line."""
    me = meeting.participant_id
    d = event.data
    match event.payload:
        case ev.ChatPosted() as chat:
            stamp = event.at.strftime("%H:%M") if event.at else "--:--"
            name = escape(chat.display_name)
            text = "[dim](removed by chat retention)[/dim]" if chat.redacted else escape(chat.text)
            return f"[dim]{stamp}[/dim] [bold]{name}[/bold]: {text}"
        case ev.ParticipantJoined(participant=p):
            return f"→ {escape(p.display_name)} joined ({p.role.value})"
        case ev.ParticipantWaiting(participant=p):
            vouched = "vouched" if p.vouched else "URL only"
            name = escape(p.display_name)
            return f"… {name} is waiting in the lobby ({vouched}): /admit {p.id}"
        case ev.ParticipantLeft() as left:
            return f"← {escape(left.display_name)} left ({left.reason.value})"
        case ev.ParticipantAdmitted(participant_id=pid) if pid == me:
            return "[green]you were admitted[/green]"
        case ev.LobbyPosition() as pos if pos.participant_id == me:
            present = "an organizer is here" if pos.organizer_present else "no organizer yet"
            return f"you are #{pos.position} in the lobby; {present}"
        case ev.ParticipantReconnecting(participant_id=pid):
            return f"{_name(meeting, pid)} reconnecting"
        case ev.ParticipantReconnected(participant_id=pid):
            return f"{_name(meeting, pid)} reconnected"
        case ev.MediaChanged() as media:
            flags = [f for f in ("audio_muted", "video_muted", "hand_raised") if getattr(media, f)]
            return f"{_name(meeting, media.participant_id)}: {', '.join(flags) or 'unmuted'}"
        case ev.MeetingEnded():
            return "[yellow]the meeting has ended[/yellow]"
    if event.name == "state_changed" and d.get("state") in ("reconnecting", "joined"):
        return f"[dim]({d.get('state')})[/dim]"
    if event.name == "error":
        return f"[red]error[/red] ({d.get('code')}): {escape(str(d.get('message')))}"
    return None


def _name(meeting: fd.Meeting, participant_id: str) -> str:
    p = meeting.roster.get(participant_id)
    if p is not None:
        return escape(p.display_name)
    entry = meeting.lobby.get(participant_id)
    return escape(entry.display_name) if entry is not None else participant_id


def _print(console: Console, meeting: fd.Meeting, event: fd.MeetingEvent) -> None:
    line = describe(meeting, event)
    if line is not None:
        console.print(line)


def stdin_lines(stream: TextIO | None = None) -> AsyncIterator[str]:
    """Lines of ``stream`` (stdin) as an async iterator, read by a daemon thread so
    that a blocked read never keeps the process alive."""
    source = stream if stream is not None else sys.stdin

    async def lines() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def put(item: str | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def reader() -> None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                for line in source:
                    put(line)
                put(None)

        threading.Thread(target=reader, daemon=True, name="frontdesk-stdin").start()
        while (item := await queue.get()) is not None:
            yield item

    return lines()
