"""The service API for trusted applications (business back ends)."""

from __future__ import annotations

import base64
from typing import Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.domain.model import UNSET, MeetingState
from frontdesk.errors import (
    FrontdeskError,
    InvalidClient,
    PermissionDenied,
    RateLimited,
    Unavailable,
    ValidationFailed,
)
from frontdesk.server.deps import AppDep, OpsDep, client_address
from frontdesk.server.ics import invite_ics
from frontdesk.server.problems import PROBLEM_TYPE, problem_response
from frontdesk.server.schemas import (
    GuestTokenIn,
    GuestTokenOut,
    MeetingIn,
    MeetingList,
    MeetingOut,
    MeetingPatch,
    ParticipantOut,
    Problem,
    TokenOut,
    WebhookIn,
    WebhookOut,
)
from frontdesk.server.transcript_out import RESPONSES as TRANSCRIPT_RESPONSES
from frontdesk.server.transcript_out import TranscriptFormat, TranscriptOut, transcript_response
from frontdesk.server.transcripts import DEFAULT_LIMIT as DEFAULT_TRANSCRIPT_LIMIT
from frontdesk.server.transcripts import MAX_LIMIT as MAX_TRANSCRIPT_LIMIT

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["service API"])

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "missing, invalid or expired access token"},
    422: {"model": Problem, "description": "invalid input"},
    429: {"model": Problem, "description": "rate limited"},
}
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    **_ERRORS,
    404: {"model": Problem, "description": "no such meeting"},
}


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise InvalidClient("malformed Basic credentials") from None
    cid, sep, secret = raw.partition(":")
    if not sep:
        raise InvalidClient("malformed Basic credentials")
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(cid), unquote(secret)


def _oauth_error(err: FrontdeskError, *, basic: bool) -> JSONResponse:
    """RFC 6749 5.2: the problem+json body also carries ``error`` (and
    ``error_description``) so that off-the-shelf OAuth clients understand it;
    a bad request is 400, a failed client authentication 401 with a challenge
    for the scheme the client used."""
    body = err.to_dict()
    headers: dict[str, str] = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if isinstance(err, InvalidClient):
        body["error"] = "invalid_client"
        status = 401
        headers["WWW-Authenticate"] = (
            'Basic realm="frontdesk"' if basic else 'Bearer error="invalid_client"'
        )
    elif isinstance(err, RateLimited | Unavailable):
        return problem_response(err)
    else:
        body.setdefault("error", "invalid_request")
        status = 400
    body["status"] = status
    body["error_description"] = err.detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


_FORM_LIMITS = {"grant_type": 64, "client_id": 128, "client_secret": 256, "scope": 256}


