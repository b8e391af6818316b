"""The web pages every node serves: the guest page (opened by a join URL), the
agent console and the browser SDK (``/sdk/frontdesk.js``, an ES module)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from frontdesk.errors import NotFound

__all__ = ["STATIC_DIR", "install"]

STATIC_DIR = Path(__file__).parent / "static"

# Pages load only their own scripts; media and sockets as WebRTC needs them.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    # The join URL is a secret: never send it to another site as a referrer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=()",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> Response:
    path = STATIC_DIR / name
    if not path.is_file():
        raise NotFound(f"{name} is not installed")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@router.get("/j/{join_code}")
async def guest_page(join_code: str) -> Response:
    return _page("guest.html")


@router.get("/console")
async def console_page() -> Response:
    return _page("console.html")


@router.get("/sdk/frontdesk.js")
async def browser_sdk() -> Response:
    path = STATIC_DIR / "sdk" / "frontdesk.js"
    if not path.is_file():
        raise NotFound("the browser SDK is not installed")
    # A public, credential-free script: any origin may load it.
    return FileResponse(
        path,
        media_type="text/javascript; charset=utf-8",
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
