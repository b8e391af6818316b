"""The user API for organizers and agents (the agent console uses it).

Sign in with ``POST /v1/session`` (name and password) and send the returned
token as a bearer token — or rely on the ``HttpOnly`` session cookie it also sets.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.domain import commands as cmd
from frontdesk.domain.model import MeetingState, ensure_supervisor
from frontdesk.domain.participants import SessionState
from frontdesk.errors import FrontdeskError, PermissionDenied
from frontdesk.server.csrf import check_same_origin
from frontdesk.server.deps import OpsDep, UserDep, client_address
from frontdesk.server.live import LiveMeetings
from frontdesk.server.schemas import (
    MeetingIn,
    MeetingList,
    MeetingOut,
    Problem,
    SessionIn,
    SessionOut,
)
from frontdesk.server.transcript_out import RESPONSES as TRANSCRIPT_RESPONSES
from frontdesk.server.transcript_out import TranscriptFormat, TranscriptOut, transcript_response
from frontdesk.server.transcripts import DEFAULT_LIMIT as DEFAULT_TRANSCRIPT_LIMIT
from frontdesk.server.transcripts import MAX_LIMIT as MAX_TRANSCRIPT_LIMIT

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["user API"])
COOKIE = "frontdesk_session"
_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem, "description": "forbidden, or csrf_refused"},
    422: {"model": Problem},
}
_LOGIN: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    429: {"model": Problem, "description": "too many failed sign-ins; see Retry-After"},
    503: {"model": Problem, "description": "busy; see Retry-After"},
}


@router.post("/session", response_model=SessionOut, responses=_LOGIN)
async def login(body: SessionIn, request: Request, ops: OpsDep) -> JSONResponse:
    check_same_origin(request, ops.settings)  # it sets the session cookie
    request.app.state.auth_limiter.check("ip:" + client_address(request))
    token, claims, user = await ops.accounts.login(
        body.username, body.password, address=client_address(request)
    )
    out = SessionOut(
        token=token,
        username=user.username,
        display_name=user.display_name,
        expires_at=claims.expires_at,
        role=user.role.value,
    )
    resp = JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    resp.set_cookie(
        COOKIE,
        token,
        max_age=ops.settings.session_ttl_s,
        httponly=True,
        samesite="strict",
        secure=ops.settings.base_url.startswith("https://"),
        path="/",
    )
    return resp


@router.delete("/session", status_code=204)
async def logout(request: Request, ops: OpsDep) -> Response:
    """Sign out: the session token stops working everywhere, not only here."""
    token = request.cookies.get(COOKIE)
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    elif token:
        check_same_origin(request, ops.settings)
    if token:
        with contextlib.suppress(FrontdeskError):
            await ops.accounts.logout(token)
    resp = Response(status_code=204)
    resp.delete_cookie(COOKIE, path="/")
    return resp


@router.get("/me", responses=_AUTH)
async def me(user: UserDep) -> dict[str, str]:
    """Who is signed in, and as what: ``role`` is ``agent`` or ``supervisor``."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role.value}


