"""Harbor Bank's web app: its own login, an account page, and two ways to reach
an advisor through Frontdesk.

* Token flow (``POST /api/advisor``): the bank verifies its own session cookie,
  then, as a trusted application, creates an ad hoc meeting with the advisor on
  duty as organizer and mints a guest token carrying the customer's verified
  name. The page joins with ``{discovery_uri, token}`` and the browser SDK.
* Meeting URL flow (``POST /api/office-hours``): the advisor scheduled "Office
  hours" in Frontdesk's console; the bank reads that meeting's join URL from its
  iCalendar invite and hands it to the customer, who waits in the lobby.

Only public Frontdesk interfaces are used: ``frontdesk.service_client`` here and
``/sdk/frontdesk.js`` in the browser.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from frontdesk.service_client import FrontdeskError, ServiceClient

from .accounts import Accounts, Customer
from .config import BankConfig
from .cookies import COOKIE_NAME, sign_session, verify_session

__all__ = ["create_app"]

HERE = Path(__file__).parent
OFFICE_HOURS = "office hours"  # the subject an advisor gives the scheduled meeting


def _page(template: str, /, **values: str) -> HTMLResponse:
    """A page from ``pages/`` with ``{{key}}`` replaced by the HTML-escaped value."""
    text = (HERE / "pages" / template).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return HTMLResponse(text, headers={"Cache-Control": "no-store"})


def create_app(config: BankConfig | None = None) -> FastAPI:
    config = config or BankConfig.from_env()
    if not config.public_url:
        # The guest tokens' allowed origin: configured, never taken from a request's
        # Host header (which whoever sends the request chooses).
        raise ValueError("Harbor Bank needs its public URL (BANK_PUBLIC_URL)")
    origin = config.public_url.rstrip("/")
    Path(config.database).parent.mkdir(parents=True, exist_ok=True)
    accounts = Accounts(config.database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with ServiceClient(
            config.frontdesk_url, config.client_id, config.client_secret
        ) as frontdesk:
            app.state.frontdesk = frontdesk
            yield

    app = FastAPI(title="Harbor Bank", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.accounts = accounts
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def customer_of(request: Request) -> Customer | None:
        username = verify_session(config.secret_key, request.cookies.get(COOKIE_NAME))
        return accounts.get(username) if username else None

    def frontdesk_failed(err: FrontdeskError) -> JSONResponse:
        return JSONResponse({"error": err.code, "detail": err.detail}, status_code=502)

    not_signed_in = JSONResponse({"error": "not signed in"}, status_code=401)

    # --- pages -----------------------------------------------------------------
    @app.get("/")
    async def home(request: Request) -> Response:
        return RedirectResponse("/account" if customer_of(request) else "/login", 303)

    @app.get("/login")
    async def login_page() -> Response:
        return _page("login.html", error="")

    @app.post("/login")
    async def login(username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
        customer = accounts.authenticate(username, password)
        if customer is None:
            page = _page("login.html", error="Wrong username or password.")
            page.status_code = 401
            return page
        response = RedirectResponse("/account", 303)
        response.set_cookie(
            COOKIE_NAME,
            sign_session(config.secret_key, customer.username),
            httponly=True,
            samesite="lax",
            secure=config.public_url.startswith("https://"),
        )
        return response

    @app.post("/logout")
    async def logout() -> Response:
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE_NAME)
        return response

    @app.get("/account")
    async def account(request: Request) -> Response:
        customer = customer_of(request)
        if customer is None:
            return RedirectResponse("/login", 303)
        return _page("account.html", name=customer.full_name)

    @app.get("/meeting")
    async def meeting_page(request: Request, mode: str = "video") -> Response:
        customer = customer_of(request)
        if customer is None:
            return RedirectResponse("/login", 303)
        if mode not in ("video", "chat", "office"):
            mode = "video"
        return _page(
            "meeting.html", frontdesk=config.frontdesk_url, mode=mode, name=customer.full_name
        )

    # --- the bank's API for its pages ---------------------------------------------
    @app.post("/api/advisor")
    async def talk_to_an_advisor(
        request: Request,
        mode: Annotated[Literal["video", "chat"], Body(embed=True)] = "video",
    ) -> Response:
        """Token flow: join material for the signed-in customer, and nobody else."""
        customer = customer_of(request)
        if customer is None:
            return not_signed_in
        frontdesk: ServiceClient = request.app.state.frontdesk
        subject = "Video call" if mode == "video" else "Chat"
        try:
            meeting = await frontdesk.create_meeting(
                subject=f"{subject} with {customer.full_name}", organizer=config.advisor
            )
            grant = await frontdesk.create_guest_token(
                meeting.id,
                display_name=customer.full_name,  # the name the bank vouches for
                origins=[origin],  # usable from the bank's pages only
                single_use=True,
            )
        except FrontdeskError as err:
            return frontdesk_failed(err)
        body: dict[str, Any] = {
            "discovery_uri": grant.discovery_uri,
            "token": grant.token,
            "expires_at": grant.expires_at.isoformat(),
            "meeting_id": meeting.id,
            "mode": mode,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/api/office-hours")
    async def book_office_hours(request: Request) -> Response:
        """Meeting URL flow: the join URL of the advisor's scheduled office hours,
        read from the meeting's iCalendar invite."""
        customer = customer_of(request)
        if customer is None:
            return not_signed_in
        frontdesk: ServiceClient = request.app.state.frontdesk
        try:
            meetings = await frontdesk.list_meetings(organizer=config.advisor)
            office = next(
                (
                    m
                    for m in meetings
                    if OFFICE_HOURS in m.subject.lower() and m.state.value != "ended"
                ),
                None,
            )
            if office is None:
                return JSONResponse({"error": "no office hours are scheduled"}, status_code=404)
            join_url = await frontdesk.join_url_from_invite(office.id)
        except FrontdeskError as err:
            return frontdesk_failed(err)
        body = {"join_url": join_url, "display_name": customer.full_name, "meeting_id": office.id}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return app
