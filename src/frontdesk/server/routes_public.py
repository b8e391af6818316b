"""Discovery, health, keys and metrics: the node's public endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from frontdesk.errors import MeetingEnded, TokenUsed, Unavailable
from frontdesk.protocol import urls
from frontdesk.server.deps import OpsDep, bearer_token
from frontdesk.server.hosting import Hosting
from frontdesk.server.schemas import DiscoveryOut, MeetingInfoOut, Problem

__all__ = ["router"]

router = APIRouter()


@router.get(
    urls.DISCOVERY_PATH + "{meeting_id}",
    response_model=DiscoveryOut,
    tags=["discovery"],
    responses={
        401: {"model": Problem},
        403: {"model": Problem},
        404: {"model": Problem},
        410: {"model": Problem},
    },
    summary="Find the RTC endpoint hosting a meeting (guest token as bearer)",
)
async def discovery(
    meeting_id: str,
    request: Request,
    ops: OpsDep,
    token: Annotated[str, Depends(bearer_token)],
) -> JSONResponse:
    # No per-address limit here: the bearer is an unguessable signed token, and
    # many visitors may share one address (carrier NAT, a company proxy).
    try:
        claims, meeting = await ops.guest_tokens.check(token, meeting_id)
    except (MeetingEnded, TokenUsed) as err:
        # The token is good, the meeting over (or the token spent): the holder
        # may still learn whose meeting it was, so the page can say whom to ask.
        ended = await ops.guest_tokens.meeting_of(token, meeting_id)
        err.extra["meeting"] = await ops.brands.public_info(ended)
        raise
    # The node hosting the meeting (in a cluster, by its lease), or the one it
    # is placed on: the least loaded.
    hosting: Hosting = request.app.state.hosting
    where = await hosting.locate(meeting.id)
    out = DiscoveryOut(
        rtc_url=where.rtc_url,
        meeting_id=meeting.id,
        ice_servers=ops.guest_tokens.ice_servers(claims.subject),
        node_id=where.node_id,
        meeting=MeetingInfoOut.model_validate(await ops.brands.public_info(meeting)),
    )
    return JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.get("/.well-known/jwks.json", tags=["keys"])
async def jwks(ops: OpsDep) -> JSONResponse:
    ring = await ops.keys.refresh_if_stale()
    return JSONResponse(ring.jwks(ops.clock()), headers={"Cache-Control": "max-age=60"})


@router.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], responses={503: {"model": Problem}})
async def readyz(ops: OpsDep, request: Request) -> dict[str, object]:
    try:
        await ops.ping()
    except Unavailable:
        raise
    except Exception as exc:
        raise Unavailable(f"database: {type(exc).__name__}") from None
    ready: dict[str, object] = {"status": "ready", "node_id": ops.settings.node_id}
    bus = getattr(request.app.state, "bus", None)
    if bus is not None:  # hints only: a degraded bus slows nodes down, it stops none
        ready["bus"] = "ok" if bus.healthy else "degraded (polling)"
    return ready


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(request: Request) -> Response:
    data = generate_latest(request.app.state.metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST)
