"""``frontdesk demo``: a Frontdesk node and the Harbor Bank sample on loopback,
the whole visitor-to-advisor story told by SDK clients with timings — a
customer's visit through the helpdesk queue ``advice`` served by two advisors:
offered to one, passed on at the offer timeout, accepted by the other, then
transferred with a note and completed — then both servers left running for a
person to try in browser windows.

The node's offers time out after ``FRONTDESK_HELPDESK_OFFER_TIMEOUT`` seconds
(4 here unless set), so the story does not wait the default 20 s; a node
without that setting keeps its default, and the story says how long it waits.

``--once`` tells the story and exits: 0 only if every step succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import httpx
import typer
import uvicorn

from frontdesk.cli.serve import WS_MAX_SIZE
from frontdesk.client import Meeting, MeetingEvent, join_as_user, join_with_token
from frontdesk.config import Settings
from frontdesk.domain.participants import SessionState
from frontdesk.errors import FrontdeskError, Unavailable, ValidationFailed
from frontdesk.server.app import create_app
from frontdesk.server.listen import bind_socket
from frontdesk.service_client import ServiceClient, discover

__all__ = [
    "STEPS",
    "Timeline",
    "demo",
    "find_bank",
    "open_the_bank",
    "pick_port",
    "serve_app",
    "story",
    "tell",
]

T = TypeVar("T")
ADVISORS = (
    ("alice", "Alice Advisor", "correct horse battery"),
    ("bob", "Bob Advisor", "battery staple horse"),
)
ADVISOR = ADVISORS[0]  # who holds office hours
CUSTOMER = ("ann", "Ann Customer", "ann's secret 42")
CUSTOMER_SINCE = 2014
QUEUE = "advice"
OFFER_TIMEOUT_ENV = "FRONTDESK_HELPDESK_OFFER_TIMEOUT"
STEP_TIMEOUT_S = 15.0


# --- servers -----------------------------------------------------------------------------
def pick_port(preferred: int) -> int:
    """``preferred`` if it is free on 127.0.0.1, else any free port.

    The probe sets ``SO_REUSEADDR`` as the server's own socket does
    (:func:`~frontdesk.server.listen.bind_socket`): a port whose last
    connections linger in TIME-WAIT after a restart is free for the server, so
    it must look free here too."""
    for port in (preferred, 0):
        with socket.socket() as s, contextlib.suppress(OSError):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            return int(s.getsockname()[1])
    raise ValidationFailed("no free port on 127.0.0.1")


@contextlib.asynccontextmanager
async def serve_app(app: Any, port: int, *, ws: bool = False) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1:``port`` in this event loop;
    yields its base URL."""
    sock = bind_socket("127.0.0.1", port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
        ws="websockets-sansio" if ws else "auto",
        ws_max_size=WS_MAX_SIZE,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise ValidationFailed(f"the server on port {port} did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)
        sock.close()


def find_bank() -> ModuleType:
    """Import the ``harbor_bank`` sample from ``examples/`` (this checkout or the cwd)."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        examples = root / "examples"
        if (examples / "harbor_bank" / "__init__.py").is_file():
            if str(examples) not in sys.path:
                sys.path.insert(0, str(examples))
            return importlib.import_module("harbor_bank")
    raise ValidationFailed("examples/harbor_bank not found: run the demo from a Frontdesk checkout")


# --- the timeline ------------------------------------------------------------------------
# Every step the story must complete for ``--once`` to exit 0, in order.
STEPS = (
    "customer signed in to the bank",
    "visit queued by the bank",
    "discovery",
    "customer waiting in the lobby",
    "advisors signed in (console login)",
    "advisors available",
    "offered to the first advisor",
    "passed on at the offer timeout",
    "accepted by the second advisor",
    "admitted",
    "chat customer → advisor",
    "chat advisor → customer",
    "media connected",
    "transferred with a note",
    "taken over by the first advisor",
    "completed",
    "left",
)


@dataclass
class Timeline:
    """The story's steps as they happen, with timings; :attr:`ok` only when every
    expected step completed (a failure, or a step never reached, is not ok)."""

    expected: tuple[str, ...] = STEPS
    started: float = field(default_factory=time.perf_counter)
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    async def step(self, what: str, action: Awaitable[T], *, limit_s: float | None = None) -> T:
        t0 = time.perf_counter()
        try:
            result = await asyncio.wait_for(action, limit_s or STEP_TIMEOUT_S)
        except Exception as exc:
            self.failed.append(what)
            self._line("FAIL", what, t0, f"{type(exc).__name__}: {exc}".replace("\n", " "))
            raise
        self.done.append(what)
        self._line("ok", what, t0, result if isinstance(result, str) else "")
        return result

    def skipped(self, what: str, reason: str) -> None:
        self.done.append(what)
        typer.echo(f"  {'':>8}  skip  {what:<34} skipped ({reason})")

    def say(self, text: str) -> None:
        """A line of the story between steps (what is about to happen)."""
        typer.echo(f"  {'':>8}  ...   {text}")

    @property
    def missing(self) -> list[str]:
        """Expected steps that neither completed nor failed (never reached)."""
        return [s for s in self.expected if s not in self.done and s not in self.failed]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing

    def _line(self, status: str, what: str, t0: float, detail: str) -> None:
        now = time.perf_counter()
        at, took = now - self.started, (now - t0) * 1000
        typer.echo(f"  +{at:6.3f}s  {status:<4}  {what:<34} {took:7.1f} ms  {detail}")


async def _next(meeting: Meeting, test: Callable[[MeetingEvent], bool]) -> MeetingEvent:
    async for event in meeting.events():
        if test(event):
            return event
    raise ValidationFailed("the session ended while waiting")


@dataclass
class _Advisor:
    """An advisor at the console: its session, and the user API it polls."""

    username: str
    display_name: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def session(self) -> str:
        return self.headers["Authorization"].removeprefix("Bearer ")


def _why(wait: float) -> str:
    """Where the offer's lifetime comes from: the setting, or the node's default
    when the node does not read the setting."""
    asked = os.environ.get(OFFER_TIMEOUT_ENV) or "4"
    with contextlib.suppress(ValueError):
        if abs(float(asked) - wait) <= 1.5:
            return f"{OFFER_TIMEOUT_ENV}={asked}"
    return f"this node's default; it does not read {OFFER_TIMEOUT_ENV}={asked}"


def _heard(data: dict[str, Any]) -> str:
    """What the bank's page says for a ``visit_position`` (short)."""
    state = data.get("state")
    if state == "queued":
        return f"number {data['position']}" if data.get("position") else "back in the queue"
    return {"offered": "an advisor is asked", "accepted": "taken"}.get(str(state), str(state))


# --- the story ----------------------------------------------------------------------------
async def story(
    frontdesk_url: str,
    bank_url: str,
    tl: Timeline,
    *,
    advisor_logins: tuple[tuple[str, str, str], ...] = ADVISORS,
    customer_login: tuple[str, str, str] = CUSTOMER,
) -> None:
    """Customer ``ann`` asks Harbor Bank for an advisor; the visit waits in the
    queue ``advice``; it is offered to alice, who does not answer, passed on to
    bob at the offer timeout, accepted; bob transfers it to alice with a note,
    alice takes over and completes it. Every call that can fail runs inside a
    :meth:`Timeline.step`."""
    async with (
        httpx.AsyncClient(base_url=bank_url, timeout=10) as bank,
        httpx.AsyncClient(timeout=10) as http,
        contextlib.AsyncExitStack() as stack,
    ):

        async def sign_in() -> str:
            r = await bank.post(
                "/login", data={"username": customer_login[0], "password": customer_login[2]}
            )
            assert r.status_code == 303 and "harbor_session" in bank.cookies, r.status_code
            return f"as {customer_login[0]} (the bank's own login)"

        await tl.step("customer signed in to the bank", sign_in())
        material: dict[str, Any] = {}

        async def ask() -> str:
            body = {"mode": "video", "topic": "mortgage", "language": "en"}
            r = await bank.post("/api/advisor", json=body)
            assert r.status_code == 200, r.text
            material.update(r.json())
            return f"queue {QUEUE!r}, number {material['position']}; {{discovery_uri, token}}"

        await tl.step("visit queued by the bank", ask())

        async def discovery() -> str:
            found = await discover(material["discovery_uri"], material["token"], http_client=http)
            material["found"] = found
            return f"→ {found.rtc_url}"

        await tl.step("discovery", discovery())
        customer = join_with_token(material["discovery_uri"], material["token"], http_client=http)
        stack.push_async_callback(customer.leave)
        # what the bank's page shows, from the answer and then live from Frontdesk
        heard = [_heard({"state": "queued", "position": material["position"]})]

        def hear(event: MeetingEvent) -> None:
            if (said := _heard(event.data)) != heard[-1]:
                heard.append(said)

        customer.on("visit_position", hear)

        async def lobby() -> str:
            await customer.connect()
            assert customer.state is SessionState.LOBBY, customer.state
            return "with the name the bank vouched for"

        await tl.step("customer waiting in the lobby", lobby())
        first, second = (_Advisor(u, n) for u, n, _ in advisor_logins[:2])
        passwords = {u: p for u, _, p in advisor_logins}

        async def sign_in_advisors() -> str:
            for advisor in (first, second):
                r = await http.post(
                    f"{frontdesk_url}/v1/session",
                    json={"username": advisor.username, "password": passwords[advisor.username]},
                )
                r.raise_for_status()
                advisor.headers["Authorization"] = f"Bearer {r.json()['token']}"
            return f"as {first.username} and {second.username}"

        await tl.step("advisors signed in (console login)", sign_in_advisors())
        helpdesk = f"{frontdesk_url}/v1/me/helpdesk"

        async def poll(advisor: _Advisor, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
            """The advisor's console view, as soon as ``test`` holds (the console polls)."""
            while True:
                r = await http.get(helpdesk, headers=advisor.headers)
                r.raise_for_status()
                data: dict[str, Any] = r.json()
                if test(data):
                    return data
                await asyncio.sleep(0.1)

        def offered(data: dict[str, Any]) -> bool:
            offer: dict[str, Any] = data.get("offer") or {}
            return bool(offer.get("visit_id") == material["visit_id"])

        async def available() -> str:
            # the first advisor first: the longest idle gets the offer
            for advisor in (first, second):
                r = await http.put(
                    f"{helpdesk}/state", headers=advisor.headers, json={"state": "available"}
                )
                r.raise_for_status()
            return f"{first.username}, then {second.username}"

        await tl.step("advisors available", available())

        async def offer_to_first() -> str:
            offer = (await poll(first, offered))["offer"]
            material["deadline"] = datetime.fromisoformat(offer["offer_deadline"])
            return f"{first.username} sees {offer['display_name']!r}: {offer['context']!r}"

        await tl.step("offered to the first advisor", offer_to_first())
        wait = max(0.0, (material["deadline"] - datetime.now(UTC)).total_seconds())
        tl.say(f"{first.username} does not answer; the offer stands {wait:.0f} s ({_why(wait)})")

        async def passed_on() -> str:
            await poll(second, offered)
            return f"now offered to {second.username} (the customer heard: {' → '.join(heard)})"

        await tl.step("passed on at the offer timeout", passed_on(), limit_s=wait + STEP_TIMEOUT_S)

        async def accept(advisor: _Advisor) -> str:
            visit_id = material["visit_id"]
            url = f"{helpdesk}/visits/{visit_id}/accept"
            (await http.post(url, headers=advisor.headers)).raise_for_status()
            return f"{advisor.username} is the meeting's organizer now"

        await tl.step("accepted by the second advisor", accept(second))
        serving = join_as_user(frontdesk_url, material["found"].meeting_id, second.session)
        stack.push_async_callback(serving.leave)

        async def admit() -> str:
            await serving.connect()
            while not serving.lobby:
                await _next(serving, lambda e: e.name == "participant_waiting")
            entry = next(iter(serving.lobby.values()))
            assert entry.display_name == customer_login[1] and entry.vouched, entry
            await serving.admit(entry.participant_id)
            await customer.admitted()
            return f"{entry.display_name!r}, vouched by the bank, by {second.username}"

        await tl.step("admitted", admit())
        await tl.step("chat customer → advisor", _chat(customer, serving, "Hi, about my loan"))
        await tl.step("chat advisor → customer", _chat(serving, customer, "Happy to help!"))
        await _media(customer, serving, tl)
        note = "fixed rate for 20 years; she also asks about insurance"

        async def transfer() -> str:
            url = f"{helpdesk}/visits/{material['visit_id']}/transfer"
            body = {"to_agent": first.username, "note": note}
            (await http.post(url, headers=second.headers, json=body)).raise_for_status()
            offer = (await poll(first, offered))["offer"]
            assert offer["note"] == note, offer
            return f"{second.username} → {first.username}: {note!r}"

        await tl.step("transferred with a note", transfer())

        async def take_over() -> str:
            await accept(first)
            taking = join_as_user(frontdesk_url, material["found"].meeting_id, first.session)
            stack.push_async_callback(taking.leave)
            await taking.connect()
            said = [m.text for m in taking.chat.history]
            assert "Hi, about my loan" in said, said
            await serving.leave()
            assert customer.state is SessionState.JOINED, customer.state
            material["taking"] = taking
            return f"{first.username} sees the chat so far ({len(said)} messages); still connected"

        await tl.step("taken over by the first advisor", take_over())

        async def complete() -> str:
            url = f"{helpdesk}/visits/{material['visit_id']}/complete"
            (await http.post(url, headers=first.headers)).raise_for_status()
            return f"by {first.username} (the customer heard: {' → '.join(heard)})"

        await tl.step("completed", complete())

        async def leave() -> str:
            taking: Meeting = material["taking"]
            waiting = asyncio.ensure_future(_next(taking, lambda e: e.name == "participant_left"))
            await customer.leave()
            await waiting
            return f"{first.username} saw the customer leave"

        await tl.step("left", leave())


async def _chat(sender: Meeting, receiver: Meeting, text: str) -> str:
    arrived = asyncio.ensure_future(
        _next(receiver, lambda e: e.message is not None and e.message.text == text)
    )
    await asyncio.sleep(0)  # subscribe before sending
    await sender.chat.send(text)
    await arrived
    return repr(text)


async def _media(customer: Meeting, advisor: Meeting, tl: Timeline) -> None:
    """Audio and video both ways through the App SDK's aiortc media. Host
    candidates are restricted to 127.0.0.1 and no STUN/TURN is used, so every
    packet stays on loopback whatever interfaces the machine has."""
    try:
        from frontdesk.client.media import pattern_track, tone_track
    except Unavailable as err:
        tl.skipped("media connected", str(err))
        return

    async def first_video(media: Any, pid: str | None) -> Any:
        assert pid is not None
        async for frame in media.frames(pid, "video"):
            return frame
        raise Unavailable("the video track ended before a frame arrived")

    async def connect() -> str:
        loopback: dict[str, Any] = {"ice_host_addresses": ["127.0.0.1"], "ice_servers": []}
        sides = []
        for m in (customer, advisor):
            video = pattern_track(640, 480, fps=20)
            sides.append(await m.start_media(audio=tone_track(), video=video, **loopback))
        async with asyncio.timeout(20):
            at_customer, at_advisor = await asyncio.gather(
                first_video(sides[0], advisor.participant_id),
                first_video(sides[1], customer.participant_id),
            )
        sizes = {f"{f.width}x{f.height}" for f in (at_customer, at_advisor)}
        return f"audio and video both ways ({', '.join(sorted(sizes))}), ICE on 127.0.0.1 only"

    await tl.step("media connected", connect())


# --- set-up and the command --------------------------------------------------------------
def node_settings(fd_port: int, bank_origin: str, data_dir: Path) -> Settings:
    """The demo node: loopback, its own SQLite file, the bank's origin allowed,
    and short offers (``FRONTDESK_HELPDESK_OFFER_TIMEOUT``, 4 s unless set; read
    only by a node that has the setting). Nothing else is taken from the
    environment."""
    env = {OFFER_TIMEOUT_ENV: os.environ.get(OFFER_TIMEOUT_ENV) or "4"}
    return Settings.from_env(
        env,
        host="127.0.0.1",
        port=fd_port,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'frontdesk.db'}",
        allowed_origins=(bank_origin,),
    )


async def open_the_bank(
    bank: ModuleType,
    node: Any,
    frontdesk_url: str,
    bank_origin: str,
    data_dir: Path,
    *,
    advisors: tuple[tuple[str, str, str], ...] = ADVISORS,
) -> Any:
    """What an operator does once: the bank's application with the bank's brand
    (its name, accent and logo, as ``frontdesk apps brand`` sets them), the
    advisors' accounts, the queue ``advice`` they serve; then the bank's app
    (not yet serving), with the customer's account."""
    ops = node.state.ops
    creds = await ops.apps.create("Harbor Bank")
    brand = bank.brand
    await ops.brands.update(creds.client_id, display_name=brand.DISPLAY_NAME, accent=brand.ACCENT)
    await ops.brands.set_logo(creds.client_id, brand.LOGO.read_bytes())
    for advisor in advisors:
        await ops.accounts.create(*advisor)
    async with ServiceClient(frontdesk_url, creds.client_id, creds.client_secret) as svc:
        await svc.create_queue(
            QUEUE,
            agents=[a[0] for a in advisors],
            topics=["everyday", "mortgage", "savings"],
            languages=["en", "de"],
        )
    config = bank.BankConfig(
        frontdesk_url=frontdesk_url,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        public_url=bank_origin,
        queue=QUEUE,
        advisor=advisors[0][0],
        database=str(data_dir / "harbor_bank.db"),
    )
    bank_app = bank.create_app(config)
    bank_app.state.accounts.add(*CUSTOMER, since=CUSTOMER_SINCE)
    return bank_app


async def _run(once: bool, frontdesk_port: int, bank_port: int, data_dir: Path) -> int:
    bank = find_bank()
    fd_port, bk_port = pick_port(frontdesk_port), pick_port(bank_port)
    bank_origin = f"http://127.0.0.1:{bk_port}"
    node = create_app(node_settings(fd_port, bank_origin, data_dir))
    async with serve_app(node, fd_port, ws=True) as frontdesk_url:
        bank_app = await open_the_bank(bank, node, frontdesk_url, bank_origin, data_dir)
        async with serve_app(bank_app, bk_port) as bank_url:
            typer.echo(f"Frontdesk  {frontdesk_url}    Harbor Bank  {bank_url}\n")
            tl = await tell(frontdesk_url, bank_url)
            if once:
                return 0 if tl.ok else 1
            await _office_hours(frontdesk_url)
            _how_to_try(frontdesk_url, bank_url)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    return 0


async def tell(frontdesk_url: str, bank_url: str, **logins: Any) -> Timeline:
    """Run :func:`story` and print the verdict: every expected step, or what failed
    and what was never reached. Nothing raised by the story escapes."""
    tl = Timeline()
    try:
        await story(frontdesk_url, bank_url, tl, **logins)
    except Exception as exc:  # recorded by its step, or reported here
        if not tl.failed:
            typer.echo(f"  the story stopped: {type(exc).__name__}: {exc}")
    if tl.ok:
        typer.echo("\nevery step succeeded")
    else:
        failed = ", ".join(tl.failed) or "none"
        typer.echo(f"\nFAILED at: {failed}; not reached: {', '.join(tl.missing) or 'none'}")
    return tl


async def _office_hours(frontdesk_url: str) -> None:
    """Schedule "Office hours" from now for two hours, as the advisor would in
    the console (URL flow), so a customer can book them and join at once."""
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    async with httpx.AsyncClient(base_url=frontdesk_url, timeout=10) as http:
        r = await http.post("/v1/session", json={"username": ADVISOR[0], "password": ADVISOR[2]})
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        body = {
            "subject": "Office hours",
            "organizer": ADVISOR[0],
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
        }
        (await http.post("/v1/me/meetings", json=body, headers=headers)).raise_for_status()


def _how_to_try(frontdesk_url: str, bank_url: str) -> None:
    (alice, _, alice_pw), (bob, _, bob_pw) = ADVISORS[:2]
    typer.echo(
        f"""
Try it yourself in three browser windows (Ctrl-C stops both servers):
  customer  {bank_url}/login       user {CUSTOMER[0]!r}  password {CUSTOMER[2]!r}
            "Talk to an advisor" or "Chat with us" waits in the queue {QUEUE!r};
            "Book office hours" books the office hours alice holds until two hours from now
  advisor   {frontdesk_url}/console  user {alice!r}  password {alice_pw!r}
  advisor   {frontdesk_url}/console  user {bob!r}    password {bob_pw!r}
            (a second browser or a private window) both are available: the visit is
            offered to the one idle longest; let it ring out and it passes to the other
"""
    )


def demo(
    once: bool = typer.Option(False, "--once", help="Tell the story once and exit (0 = all ok)."),
    frontdesk_port: int = typer.Option(8080, "--frontdesk-port", help="Preferred node port."),
    bank_port: int = typer.Option(8081, "--bank-port", help="Preferred bank port."),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where the databases go (default: a fresh temporary dir)."
    ),
) -> None:
    """Start Frontdesk and the Harbor Bank sample on 127.0.0.1 and run the whole story."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-demo-") as tmp:
        where = data_dir or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        try:
            code = asyncio.run(_run(once, frontdesk_port, bank_port, where))
        except KeyboardInterrupt:
            code = 0
        except FrontdeskError as err:
            typer.echo(f"demo failed ({err.code}): {err.detail}", err=True)
            code = 2
    raise typer.Exit(code)


if __name__ == "__main__":  # pragma: no cover - ``python -m frontdesk.cli.demo``
    typer.run(demo)