@router.post(
    "/oauth/token",
    response_model=TokenOut,
    responses={
        400: {"model": Problem},
        401: {"model": Problem},
        429: {"model": Problem},
        503: {"model": Problem},
    },
    summary="Client-credentials grant (RFC 6749 4.4)",
)
async def oauth_token(
    request: Request,
    ops: OpsDep,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    basic = request.headers.get("authorization", "").lower().startswith("basic ")
    try:
        request.app.state.auth_limiter.check("ip:" + client_address(request))
        form = {
            "grant_type": grant_type,
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        for name, value in form.items():
            if value is not None and len(value) > _FORM_LIMITS[name]:
                raise ValidationFailed(f"{name} is longer than {_FORM_LIMITS[name]} characters")
        if not grant_type:
            raise ValidationFailed("grant_type is required", error="invalid_request")
        if grant_type != "client_credentials":
            raise ValidationFailed(
                "grant_type must be client_credentials", error="unsupported_grant_type"
            )
        creds = _basic_credentials(request)
        if creds is None:
            if not client_id or not client_secret:
                raise InvalidClient("send client_id and client_secret (HTTP Basic or form body)")
            creds = (client_id, client_secret)
        elif client_id is not None or client_secret is not None:
            # RFC 6749 2.3: a client must not use more than one authentication method.
            raise ValidationFailed(
                "send the client credentials once: HTTP Basic or the form body, not both",
                error="invalid_request",
            )
        app = await ops.apps.authenticate(*creds, address=client_address(request))
    except FrontdeskError as err:
        return _oauth_error(err, basic=basic)
    token, _claims = await ops.apps.issue_access_token(app)
    request.app.state.metrics.tokens_issued.labels("access").inc()
    body = TokenOut(access_token=token, expires_in=ops.settings.access_token_ttl_s)
    return JSONResponse(
        body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


@router.post("/meetings", status_code=201, response_model=MeetingOut, responses=_ERRORS)
async def create_meeting(body: MeetingIn, ops: OpsDep, app: AppDep) -> MeetingOut:
    m = await ops.meetings.create(
        subject=body.subject,
        organizer=body.organizer,
        start=body.start,
        end=body.end,
        access_policy=body.access_policy,
        lobby_bypass=body.lobby_bypass,
        app_id=app.client_id,
    )
    return MeetingOut.of(m, ops.settings.base_url)


@router.get("/meetings", response_model=MeetingList, responses=_ERRORS)
async def list_meetings(
    ops: OpsDep,
    app: AppDep,
    organizer: Annotated[str | None, Query(max_length=64)] = None,
    state: MeetingState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MeetingList:
    items = await ops.meetings.find(
        organizer=organizer,
        state=state,
        visible_to_app=app.client_id,
        limit=limit,
        offset=offset,
    )
    base = ops.settings.base_url
    return MeetingList(items=[MeetingOut.of(m, base) for m in items], limit=limit, offset=offset)


@router.get("/meetings/{meeting_id}", response_model=MeetingOut, responses=_NOT_FOUND)
async def get_meeting(meeting_id: str, ops: OpsDep, app: AppDep) -> MeetingOut:
    return MeetingOut.of(await ops.meetings.for_app(meeting_id, app), ops.settings.base_url)


@router.patch("/meetings/{meeting_id}", response_model=MeetingOut, responses=_NOT_FOUND)
async def patch_meeting(
    meeting_id: str, body: MeetingPatch, request: Request, ops: OpsDep, app: AppDep
) -> MeetingOut:
    given = body.model_fields_set  # an explicit null clears start or end
    m = await ops.meetings.update(
        meeting_id,
        app=app,
        subject=body.subject,
        start=body.start if "start" in given else UNSET,
        end=body.end if "end" in given else UNSET,
        access_policy=body.access_policy,
        lobby_bypass=body.lobby_bypass,
    )
    live = getattr(request.app.state, "live", None)
    if live is not None:
        await live.policy_changed(m)
    return MeetingOut.of(m, ops.settings.base_url)


@router.delete("/meetings/{meeting_id}", response_model=MeetingOut, responses=_NOT_FOUND)
async def delete_meeting(meeting_id: str, request: Request, ops: OpsDep, app: AppDep) -> MeetingOut:
    # The store first: from then on no token or join URL admits anyone; then
    # the people inside are told and disconnected.
    m = await ops.meetings.end(meeting_id, app=app)
    live = getattr(request.app.state, "live", None)
    if live is not None:
        await live.end_meeting(meeting_id, reason="ended_by_api")
    return MeetingOut.of(m, ops.settings.base_url)


@router.get(
    "/meetings/{meeting_id}/participants",
    response_model=dict[str, list[ParticipantOut]],
    responses={**_NOT_FOUND, 403: {"model": Problem, "description": "not this app's to read"}},
)
async def participants(
    meeting_id: str, request: Request, ops: OpsDep, app: AppDep
) -> dict[str, list[ParticipantOut]]:
    """The people in the meeting, for the applications that may read them (the
    same rule as the webhooks, :mod:`frontdesk.server.audience`): its creator, or
    for an agent's meeting the applications that vouched a guest into it; any
    other application gets 403 ``forbidden``."""
    meeting = await ops.meetings.for_app(meeting_id, app)
    if not await ops.audience.may_read(meeting, app.client_id):
        raise PermissionDenied(
            "only applications that brought a guest into this meeting may list its participants"
        )
    live = getattr(request.app.state, "live", None)
    rows = await live.participants(meeting_id) if live is not None else []
    return {"items": [ParticipantOut(**r) for r in rows]}


@router.get(
    "/meetings/{meeting_id}/transcript",
    response_model=TranscriptOut,
    responses={**_NOT_FOUND, **TRANSCRIPT_RESPONSES},
)
async def transcript(
    meeting_id: str,
    request: Request,
    ops: OpsDep,
    app: AppDep,
    after: Annotated[int, Query(ge=0, description="entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_TRANSCRIPT_LIMIT)] = DEFAULT_TRANSCRIPT_LIMIT,
    format: TranscriptFormat | None = None,
) -> Response:
    """What happened in the meeting, with who did it and to whom: chat, joins,
    admissions, denials, removals, mutes, leaves, the end, and any other stored
    event. JSON pages (``after``, ``limit``, ``next_after``); ``?format=text``
    (or ``Accept: text/plain``) downloads it all as plain text. Read by the
    application that created the meeting; for an agent's meeting, by an
    application that vouched a guest into it (what its guests were sent).
    Anyone else: 404."""
    meeting, reader = await ops.transcripts.reader_for_app(meeting_id, app)
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


@router.get(
    "/meetings/{meeting_id}/invite.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, **_NOT_FOUND},
)
async def invite(meeting_id: str, ops: OpsDep, app: AppDep) -> Response:
    m = await ops.meetings.for_app(meeting_id, app)
    try:
        organizer_name = await ops.accounts.display_name(m.organizer)
    except Exception:
        organizer_name = m.organizer
    host = ops.settings.base_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    body = invite_ics(
        m,
        join_url=ops.meetings.join_url(m),
        organizer_name=organizer_name,
        domain=host,
        now=ops.clock(),
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{m.id}.ics"'},
    )


@router.post(
    "/meetings/{meeting_id}/guest-tokens",
    status_code=201,
    response_model=GuestTokenOut,
    responses={**_NOT_FOUND, 410: {"model": Problem, "description": "meeting ended"}},
)
async def guest_token(
    meeting_id: str, body: GuestTokenIn, request: Request, ops: OpsDep, app: AppDep
) -> JSONResponse:
    grant = await ops.guest_tokens.mint(
        meeting_id,
        display_name=body.display_name,
        role=body.role_enum,
        ttl_s=body.ttl_s,
        single_use=body.single_use,
        origins=[str(o) for o in body.origins],
        app=app,
    )
    request.app.state.metrics.tokens_issued.labels("guest").inc()
    out = GuestTokenOut(
        token=grant.token,
        discovery_uri=grant.discovery_uri,
        expires_at=grant.expires_at,
        meeting_id=grant.meeting_id,
    )
    return JSONResponse(
        out.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"}
    )


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookOut,
    responses={
        **_ERRORS,
        422: {"model": Problem, "description": "invalid input, or webhook_target_forbidden"},
    },
)
async def create_webhook(body: WebhookIn, request: Request, ops: OpsDep, app: AppDep) -> WebhookOut:
    # Refused by resolved address (SSRF guard; checked again at every delivery).
    await request.app.state.webhook_targets.vet_url(str(body.url))
    hook = await ops.webhooks.create(app.client_id, str(body.url), body.events)
    return WebhookOut(
        id=hook.id,
        url=hook.url,
        events=list(hook.events),
        secret=hook.secret,
        created_at=hook.created_at,
    )


@router.get("/webhooks", response_model=dict[str, list[WebhookOut]], responses=_ERRORS)
async def list_webhooks(ops: OpsDep, app: AppDep) -> dict[str, list[WebhookOut]]:
    hooks = await ops.webhooks.of_app(app.client_id)
    return {
        "items": [
            WebhookOut(
                id=h.id, url=h.url, events=list(h.events), secret=None, created_at=h.created_at
            )
            for h in hooks
        ]
    }


@router.delete("/webhooks/{webhook_id}", status_code=204, responses=_NOT_FOUND)
async def delete_webhook(webhook_id: str, ops: OpsDep, app: AppDep) -> Response:
    await ops.webhooks.delete(webhook_id, app.client_id)
    return Response(status_code=204)