@router.get("/me/meetings", response_model=MeetingList, responses=_AUTH)
async def my_meetings(
    user: UserDep,
    ops: OpsDep,
    state: MeetingState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MeetingList:
    items = await ops.meetings.find(
        organizer=user.username, state=state, limit=limit, offset=offset
    )
    base = ops.settings.base_url
    return MeetingList(items=[MeetingOut.of(m, base) for m in items], limit=limit, offset=offset)


@router.post("/me/meetings", status_code=201, response_model=MeetingOut, responses=_AUTH)
async def create_my_meeting(body: MeetingIn, user: UserDep, ops: OpsDep) -> MeetingOut:
    if body.organizer != user.username:
        raise PermissionDenied("you can create meetings you organize only")
    m = await ops.meetings.create(
        subject=body.subject,
        organizer=user.username,
        start=body.start,
        end=body.end,
        access_policy=body.access_policy,
        lobby_bypass=body.lobby_bypass,
    )
    return MeetingOut.of(m, ops.settings.base_url)


@router.get(
    "/me/meetings/{meeting_id}/transcript",
    response_model=TranscriptOut,
    responses={**_AUTH, 404: {"model": Problem}, **TRANSCRIPT_RESPONSES},
)
async def my_transcript(
    meeting_id: str,
    request: Request,
    user: UserDep,
    ops: OpsDep,
    after: Annotated[int, Query(ge=0, description="entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_TRANSCRIPT_LIMIT)] = DEFAULT_TRANSCRIPT_LIMIT,
    format: TranscriptFormat | None = None,
) -> Response:
    """The transcript of a meeting I organize (as ``GET /v1/meetings/{id}/transcript``);
    404 for anyone else's."""
    meeting, reader = await ops.transcripts.reader_for_user(meeting_id, user)
    return await transcript_response(
        request,
        ops.transcripts,
        meeting,
        reader,
        after=after,
        limit=limit,
        format=format,
        now=ops.clock(),
    )


@router.get("/me/lobby", responses=_AUTH)
async def my_lobby(user: UserDep, ops: OpsDep, request: Request) -> dict[str, Any]:
    """Everyone waiting in the lobbies of my live meetings, oldest first."""
    live: LiveMeetings = request.app.state.live
    out = []
    for room in await live.lobbies_of(user.username):
        for p in room.lobby():
            out.append(
                {
                    "meeting_id": room.meeting.id,
                    "subject": room.meeting.subject,
                    "participant_id": p.id,
                    "display_name": p.display_name,
                    "role": p.role.value,
                    "vouched": p.vouched,
                    "method": p.method.value,
                    "waiting_since": p.lobby_since.isoformat() if p.lobby_since else None,
                }
            )
    out.sort(key=lambda x: str(x["waiting_since"] or ""))
    return {"items": out}


@router.get("/supervisor/meetings", responses=_AUTH)
async def supervised_meetings(
    user: UserDep,
    ops: OpsDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Supervisors only: the open meetings of every organizer, to monitor, with
    who is in the ones live on this node (``live`` false: nobody in yet, or
    hosted by another node)."""
    ensure_supervisor(user.role)
    live: LiveMeetings = request.app.state.live
    out: list[dict[str, Any]] = []
    for m in await ops.meetings.find(state=MeetingState.ACTIVE, limit=limit):
        lr = live.loaded(m.id)
        people = [] if lr is None or lr.room.ended else lr.room.roster()
        out.append(
            {
                "id": m.id,
                "subject": m.subject,
                "organizer": m.organizer,
                "live": lr is not None and not lr.room.ended,
                "agents": sum(1 for p in people if p.staff and not p.hidden),
                "guests": sum(1 for p in people if not p.staff),
                "monitors": sum(1 for p in people if p.hidden),
                "waiting": 0 if lr is None else len(lr.room.lobby()),
            }
        )
    out.sort(key=lambda x: (not x["live"], -x["guests"], x["subject"]))
    return {"items": out}


async def _lobby_action(
    request: Request, user_name: str, meeting_id: str, participant_id: str, admit: bool
) -> dict[str, str]:
    live: LiveMeetings = request.app.state.live
    lr = await live.room(meeting_id)
    # The domain decides who may admit: act as this user's participant in the meeting.
    actor = next(
        (
            p.id
            for p in lr.room.participants.values()
            if p.username == user_name and p.state is SessionState.JOINED
        ),
        None,
    )
    if actor is None:
        raise PermissionDenied("join the meeting first to admit or deny")
    command = cmd.Admit(actor, participant_id) if admit else cmd.Deny(actor, participant_id)
    await live.execute(lr, command)
    return {"status": "admitted" if admit else "denied"}


@router.post("/me/meetings/{meeting_id}/lobby/{participant_id}/admit", responses=_AUTH)
async def admit(
    meeting_id: str, participant_id: str, user: UserDep, request: Request
) -> dict[str, str]:
    return await _lobby_action(request, user.username, meeting_id, participant_id, True)


@router.post("/me/meetings/{meeting_id}/lobby/{participant_id}/deny", responses=_AUTH)
async def deny(
    meeting_id: str, participant_id: str, user: UserDep, request: Request
) -> dict[str, str]:
    return await _lobby_action(request, user.username, meeting_id, participant_id, False)
