"""The ASGI application of one Frontdesk node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk import __version__
from frontdesk.bus import Bus, LocalBus, open_bus
from frontdesk.config import Settings
from frontdesk.domain.branding import MAX_LOGO_BYTES
from frontdesk.domain.live import Limits
from frontdesk.domain.media import MediaMode
from frontdesk.errors import FrontdeskError, LimitExceeded
from frontdesk.server.accesslog import install_access_log_filter
from frontdesk.server.direct_socket import ASGI_SEND
from frontdesk.server.helpdesk import Helpdesk
from frontdesk.server.hosting import Directory, LeasedHosting, open_hosting
from frontdesk.server.live import LiveMeetings
from frontdesk.server.metrics import Metrics
from frontdesk.server.operations import Operations
from frontdesk.server.problems import PROBLEM_TYPE, install_problem_handlers, problem_response
from frontdesk.server.ratelimit import RateLimiter
from frontdesk.server.retention import INTERVAL_S as RETENTION_INTERVAL_S
from frontdesk.server.retention import RetentionRun
from frontdesk.server.rtc import RtcEndpoint
from frontdesk.server.webhook_targets import TargetPolicy
from frontdesk.server.webhooks import WebhookDispatcher, webhook_event_for
from frontdesk.server.writer import EventWriter
from frontdesk.store import Store, open_store

if TYPE_CHECKING:  # the SFU is imported only when Janus is configured
    from frontdesk.server.sfu.meetings import SfuMeetings as SfuMeetingsT

__all__ = ["MAX_BODY_BYTES", "create_app"]

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
#: Paths whose bodies may be larger (their routes set ``max_body_size``).
_LARGER_BODIES = {"/v1/branding/logo": MAX_LOGO_BYTES}


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the app. The store is opened (and migrated) at start-up unless given."""
    settings = settings or Settings.from_env()
    install_access_log_filter()  # join codes are credentials: never in the access log

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        st = store if store is not None else await open_store(settings.database_url)
        ops = Operations(settings, st)
        await ops.start()
        app.state.ops = ops
        # Hints between nodes and the node directory; degraded, never failing,
        # when Redis is away.
        bus = open_bus(
            redis_url=settings.redis_url,
            node_id=settings.node_id,
            redis_prefix=settings.redis_prefix,
            node_ttl_s=settings.node_ttl_s,
        )
        await bus.start()
        app.state.bus = bus
        app.state.metrics.watch_bus(bus)
        writer = EventWriter(st)
        await writer.start()
        webhooks = WebhookDispatcher(
            st,
            clock=ops.clock,
            metrics=app.state.metrics,
            targets=app.state.webhook_targets,
            node_id=settings.node_id,
            retention_s=settings.webhook_retention_s,
        )
        await webhooks.start()
        helpdesk = Helpdesk(
            settings,
            st,
            lambda: ops.clock(),
            ops.meetings,
            ops.guest_tokens,
            publish=lambda name, data, meeting_id: webhooks.publish(
                name, data, meeting_id=meeting_id
            ),
            observe=app.state.metrics.observe_helpdesk,
        )
        await helpdesk.start()
        app.state.helpdesk = helpdesk
        app.state.metrics.watch_helpdesk(
            lambda: [helpdesk.board(q.name) for q in helpdesk.queues()]
        )
        hosting = open_hosting(settings, st, clustered=st.shared)
        live: LiveMeetings
        directory = Directory(bus, settings, lambda: live.connection_count())
        if isinstance(hosting, LeasedHosting):
            hosting.nodes = directory.nodes
        live = LiveMeetings(
            ops,
            writer=writer,
            metrics=app.state.metrics,
            limits=_limits(settings),
            webhooks=_MeetingEvents(webhooks, helpdesk),
            webhook_mapper=webhook_event_for,
            hosting=hosting,
            bus=bus,
        )
        helpdesk.notify = live.send_to_guests
        await hosting.start()
        await live.listen()
        app.state.hosting = hosting
        app.state.live = live
        app.state.webhooks = webhooks
        sfu = await _start_sfu(settings, live)
        app.state.sfu = sfu
        app.state.rtc = RtcEndpoint(ops, live, sfu)
        sweeper = asyncio.create_task(_housekeeping(ops, live), name="frontdesk-housekeeping")
        syncing = asyncio.create_task(
            _sync_hosted(live, bus, settings.lease_ttl_s if st.shared else None),
            name="frontdesk-sync",
        )
        revocations = asyncio.create_task(
            _watch_revocations(ops, live, settings.revocation_poll_s),
            name="frontdesk-revocations",
        )
        retention = asyncio.create_task(_chat_retention(ops, live), name="frontdesk-retention")
        await directory.start()
        app.state.directory = directory
        log.info("frontdesk node %s ready at %s", settings.node_id, settings.base_url)
        try:
            yield
        finally:
            for task in (sweeper, revocations, syncing, retention):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await directory.drain()  # no new placements here while the rooms close
            if sfu is not None:
                await sfu.close()
            await live.close()  # a drain, if the server did not ask for one first
            await bus.close()
            await helpdesk.stop()
            await writer.stop()
            await webhooks.stop()
            if own_store:
                await st.close()

    app = _FrontdeskApp(
        title="Frontdesk",
        version=__version__,
        summary="Business-to-consumer meetings: service API, user API, discovery and RTC.",
        lifespan=lifespan,
        # Counted as the bytes arrive (chunked bodies too): 413 problem+json.
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.settings = settings
    app.state.webhook_targets = TargetPolicy.from_settings(settings)
    app.state.metrics = Metrics()
    app.state.service_limiter = RateLimiter(settings.rate_limit_per_min)
    app.state.auth_limiter = RateLimiter(120, burst=30)
    # Public look-ups by a meeting's link (the guest page's preflight), per address.
    app.state.public_limiter = RateLimiter(120, burst=30)
    install_problem_handlers(app)

    # Outermost but for CORS (added below), as the ``@app.middleware("http")``
    # it replaces: a pure ASGI middleware, not Starlette's BaseHTTPMiddleware,
    # which costs a task group and a memory stream per request.
    app.add_middleware(_Observe, metrics=app.state.metrics)

    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=600,
        )

    from frontdesk.server import (
        routes_brand,
        routes_helpdesk,
        routes_public,
        routes_service,
        routes_user,
        routes_web,
        rtc,
    )

    _problem_json_in_openapi(app)

    app.include_router(routes_service.router)
    app.include_router(routes_user.router)
    app.include_router(routes_helpdesk.router)
    app.include_router(routes_public.router)
    app.include_router(routes_brand.router)
    rtc.install(app)
    routes_web.install(app)
    return app


