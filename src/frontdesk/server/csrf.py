"""Refuse cross-origin writes that ride on the console's session cookie.

The session cookie is ``SameSite=Strict``, but a *site* is not an *origin*: a
page on another port or subdomain of the same site (``http://127.0.0.1:9000``
against a node on ``:8080``) is same-site, so the browser sends the cookie with
its ``fetch(..., {credentials: "include", method: "POST"})`` or form POST, and
the node would act for the signed-in agent (admit a lobby guest, say).

So every state-changing request (POST, PUT, PATCH, DELETE) authenticated by the
cookie, and the sign-in that sets it, must come from an allowed origin:

* ``Origin`` equal to the node's own public origin (``FRONTDESK_PUBLIC_URL``)
  or listed in ``FRONTDESK_ALLOWED_ORIGINS``; or
* ``Sec-Fetch-Site: same-origin`` (set by the browser, not by page scripts).

Anything else a browser says (``Sec-Fetch-Site: same-site`` or
``cross-site``, another ``Origin``, ``Origin: null``) is refused with 403
``csrf_refused``. A request with neither header does not come from a web page
(curl, the SDKs) and passes. A bearer token is never sent by a browser on its
own, so bearer-authenticated calls are not checked at all.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request

from frontdesk.config import Settings
from frontdesk.errors import CsrfRefused

__all__ = ["UNSAFE_METHODS", "check_same_origin", "origin_of"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url``, lower-case, default port left out."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _allowed(settings: Settings) -> set[str]:
    found = {origin_of(settings.base_url)}
    found.update(origin_of(o) for o in settings.allowed_origins)
    return {o for o in found if o is not None}


def check_same_origin(request: Request, settings: Settings) -> None:
    """Raise ``CsrfRefused`` when a browser sends this write from another origin."""
    if request.method.upper() not in UNSAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site", "").strip().lower()
    if fetch_site == "same-origin":
        return
    origin = request.headers.get("origin")
    if origin is not None:
        if origin_of(origin) in _allowed(settings):
            return
        raise CsrfRefused(
            "this request came from another web origin; sign in on this node's own pages"
        )
    if fetch_site in ("same-site", "cross-site"):
        raise CsrfRefused("this request came from another web origin")
