"""The helpdesk over HTTP: visits and queues (service API), the agent's side
(user API, ``/v1/me/helpdesk``) and the supervisor board.

Routes translate and call :class:`~frontdesk.server.helpdesk.Helpdesk`; the
router decides.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from frontdesk.domain.helpdesk import (
    AgentPresence,
    AgentProfile,
    Capacity,
    Medium,
    OpeningHours,
    Queue,
    QueueBoard,
)
from frontdesk.domain.model import User, ensure_supervisor
from frontdesk.errors import AlreadyExists
from frontdesk.server.deps import AppDep, UserDep
from frontdesk.server.helpdesk import Helpdesk, VisitStatus, visit_json
from frontdesk.server.queue_out import queue_out, seconds_out
from frontdesk.server.schemas import Problem
from frontdesk.store.helpdesk import Callback

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["helpdesk"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    404: {"model": Problem},
    409: {
        "model": Problem,
        "description": "illegal_state, queue_closed (next_opening), queue_full",
    },
    422: {"model": Problem},
}
_Label = Annotated[str, Field(min_length=1, max_length=64)]


async def get_helpdesk(request: Request) -> Helpdesk:
    helpdesk: Helpdesk = request.app.state.helpdesk
    return helpdesk


HelpdeskDep = Annotated[Helpdesk, Depends(get_helpdesk)]


# --- schemas (the JSON edge) ---------------------------------------------------------
class _In(BaseModel):
    model_config = {"extra": "forbid"}


class HoursIn(_In):
    time_zone: str = Field(max_length=64, examples=["Europe/Paris"])
    weekly: dict[str, list[tuple[str, str]]] = Field(
        description='{"mon": [["09:00", "17:00"]], ...}; a missing day is closed'
    )


class QueueIn(_In):
    name: str = Field(max_length=63)
    topics: list[_Label] = Field(default_factory=list, max_length=50)
    languages: list[_Label] = Field(default_factory=list, max_length=50)
    hours: HoursIn | None = None
    max_wait_s: int | None = Field(None, gt=0, le=86400)
    service_level_s: int = Field(60, gt=0, le=3600)
    agents: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=500)

    def to_queue(self, name: str | None = None) -> Queue:
        hours = (
            None
            if self.hours is None
            else OpeningHours.from_dict(self.hours.time_zone, self.hours.weekly)
        )
        return Queue(
            name=name or self.name,
            topics=frozenset(self.topics),
            languages=frozenset(self.languages),
            hours=hours,
            max_wait=None if self.max_wait_s is None else timedelta(seconds=self.max_wait_s),
            agents=frozenset(self.agents),
            service_level=timedelta(seconds=self.service_level_s),
        )


class AgentIn(_In):
    agent: str = Field(max_length=64)


class AgentProfileIn(_In):
    capacity_video: int = Field(1, ge=0, le=4)
    capacity_chats: int = Field(3, ge=0, le=20)
    languages: list[_Label] = Field(default_factory=list, max_length=50)
    topics: list[_Label] = Field(default_factory=list, max_length=50)


class VisitIn(_In):
    queue: str = Field(max_length=63)
    display_name: str = Field(max_length=200)
    medium: Medium = Medium.VIDEO
    topic: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=64)
    context: str = Field("", max_length=2000, description="shown to the agent with the offer")
    ttl_s: int | None = Field(None, gt=0, le=86400, description="guest token lifetime")


class CallbackIn(_In):
    display_name: str = Field(max_length=200)
    message: str = Field(max_length=2000)
    contact: str = Field("", max_length=200)


class StateIn(_In):
    state: AgentPresence


class TransferIn(_In):
    to_queue: str | None = Field(None, max_length=63)
    to_agent: str | None = Field(None, max_length=64)
    note: str = Field("", max_length=1000)


def status_out(s: VisitStatus) -> dict[str, Any]:
    return visit_json(s.visit) | {
        "meeting_id": s.meeting_id,
        "position": s.position,
        "estimated_wait_s": seconds_out(s.estimate),
    }


def callback_out(c: Callback) -> dict[str, Any]:
    return {
        "id": c.id,
        "queue": c.queue,
        "display_name": c.display_name,
        "message": c.message,
        "contact": c.contact,
        "created_at": c.created_at.isoformat(),
        "resolved_at": c.resolved_at.isoformat() if c.resolved_at else None,
        "resolved_by": c.resolved_by,
    }


def board_out(b: QueueBoard) -> dict[str, Any]:
    return {
        "queue": b.queue,
        "open": b.open,
        "waiting": b.waiting,
        "offered": b.offered,
        "longest_wait_s": seconds_out(b.longest_wait),
        "service_level": b.service_level,
        "handle_time_s": seconds_out(b.handle_time),
        "agents": [
            {
                "agent": a.agent_id,
                "state": a.state.value,
                "visits": list(a.visits),
                "offer": a.offer,
            }
            for a in b.agents
        ],
    }


# --- visits (service API) -------------------------------------------------------------
@router.post("/visits", status_code=201, responses=_ERRORS)
async def create_visit(body: VisitIn, hd: HelpdeskDep, app: AppDep) -> JSONResponse:
    """Ask for the next available agent of a queue: the same join material as a
    guest token (discovery URI + token, or the join URL), and the visit id."""
    made = await hd.create_visit(
        app,
        queue=body.queue,
        display_name=body.display_name,
        medium=body.medium,
        topic=body.topic,
        language=body.language,
        context=body.context,
        ttl_s=body.ttl_s,
    )
    out = visit_json(made.visit) | {
        "meeting_id": made.grant.meeting_id,
        "join_url": made.join_url,
        "token": made.grant.token,
        "discovery_uri": made.grant.discovery_uri,
        "expires_at": made.grant.expires_at.isoformat(),
        "position": made.position,
        "estimated_wait_s": seconds_out(made.estimate),
    }
    return JSONResponse(out, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/visits/{visit_id}", responses=_ERRORS)
async def get_visit(visit_id: str, hd: HelpdeskDep, app: AppDep) -> dict[str, Any]:
    return status_out(await hd.status(visit_id, app))


@router.delete("/visits/{visit_id}", status_code=204, responses=_ERRORS)
async def cancel_visit(visit_id: str, hd: HelpdeskDep, app: AppDep) -> Response:
    """The visitor gave up before an agent took the visit (``visit.abandoned``)."""
    await hd.abandon(visit_id, app)
    return Response(status_code=204)


# --- queues (service API) ---------------------------------------------------------------
@router.post("/queues", status_code=201, responses=_ERRORS)
async def create_queue(body: QueueIn, hd: HelpdeskDep, app: AppDep) -> dict[str, Any]:
    if body.name in {q.name for q in hd.queues()}:
        raise AlreadyExists(f"queue {body.name!r} exists")
    return queue_out(await hd.put_queue(body.to_queue()))


@router.get("/queues", responses=_ERRORS)
async def list_queues(hd: HelpdeskDep, app: AppDep) -> dict[str, list[dict[str, Any]]]:
    return {"items": [queue_out(q) for q in hd.queues()]}


@router.get("/queues/{name}", responses=_ERRORS)
async def get_queue(name: str, hd: HelpdeskDep, app: AppDep) -> dict[str, Any]:
    return queue_out(hd.queue(name))


@router.put("/queues/{name}", responses=_ERRORS)
async def replace_queue(name: str, body: QueueIn, hd: HelpdeskDep, app: AppDep) -> dict[str, Any]:
    hd.queue(name)
    return queue_out(await hd.put_queue(body.to_queue(name)))


@router.delete("/queues/{name}", status_code=204, responses=_ERRORS)
async def delete_queue(name: str, hd: HelpdeskDep, app: AppDep) -> Response:
    await hd.delete_queue(name)
    return Response(status_code=204)


@router.post("/queues/{name}/agents", responses=_ERRORS)
async def add_agent(name: str, body: AgentIn, hd: HelpdeskDep, app: AppDep) -> dict[str, Any]:
    q = hd.queue(name)
    return queue_out(await hd.put_queue(_with_agents(q, q.agents | {body.agent})))


@router.delete("/queues/{name}/agents/{agent}", responses=_ERRORS)
async def remove_agent(name: str, agent: str, hd: HelpdeskDep, app: AppDep) -> dict[str, Any]:
    q = hd.queue(name)
    return queue_out(await hd.put_queue(_with_agents(q, q.agents - {agent})))


def _with_agents(q: Queue, agents: frozenset[str]) -> Queue:
    return dataclasses.replace(q, agents=agents)


@router.put("/agents/{agent}", responses=_ERRORS)
async def put_agent(
    agent: str, body: AgentProfileIn, hd: HelpdeskDep, app: AppDep
) -> dict[str, Any]:
    """An agent's capacity and skills (empty skills: any)."""
    profile = AgentProfile(
        agent,
        Capacity(body.capacity_video, body.capacity_chats),
        frozenset(body.languages),
        frozenset(body.topics),
    )
    await hd.put_agent(profile)
    return hd.agent_status(agent)