class _MeetingEvents:
    """The live rooms' webhook events go to the webhooks and to the helpdesk
    (a visitor who left, a visit's meeting that ended)."""

    def __init__(self, webhooks: WebhookDispatcher, helpdesk: Helpdesk) -> None:
        self._webhooks = webhooks
        self._helpdesk = helpdesk

    def publish(self, event: str, data: dict[str, Any], *, meeting_id: str) -> None:
        self._webhooks.publish(event, data, meeting_id=meeting_id)
        try:
            self._helpdesk.meeting_event(event, data, meeting_id)
        except Exception:  # the meeting must go on whatever happens here
            log.exception("helpdesk: meeting event %s not handled", event)


_NOSNIFF = (b"x-content-type-options", b"nosniff")


class _Observe:
    """Counts each HTTP request by method, route template and status, times it
    per route, and adds ``X-Content-Type-Options: nosniff`` unless the
    response set it. The route is read after the router matched it
    (``scope["route"]``), never the raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Labelled children, looked up once: ``labels()`` takes a lock and
        # builds a key on every call.
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers")
                if headers is None:
                    message["headers"] = [_NOSNIFF]
                elif not any(k.lower() == _NOSNIFF[0] for k, _ in headers):
                    message["headers"] = [*headers, _NOSNIFF]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._record(scope, status, time.perf_counter() - t0)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route = str(getattr(scope.get("route"), "path", "unmatched"))
        key = (scope["method"], route, status)
        counter = self._counts.get(key)
        if counter is None:
            counter = self.metrics.http_requests.labels(key[0], route, str(status))
            if len(self._counts) < 10_000:  # routes x methods x statuses: small
                self._counts[key] = counter
        counter.inc()
        latency = self._latency.get(route)
        if latency is None:
            latency = self._latency[route] = self.metrics.http_latency.labels(route)
        latency.observe(elapsed)


class _FrontdeskApp(FastAPI):
    """FastAPI counts body bytes as they arrive (``max_body_size``: a chunked body
    over the limit raises into the route, and the problem handler answers 413).
    A body *declared* too large is refused here, outermost, before any of it is
    read, so that it too gets problem+json rather than Starlette's plain text."""

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        limit = self.max_body_size

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "websocket":
                # The server's own send, before any middleware wraps it: the
                # RTC endpoint writes frames below the chain (direct_socket).
                scope[ASGI_SEND] = send
            elif scope["type"] == "http" and limit is not None:
                # A route with a larger limit of its own counts it as it reads.
                allowed = _LARGER_BODIES.get(scope.get("path", ""), limit)
                length = Headers(scope=scope).get("content-length")
                if length is not None and (not length.isdigit() or int(length) > allowed):
                    refusal = LimitExceeded(f"request body above {allowed} bytes")
                    await problem_response(refusal)(scope, receive, send)
                    return
            await inner(scope, receive, send)

        return app


