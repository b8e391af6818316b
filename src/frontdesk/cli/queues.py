"""``frontdesk queues ...``: helpdesk queues and agents' capacity, in the database
named by ``FRONTDESK_DATABASE_URL`` (a running node takes changes up within
seconds)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import typer

from frontdesk.cli._common import JsonOpt, emit, run
from frontdesk.domain.helpdesk import AgentProfile, Capacity, OpeningHours, Queue
from frontdesk.errors import ValidationFailed
from frontdesk.server.operations import Operations
from frontdesk.server.queue_out import queue_out

__all__ = ["queues"]

queues = typer.Typer(help="Helpdesk queues: who serves what, when.", no_args_is_help=True)
_COLUMNS = ["name", "topics", "languages", "hours", "max_wait_s", "agents"]


def _hours(time_zone: str | None, hours: str | None) -> OpeningHours | None:
    if hours is None:
        return None
    try:
        weekly = json.loads(hours)
    except ValueError:
        raise ValidationFailed('--hours is JSON: {"mon": [["09:00", "17:00"]], ...}') from None
    if not isinstance(weekly, dict):
        raise ValidationFailed('--hours is JSON: {"mon": [["09:00", "17:00"]], ...}')
    return OpeningHours.from_dict(time_zone or "UTC", weekly)


def _split(value: str | None) -> frozenset[str]:
    return frozenset(v.strip() for v in (value or "").split(",") if v.strip())


@queues.command("create")
def create(
    name: str = typer.Argument(..., help="The queue's name."),
    topics: str = typer.Option("", "--topics", help="Comma-separated; empty: any."),
    languages: str = typer.Option("", "--languages", help="Comma-separated; empty: any."),
    time_zone: str = typer.Option("UTC", "--time-zone", help="IANA zone of --hours."),
    hours: str | None = typer.Option(
        None, "--hours", help='Weekly JSON, e.g. {"mon": [["09:00", "17:00"]]}; unset: always open.'
    ),
    max_wait_s: int | None = typer.Option(None, "--max-wait", help="Seconds; unset: no limit."),
    service_level_s: int = typer.Option(60, "--service-level", help="Answer-within target, s."),
    agents: str = typer.Option("", "--agents", help="Comma-separated usernames."),
    as_json: bool = JsonOpt,
) -> None:
    """Create a queue."""

    async def go(ops: Operations) -> dict[str, Any]:
        queue = Queue(
            name,
            _split(topics),
            _split(languages),
            _hours(time_zone, hours),
            None if max_wait_s is None else timedelta(seconds=max_wait_s),
            _split(agents),
            timedelta(seconds=service_level_s),
        )
        return queue_out(await ops.queues.create(queue))

    emit(run(go, as_json=as_json), as_json=as_json, columns=_COLUMNS)


@queues.command("list")
def list_(as_json: bool = JsonOpt) -> None:
    """List the queues."""

    async def go(ops: Operations) -> list[dict[str, Any]]:
        return [queue_out(q) for q in await ops.queues.all()]

    emit(run(go, as_json=as_json), as_json=as_json, columns=_COLUMNS)


@queues.command("show")
def show(
    name: str = typer.Argument(..., help="The queue's name."), as_json: bool = JsonOpt
) -> None:
    """Show one queue."""

    async def go(ops: Operations) -> dict[str, Any]:
        return queue_out(await ops.queues.get(name))

    emit(run(go, as_json=as_json), as_json=as_json)


@queues.command("update")
def update(
    name: str = typer.Argument(..., help="The queue's name."),
    topics: str | None = typer.Option(None, "--topics", help="Comma-separated; empty: any."),
    languages: str | None = typer.Option(None, "--languages", help="Comma-separated; empty: any."),
    time_zone: str | None = typer.Option(None, "--time-zone", help="IANA zone of --hours."),
    hours: str | None = typer.Option(
        None, "--hours", help='Weekly JSON; "always" for always open.'
    ),
    max_wait_s: int | None = typer.Option(None, "--max-wait", help="Seconds; 0: no limit."),
    service_level_s: int | None = typer.Option(
        None, "--service-level", help="Answer-within target, s."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Change some settings of a queue (the others stay)."""

    async def go(ops: Operations) -> dict[str, Any]:
        q = await ops.queues.get(name)
        changes: dict[str, Any] = {}
        if topics is not None:
            changes["topics"] = _split(topics)
        if languages is not None:
            changes["languages"] = _split(languages)
        if hours == "always":
            changes["hours"] = None
        elif hours is not None:
            zone = time_zone or (q.hours.time_zone if q.hours else "UTC")
            changes["hours"] = _hours(zone, hours)
        elif time_zone is not None and q.hours is not None:
            changes["hours"] = OpeningHours(time_zone, q.hours.weekly)
        if max_wait_s is not None:
            changes["max_wait"] = timedelta(seconds=max_wait_s) if max_wait_s else None
        if service_level_s is not None:
            changes["service_level"] = timedelta(seconds=service_level_s)
        return queue_out(await ops.queues.update(dataclasses.replace(q, **changes)))

    emit(run(go, as_json=as_json), as_json=as_json, columns=_COLUMNS)


@queues.command("delete")
def delete(
    name: str = typer.Argument(..., help="The queue's name."), as_json: bool = JsonOpt
) -> None:
    """Delete a queue (refused while it has open visits)."""

    async def go(ops: Operations) -> dict[str, Any]:
        await ops.queues.delete(name)
        return {"deleted": name}

    emit(run(go, as_json=as_json), as_json=as_json)


@queues.command("add-agent")
def add_agent(
    name: str = typer.Argument(..., help="The queue's name."),
    agent: str = typer.Argument(..., help="The agent's username."),
    as_json: bool = JsonOpt,
) -> None:
    """Let an agent serve the queue."""

    async def go(ops: Operations) -> dict[str, Any]:
        return queue_out(await ops.queues.add_agent(name, agent))

    emit(run(go, as_json=as_json), as_json=as_json, columns=_COLUMNS)


@queues.command("remove-agent")
def remove_agent(
    name: str = typer.Argument(..., help="The queue's name."),
    agent: str = typer.Argument(..., help="The agent's username."),
    as_json: bool = JsonOpt,
) -> None:
    """Stop an agent serving the queue."""

    async def go(ops: Operations) -> dict[str, Any]:
        return queue_out(await ops.queues.remove_agent(name, agent))

    emit(run(go, as_json=as_json), as_json=as_json, columns=_COLUMNS)


@queues.command("agent-capacity")
def agent_capacity(
    agent: str = typer.Argument(..., help="The agent's username."),
    video: int = typer.Option(1, "--video", help="Video visits at once (0 to 4)."),
    chats: int = typer.Option(3, "--chats", help="Chats at once (0 to 20)."),
    languages: str = typer.Option("", "--languages", help="Comma-separated; empty: any."),
    topics: str = typer.Option("", "--topics", help="Comma-separated; empty: any."),
    as_json: bool = JsonOpt,
) -> None:
    """Set an agent's capacity ("1 video or N chats") and skills."""

    async def go(ops: Operations) -> dict[str, Any]:
        p = await ops.queues.set_profile(
            AgentProfile(agent, Capacity(video, chats), _split(languages), _split(topics))
        )
        return {
            "agent": p.agent_id,
            "video": p.capacity.video,
            "chats": p.capacity.chats,
            "languages": sorted(p.languages),
            "topics": sorted(p.topics),
        }

    emit(run(go, as_json=as_json), as_json=as_json)
