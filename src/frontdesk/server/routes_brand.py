"""Brands over HTTP: an application reads and changes its own brand (service
API), the node serves logos, and anyone holding a meeting's link may learn
what the guest page shows before a name is typed (:mod:`frontdesk.server.brands`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.domain.branding import MAX_LOGO_BYTES, Branding
from frontdesk.domain.model import UNSET
from frontdesk.errors import LimitExceeded
from frontdesk.protocol import urls
from frontdesk.server.brands import LOGO_PATH, Brands
from frontdesk.server.deps import AppDep, OpsDep, client_address
from frontdesk.server.ratelimit import RateLimiter
from frontdesk.server.schemas import BrandingIn, BrandingOut, MeetingInfoOut, Problem

__all__ = ["INFO_PATH", "LOGO_UPLOAD_PATH", "router"]

#: ``{base}{INFO_PATH}{join_code}``: a meeting's public facts, by its link.
INFO_PATH = urls.JOIN_INFO_PATH
#: Where an application uploads its logo (a body larger than the others).
LOGO_UPLOAD_PATH = "/v1/branding/logo"

router = APIRouter()

_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "missing, invalid or expired access token"},
    422: {"model": Problem, "description": "invalid input"},
    429: {"model": Problem, "description": "rate limited"},
}


def _out(brands: Brands, b: Branding) -> BrandingOut:
    return BrandingOut(
        display_name=b.display_name,
        accent=b.accent,
        accent_text=b.accent_text,
        logo_url=brands.logo_url(b),
        updated_at=b.updated_at,
    )


@router.get(
    "/v1/branding",
    response_model=BrandingOut,
    responses=_ERRORS,
    tags=["service API"],
    summary="The calling application's brand",
)
async def get_branding(ops: OpsDep, app: AppDep) -> BrandingOut:
    return _out(ops.brands, await ops.brands.of_app(app.client_id))


@router.patch(
    "/v1/branding",
    response_model=BrandingOut,
    responses=_ERRORS,
    tags=["service API"],
    summary="Change the calling application's display name or accent colour",
)
async def patch_branding(body: BrandingIn, ops: OpsDep, app: AppDep) -> BrandingOut:
    """A field left out stays as it is; ``null`` clears it. The accent is
    ``#rrggbb``; the text colour on it (``accent_text``) is chosen for contrast."""
    given = body.model_fields_set
    branding = await ops.brands.update(
        app.client_id,
        display_name=body.display_name if "display_name" in given else UNSET,
        accent=body.accent if "accent" in given else UNSET,
    )
    return _out(ops.brands, branding)


@router.put(
    LOGO_UPLOAD_PATH,
    response_model=BrandingOut,
    responses={**_ERRORS, 413: {"model": Problem, "description": "logo too large"}},
    tags=["service API"],
    summary="Upload the calling application's logo (PNG, JPEG or WebP, at most 256 KiB)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/png", "image/jpeg", "image/webp")
            },
        }
    },
    max_body_size=MAX_LOGO_BYTES,
)
async def put_logo(request: Request, ops: OpsDep, app: AppDep) -> BrandingOut:
    """The body is the image itself. Its type is read from its bytes, not from
    ``Content-Type``; SVG and anything else is refused."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_LOGO_BYTES:
            raise LimitExceeded(f"the logo is larger than {MAX_LOGO_BYTES // 1024} KiB")
    return _out(ops.brands, await ops.brands.set_logo(app.client_id, bytes(data)))


@router.delete(
    LOGO_UPLOAD_PATH,
    response_model=BrandingOut,
    responses=_ERRORS,
    tags=["service API"],
    summary="Remove the calling application's logo",
)
async def delete_logo(ops: OpsDep, app: AppDep) -> BrandingOut:
    return _out(ops.brands, await ops.brands.set_logo(app.client_id, None))


@router.get(
    LOGO_PATH + "{etag}",
    response_class=Response,
    responses={200: {"content": {t: {} for t in ("image/png", "image/jpeg", "image/webp")}}},
    tags=["brand"],
    summary="A logo, by its content tag (cached for good)",
)
async def logo(
    etag: str,
    ops: OpsDep,
    if_none_match: Annotated[str | None, Header(max_length=256)] = None,
) -> Response:
    found = await ops.brands.logo(etag)
    headers = {
        # The URL names the content: it never changes.
        "Cache-Control": "public, max-age=31536000, immutable",
        "ETag": f'"{found.etag}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if if_none_match is not None and f'"{found.etag}"' in {
        t.strip().removeprefix("W/") for t in if_none_match.split(",")
    }:
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=found.content_type, headers=headers)


@router.get(
    INFO_PATH + "{join_code}",
    response_model=MeetingInfoOut,
    responses={404: {"model": Problem}, 429: {"model": Problem}},
    tags=["discovery"],
    summary="What a meeting's link shows before joining: subject, state, start, brand",
)
async def meeting_info(join_code: str, request: Request, ops: OpsDep) -> JSONResponse:
    """Public, by the join code (the secret of the link): no participants, no
    organizer. Unknown codes answer 404 ``meeting_not_found``; an ended meeting
    answers 200 with ``state: ended`` (so its page can say whom to contact)."""
    limiter: RateLimiter = request.app.state.public_limiter
    limiter.check("ip:" + client_address(request))
    meeting = await ops.meetings.for_join_code(join_code)
    info = await ops.brands.public_info(meeting)
    return JSONResponse(
        MeetingInfoOut.model_validate(info).model_dump(mode="json"),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
