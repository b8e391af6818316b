"""The web pages every node serves: the home page (``/``, links to the console,
the API docs and health), the guest page (opened by a join URL), the agent
console, the favicon and the browser SDK (``/sdk/frontdesk.js``, an ES module that
imports its sibling modules ``/sdk/*.js``)."""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import Scope

from frontdesk.errors import NotFound
from frontdesk.protocol import urls

__all__ = ["SDK_MODULES", "STATIC_DIR", "content_security_policy", "install"]

STATIC_DIR = Path(__file__).parent / "static"
#: The browser SDK's modules, the only names ``/sdk/{name}`` serves: the public
#: entry point ``frontdesk.js`` and what it imports (``protocol.js`` is generated
#: from ``frontdesk.protocol``).
SDK_MODULES = frozenset(
    {
        "chat.js",
        "devices.js",
        "errors.js",
        "events.js",
        "frontdesk.js",
        "join.js",
        "meeting.js",
        "mesh.js",
        "protocol.js",
        "screen.js",
        "session.js",
        "sfu.js",
    }
)

# Pages load only their own scripts; media as WebRTC needs it; sockets only to this
# node (its own origin, and the public URL it is known by behind a proxy).
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src {connect}; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
_PAGE_HEADERS = {
    # The join URL is a secret: never send it to another site as a referrer.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}
_WS_SCHEME = {"http": "ws", "https": "wss"}


def _ws_origin(url: str) -> str | None:
    parts = urlsplit(url)
    scheme = _WS_SCHEME.get(parts.scheme)
    return f"{scheme}://{parts.netloc}" if scheme and parts.netloc else None


def content_security_policy(request: Request) -> str:
    """The pages' CSP: ``connect-src`` is 'self' plus this node's WebSocket origin,
    as the browser reached it and as the node's public URL names it."""
    sources = ["'self'"]
    settings = getattr(request.app.state, "settings", None)
    for url in (str(request.base_url), settings.base_url if settings else ""):
        origin = _ws_origin(url)
        if origin and origin not in sources:
            sources.append(origin)
    return _CSP.format(connect=" ".join(sources))


class _Assets(StaticFiles):
    """``/static``: scripts, styles and images only. The HTML pages are served by
    their own routes with the security headers, never from here."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        name = posixpath.basename(path.replace("\\", "/")).lower()
        if name.endswith((".html", ".htm")):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str) -> Response:
    path = STATIC_DIR / name
    if not path.is_file():
        raise NotFound(f"{name} is not installed")
    headers = {"Content-Security-Policy": content_security_policy(request), **_PAGE_HEADERS}
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/")
async def home_page(request: Request) -> Response:
    return _page(request, "index.html")


@router.get("/favicon.ico")
async def favicon() -> Response:
    path = STATIC_DIR / "favicon.ico"
    if not path.is_file():
        raise NotFound("favicon.ico is not installed")
    return FileResponse(
        path,
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get(urls.JOIN_PATH + "{join_code}")
async def guest_page(request: Request, join_code: str) -> Response:
    return _page(request, "guest.html")


@router.get("/console")
async def console_page(request: Request) -> Response:
    return _page(request, "console.html")


@router.get("/sdk/{name}")
async def browser_sdk(name: str) -> Response:
    if name not in SDK_MODULES:  # a fixed list of names: no path ever reaches the disk
        raise NotFound("no such SDK module")
    path = STATIC_DIR / "sdk" / name
    if not path.is_file():
        raise NotFound("the browser SDK is not installed")
    # Public, credential-free scripts: any origin may load them (a page on the
    # business's origin imports frontdesk.js, which imports its siblings).
    return FileResponse(
        path,
        media_type="text/javascript; charset=utf-8",
        headers={
            "Access-Control-Allow-Origin": "*",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", _Assets(directory=STATIC_DIR, check_dir=False), name="static")