def _problem_json_in_openapi(app: FastAPI) -> None:
    """Document error answers as ``application/problem+json``, as they are sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        has_problem = "Problem" in schema.get("components", {}).get("schemas", {})
        for path in schema.get("paths", {}).values():
            for op in path.values():
                for status, response in op.get("responses", {}).items():
                    content = response.get("content", {})
                    if status[:1] in ("4", "5") and "application/json" in content:
                        content[PROBLEM_TYPE] = content.pop("application/json")
                        if status == "422" and has_problem:  # ours, not FastAPI's default
                            content[PROBLEM_TYPE] = {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


HOUSEKEEPING_INTERVAL_S = 600.0


async def _housekeeping(
    ops: Operations, live: LiveMeetings, interval_s: float = HOUSEKEEPING_INTERVAL_S
) -> None:
    """End idle ad hoc meetings; keep the used-token and key tables from growing."""
    while True:
        try:
            expired = await live.expire_idle()
            if expired:
                log.info("housekeeping: %d idle meetings ended", expired)
            done = await ops.housekeeping()
            if any(done.values()):
                log.info(
                    "housekeeping: forgot %(used_tokens)d used tokens, "
                    "%(signing_keys)d expired keys",
                    done,
                )
        except Exception:  # a database hiccup must not end the loop
            log.exception("housekeeping failed; will try again")
        await asyncio.sleep(interval_s)


async def _watch_revocations(ops: Operations, live: LiveMeetings, interval_s: float) -> None:
    """End the live sessions of guests whose application was revoked, wherever
    it was revoked (this node, the CLI, another node): the store is polled, so
    a revocation takes effect here within ``interval_s``. Applications already
    revoked when the node started have no live guests here (their resume
    tokens are refused)."""
    known: set[str] | None = None
    while True:
        try:
            revoked = await ops.apps.revoked_ids()
            fresh = revoked - known if known is not None else set()
            known = revoked
            if fresh:
                ended = await live.end_revoked(fresh)
                log.warning(
                    "%d application(s) revoked: %d guest session(s) ended", len(fresh), ended
                )
        except Exception:  # a database hiccup must not end the loop
            log.exception("revocation check failed; will try again")
        await asyncio.sleep(interval_s)


async def _chat_retention(
    ops: Operations, live: LiveMeetings, interval_s: float = RETENTION_INTERVAL_S
) -> None:
    """Delete chat content past the retention (:mod:`frontdesk.server.retention`),
    hourly, the first time at a random moment of the node's first minute (nodes
    started together do not all run at once, though they safely could)."""
    if not ops.retention.enabled:
        return
    await asyncio.sleep(random.uniform(1.0, min(60.0, interval_s)))  # noqa: S311 - jitter
    while True:
        try:
            await run_chat_retention(ops, live)
        except Exception:  # a database hiccup must not end the loop
            log.exception("chat retention failed; will try again")
        await asyncio.sleep(interval_s)


async def run_chat_retention(ops: Operations, live: LiveMeetings) -> RetentionRun:
    """One run: the store's chat, then the rooms in this node's memory."""
    done = await ops.retention.run()
    if done.cutoff is not None:
        in_memory = live.redact_chat(done.cutoff)
        if done.redacted or in_memory:
            log.info(
                "chat retention: %d stored message(s) in %d meeting(s) redacted%s",
                done.redacted,
                done.meetings,
                "" if done.complete else " (more next run)",
            )
    return done


#: How often a cluster node polls for service-API changes while Redis carries
#: the hints (a safety net: Redis pub/sub may drop one).
HINTED_SYNC_INTERVAL_S = 10.0


async def _sync_hosted(live: LiveMeetings, bus: Bus, interval_s: float | None) -> None:
    """In a cluster, apply what the service API changed on other nodes (a meeting
    ended, its access policy) to the meetings hosted here, polling the store:
    every ``interval_s`` while no hint can arrive (no Redis, or Redis away),
    else seldom."""
    if interval_s is None:  # one node: the service API calls the live rooms itself
        return
    last = time.monotonic()
    while True:
        await asyncio.sleep(interval_s)
        hinted = not isinstance(bus, LocalBus) and bus.healthy  # Redis carries hints
        if hinted and time.monotonic() - last < HINTED_SYNC_INTERVAL_S:
            continue
        last = time.monotonic()
        try:
            await live.sync_hosted()
        except Exception:  # a database hiccup must not end the loop
            log.exception("syncing hosted meetings failed; will try again")


def _limits(settings: Settings) -> Limits:
    return Limits(
        max_unvouched_lobby=settings.max_unvouched_lobby,
        max_participants=settings.max_participants,
        lobby_timeout_s=settings.lobby_timeout_s,
        reconnect_grace_s=settings.reconnect_grace_s,
        idle_timeout_s=settings.idle_timeout_s,
    )


async def _start_sfu(settings: Settings, live: LiveMeetings) -> SfuMeetingsT | None:
    """The SFU path when Janus is configured. A Janus that cannot be reached at
    start-up leaves the node mesh-only (said once in the log), not down."""
    if not (settings.janus_url and settings.janus_token_secret and settings.janus_admin_key):
        return None
    # Imported only when Janus is configured: a mesh-only node loads no HTTP client.
    from frontdesk.server.sfu import SfuController
    from frontdesk.server.sfu.meetings import SfuMeetings

    controller = SfuController(
        settings.janus_url,
        token_secret=settings.janus_token_secret,
        admin_key=settings.janus_admin_key,
    )
    try:
        await controller.start()
    except FrontdeskError as exc:
        log.error("Janus at %s is unreachable (%s): media is mesh only", settings.janus_url, exc)
        await controller.close()
        return None
    return SfuMeetings(live, controller, MediaMode.parse(settings.media_mode))