@router.get("/queues/{name}/board", responses=_ERRORS)
async def service_board(name: str, hd: HelpdeskDep, app: AppDep) -> dict[str, Any]:
    return board_out(hd.board(name))


@router.post("/queues/{name}/callbacks", status_code=201, responses=_ERRORS)
async def leave_message(
    name: str, body: CallbackIn, hd: HelpdeskDep, app: AppDep
) -> dict[str, Any]:
    """The visitor leaves a message (the queue closed or full): a callback request."""
    cb = await hd.leave_message(
        app, queue=name, display_name=body.display_name, message=body.message, contact=body.contact
    )
    return callback_out(cb)


@router.get("/callbacks", responses=_ERRORS)
async def service_callbacks(
    hd: HelpdeskDep,
    app: AppDep,
    queue: Annotated[str | None, Query(max_length=63)] = None,
    open_only: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    return {"items": [callback_out(c) for c in await hd.callbacks(queue, open_only)]}


# --- the agent's side (user API) ----------------------------------------------------------
#: The longest a console's request waits for a change (proxies keep it open).
MAX_WAIT_S = 25.0


@router.get("/me/helpdesk", responses=_ERRORS)
async def my_helpdesk(
    hd: HelpdeskDep,
    user: UserDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    wait_s: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0,
) -> dict[str, Any]:
    """The agent's state, queues, open offer (with the visitor's name, topic,
    context and waiting time) and the visits it serves, with its revision
    ``rev``. With ``after`` (a ``rev`` read before) and ``wait_s``, the answer
    waits until something changed for the agent (an offer made, say), at most
    ``wait_s`` seconds: offers reach the console as they are made, without
    asking again and again."""
    if after is None:
        return hd.agent_status(user.username)
    return await hd.agent_status_after(user.username, after, wait_s)


@router.put("/me/helpdesk/state", responses=_ERRORS)
async def set_state(body: StateIn, hd: HelpdeskDep, user: UserDep) -> dict[str, Any]:
    await hd.set_presence(user.username, body.state)
    return hd.agent_status(user.username)


@router.post("/me/helpdesk/visits/{visit_id}/accept", responses=_ERRORS)
async def accept(visit_id: str, hd: HelpdeskDep, user: UserDep) -> dict[str, Any]:
    """Take the offered visit: the agent becomes the meeting's organizer; join
    ``meeting_id`` from the console and admit the visitor from the lobby."""
    return await hd.accept(user, visit_id)


@router.post("/me/helpdesk/visits/{visit_id}/decline", status_code=204, responses=_ERRORS)
async def decline(visit_id: str, hd: HelpdeskDep, user: UserDep) -> Response:
    await hd.decline(user, visit_id)
    return Response(status_code=204)


@router.post("/me/helpdesk/visits/{visit_id}/transfer", status_code=204, responses=_ERRORS)
async def transfer(visit_id: str, body: TransferIn, hd: HelpdeskDep, user: UserDep) -> Response:
    await hd.transfer(
        user, visit_id, to_queue=body.to_queue, to_agent=body.to_agent, note=body.note
    )
    return Response(status_code=204)


@router.post("/me/helpdesk/visits/{visit_id}/complete", status_code=204, responses=_ERRORS)
async def complete(visit_id: str, hd: HelpdeskDep, user: UserDep) -> Response:
    await hd.complete(user, visit_id)
    return Response(status_code=204)


@router.get("/me/helpdesk/callbacks", responses=_ERRORS)
async def my_callbacks(
    hd: HelpdeskDep, user: UserDep, open_only: bool = True
) -> dict[str, list[dict[str, Any]]]:
    mine = {q.name for q in hd.queues() if user.username in q.agents}
    items = [c for c in await hd.callbacks(None, open_only) if c.queue in mine]
    return {"items": [callback_out(c) for c in items]}


@router.post("/me/helpdesk/callbacks/{callback_id}/resolve", responses=_ERRORS)
async def resolve_callback(callback_id: str, hd: HelpdeskDep, user: UserDep) -> dict[str, Any]:
    return callback_out(await hd.resolve_callback(callback_id, user.username))


@router.get("/me/helpdesk/board/{name}", responses=_ERRORS)
async def supervisor_board(name: str, hd: HelpdeskDep, user: UserDep) -> dict[str, Any]:
    """The live board of a queue, for supervisors."""
    _may_supervise(user, hd, name)
    return board_out(hd.board(name))


def _may_supervise(user: User, hd: Helpdesk, queue: str) -> None:
    """Only supervisors read a queue's board (the rule is the domain's)."""
    ensure_supervisor(user.role)
    hd.queue(queue)  # queue_not_found for a queue that does not exist
