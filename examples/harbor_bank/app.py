"""Harbor Bank's web app: its own login, an account page, and two ways to reach
an advisor through Frontdesk.

* Helpdesk queue (``POST /api/advisor``): the bank verifies its own session
  cookie, then, as a trusted application, asks Frontdesk for the next available
  advisor of its queue (``create_visit``) with the customer's verified name, the
  topic, the language, video or chat, and what the advisor should know ("customer
  since 2014"). The page joins with ``{discovery_uri, token}`` and the browser
  SDK, and shows the visitor's place in the queue as Frontdesk updates it. A
  closed or full queue answers with the next opening time, and the customer can
  leave a message instead (``POST /api/message``: a callback request).
* Meeting URL flow (``/api/office-hours``): the advisor scheduled "Office hours"
  in Frontdesk's console; the bank books the customer a place (its own table),
  shows the time, and from shortly before the start hands out the meeting's join
  URL, read from its iCalendar invite. The customer waits in the lobby.

Only public Frontdesk interfaces are used: ``frontdesk.service_client`` here and
``/sdk/frontdesk.js`` in the browser.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from frontdesk.service_client import FrontdeskError, Meeting, ServiceClient

from .accounts import Accounts, Customer
from .config import BankConfig
from .cookies import COOKIE_NAME, sign_session, verify_session

__all__ = ["create_app"]

HERE = Path(__file__).parent
OFFICE_HOURS = "office hours"  # the subject an advisor gives the scheduled meeting
DOORS_OPEN = timedelta(minutes=10)  # a booked customer may join this long before the start
#: What a customer may ask about, and in which language: the bank's own lists
#: (the queue's topics and languages in Frontdesk must include them).
Topic = Literal["everyday", "mortgage", "savings"]
Language = Literal["en", "de"]
TOPICS: dict[str, str] = {
    "everyday": "everyday banking",
    "mortgage": "a mortgage",
    "savings": "savings and investments",
}


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
    async def meeting_page(
        request: Request, mode: str = "video", topic: str = "everyday", language: str = "en"
    ) -> Response:
        customer = customer_of(request)
        if customer is None:
            return RedirectResponse("/login", 303)
        return _page(
            "meeting.html",
            frontdesk=config.frontdesk_url,
            mode=mode if mode in ("video", "chat", "office") else "video",
            topic=topic if topic in TOPICS else "everyday",
            language=language if language in ("en", "de") else "en",
            name=customer.full_name,
        )

    # --- the bank's API for its pages ---------------------------------------------
    @app.post("/api/advisor")
    async def talk_to_an_advisor(
        request: Request,
        mode: Annotated[Literal["video", "chat"], Body(embed=True)] = "video",
        topic: Annotated[Topic, Body(embed=True)] = "everyday",
        language: Annotated[Language, Body(embed=True)] = "en",
    ) -> Response:
        """Join material for the signed-in customer, and nobody else: a visit to
        the bank's helpdesk queue, taken by the next available advisor."""
        customer = customer_of(request)
        if customer is None:
            return not_signed_in
        frontdesk: ServiceClient = request.app.state.frontdesk
        since = f"customer since {customer.since}, " if customer.since else ""
        try:
            made = await frontdesk.create_visit(
                config.queue,
                display_name=customer.full_name,  # the name the bank vouches for
                medium=mode,
                topic=topic,
                language=language,
                context=f"{since}signed in to online banking, asks about {TOPICS[topic]}",
            )
        except FrontdeskError as err:
            if err.code in ("queue_closed", "queue_full"):
                # the page offers "leave a message" and says when the queue opens
                body = {"error": err.code, "detail": err.detail, **err.extra}
                return JSONResponse(body, status_code=409)
            return frontdesk_failed(err)
        visit = made.visit
        try:
            # The visit comes with a guest token, but one any web origin could use:
            # the browser gets one of our own for the visit's meeting instead,
            # single use and usable from the bank's pages only.
            guest = await frontdesk.create_guest_token(
                visit.meeting_id,
                display_name=customer.full_name,
                origins=[origin],
                single_use=True,
            )
        except FrontdeskError as err:
            with suppress(FrontdeskError):  # nobody will come: do not keep an advisor busy
                await frontdesk.cancel_visit(visit.visit_id)
            return frontdesk_failed(err)
        body: dict[str, Any] = {
            "visit_id": visit.visit_id,
            "position": visit.position,
            "estimated_wait_s": visit.estimated_wait_s,
            "discovery_uri": guest.discovery_uri,
            "token": guest.token,
            "expires_at": guest.expires_at.isoformat(),
            "meeting_id": visit.meeting_id,
            "mode": mode,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/api/message")
    async def leave_a_message(
        request: Request,
        message: Annotated[str, Body(embed=True, min_length=1, max_length=2000)],
        contact: Annotated[str, Body(embed=True, max_length=200)] = "",
    ) -> Response:
        """The queue is closed or full: the customer's message becomes a callback
        request the advisors see in their console."""
        customer = customer_of(request)
        if customer is None:
            return not_signed_in
        frontdesk: ServiceClient = request.app.state.frontdesk
        reach = contact.strip() or "through online banking"
        try:
            await frontdesk.leave_message(
                config.queue,
                display_name=customer.full_name,
                message=message,
                contact=f"{reach} (Harbor Bank customer {customer.username})",
            )
        except FrontdeskError as err:
            return frontdesk_failed(err)
        return JSONResponse({"ok": True}, status_code=201)

    async def next_office_hours(frontdesk: ServiceClient) -> Meeting | None:
        """The advisor's next office hours that have not ended (earliest first)."""
        now = datetime.now(UTC)
        meetings = [
            m
            for m in await frontdesk.list_meetings(organizer=config.advisor)
            if OFFICE_HOURS in m.subject.lower()
            and m.state.value != "ended"
            and (m.end is None or m.end > now)
        ]
        return min(meetings, key=lambda m: m.start or now, default=None)

    def booking_out(meeting: Meeting) -> dict[str, Any]:
        opens = meeting.start - DOORS_OPEN if meeting.start else None
        return {
            "meeting_id": meeting.id,
            "subject": meeting.subject,
            "start": meeting.start.isoformat() if meeting.start else None,
            "end": meeting.end.isoformat() if meeting.end else None,
            "opens": opens.isoformat() if opens else None,  # the join button works from then
            "open_now": opens is None or opens <= datetime.now(UTC),
        }

    @app.get("/api/office-hours")
    async def my_office_hours(request: Request) -> Response:
        """The customer's booking (``null``: none, or its meeting is over)."""
        customer = customer_of(request)
        if customer is None:
            return not_signed_in
        booked = await booked_meeting(request, customer)
        if isinstance(booked, Response):
            return booked
        body = {"booking": booking_out(booked) if booked else None}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @app.post("/api/office-hours")
    async def book_office_hours(request: Request) -> Response:
        """Book the customer a place in the advisor's next office hours."""
        customer = customer_of(request)
        if customer is None:
            return not_signed_in
        frontdesk: ServiceClient = request.app.state.frontdesk
        try:
            office = await next_office_hours(frontdesk)
        except FrontdeskError as err:
            return frontdesk_failed(err)
        if office is None:
            return JSONResponse({"error": "no office hours are scheduled"}, status_code=404)
        accounts.book(customer.username, office.id)
        return JSONResponse({"booking": booking_out(office)}, status_code=201)

    @app.post("/api/office-hours/join")
    async def join_office_hours(request: Request) -> Response:
        """Meeting URL flow: the join URL of the booked office hours, read from
        the meeting's iCalendar invite, from shortly before the start only."""
        customer = customer_of(request)
        if customer is None:
            return not_signed_in
        booked = await booked_meeting(request, customer)
        if isinstance(booked, Response):
            return booked
        if booked is None:
            return JSONResponse({"error": "no_booking"}, status_code=404)
        booking = booking_out(booked)
        if not booking["open_now"]:
            return JSONResponse({"error": "too_early", **booking}, status_code=409)
        frontdesk: ServiceClient = request.app.state.frontdesk
        try:
            join_url = await frontdesk.join_url_from_invite(booked.id)
        except FrontdeskError as err:
            return frontdesk_failed(err)
        body = {"join_url": join_url, "display_name": customer.full_name, **booking}
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def booked_meeting(request: Request, customer: Customer) -> Meeting | Response | None:
        """The meeting the customer booked, while it has not ended."""
        meeting_id = accounts.booking(customer.username)
        if meeting_id is None:
            return None
        frontdesk: ServiceClient = request.app.state.frontdesk
        try:
            meeting = await frontdesk.get_meeting(meeting_id)
        except FrontdeskError as err:
            return None if err.code == "meeting_not_found" else frontdesk_failed(err)
        over = meeting.state.value == "ended" or (
            meeting.end is not None and meeting.end <= datetime.now(UTC)
        )
        return None if over else meeting

    return app
