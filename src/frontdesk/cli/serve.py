"""``frontdesk serve``: run one node."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any

import typer
import uvicorn
from sqlalchemy.engine import make_url

from frontdesk.bus import redact_url
from frontdesk.config import Settings
from frontdesk.errors import FrontdeskError
from frontdesk.server.accesslog import ACCESS_LOGGER
from frontdesk.server.listen import DrainingServer, bind_socket

if TYPE_CHECKING:
    from frontdesk.cli.dev import DevKit

__all__ = ["WS_MAX_SIZE", "serve"]

#: Frames above the protocol limit (64 KiB) get a typed error; above this, a close.
WS_MAX_SIZE = 1024 * 1024


def serve(
    host: str | None = typer.Option(
        None, "--host", envvar="FRONTDESK_HOST", help="Interface (127.0.0.1)."
    ),
    port: int | None = typer.Option(None, "--port", envvar="FRONTDESK_PORT", help="Port (8080)."),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        envvar="FRONTDESK_PUBLIC_URL",
        help="Base of join URLs and discovery URIs.",
    ),
    brand_name: str | None = typer.Option(
        None,
        "--brand-name",
        envvar="FRONTDESK_BRAND_NAME",
        help="Business name the guest page shows for meetings made from the console or "
        "the CLI (an application's meetings show its own brand).",
    ),
    database_url: str | None = typer.Option(
        None,
        "--database-url",
        envvar="FRONTDESK_DATABASE_URL",
        help="SQLAlchemy URL (default: SQLite under ./var/).",
    ),
    redis_url: str | None = typer.Option(
        None,
        "--redis-url",
        envvar="FRONTDESK_REDIS_URL",
        help="Redis for the bus (unset: in-process).",
    ),
    redis_prefix: str | None = typer.Option(
        None,
        "--redis-prefix",
        envvar="FRONTDESK_REDIS_PREFIX",
        help="Prefix of this cluster's Redis keys and channels (frontdesk:).",
    ),
    node_id: str | None = typer.Option(
        None, "--node-id", envvar="FRONTDESK_NODE_ID", help="This node's name (node-1)."
    ),
    node_url: str | None = typer.Option(
        None,
        "--node-url",
        envvar="FRONTDESK_NODE_URL",
        help="This node's own base URL for WebSockets (default: the public URL).",
    ),
    lease_ttl_s: float | None = typer.Option(
        None,
        "--lease-ttl-s",
        envvar="FRONTDESK_LEASE_TTL_S",
        help="In a cluster, how long a meeting's lease lasts unrenewed (3).",
    ),
    ice_servers: str | None = typer.Option(
        None,
        "--ice-servers",
        envvar="FRONTDESK_ICE_SERVERS",
        help="JSON list or comma-separated STUN/TURN URLs.",
    ),
    turn_secret: str | None = typer.Option(
        None,
        "--turn-secret",
        envvar="FRONTDESK_TURN_SECRET",
        help="coturn use-auth-secret shared secret.",
    ),
    allowed_origins: str | None = typer.Option(
        None,
        "--allowed-origins",
        envvar="FRONTDESK_ALLOWED_ORIGINS",
        help="Comma-separated web origins for CORS and cookie-authenticated writes.",
    ),
    webhook_allowed_networks: str | None = typer.Option(
        None,
        "--webhook-allowed-networks",
        envvar="FRONTDESK_WEBHOOK_ALLOWED_NETWORKS",
        help="Comma-separated CIDRs webhooks may target besides public addresses.",
    ),
    chat_retention_days: int | None = typer.Option(
        None,
        "--chat-retention-days",
        envvar="FRONTDESK_CHAT_RETENTION_DAYS",
        min=0,
        help="Delete chat text older than this many days, keeping who wrote when (0: keep).",
    ),
    helpdesk_offer_timeout: float | None = typer.Option(
        None,
        "--helpdesk-offer-timeout",
        envvar="FRONTDESK_HELPDESK_OFFER_TIMEOUT",
        help="Seconds an agent has to answer a helpdesk offer before it passes on (20).",
    ),
    helpdesk_missed_offers: int | None = typer.Option(
        None,
        "--helpdesk-missed-offers",
        envvar="FRONTDESK_HELPDESK_MISSED_OFFERS",
        help="Helpdesk offers an agent may miss in a row before being set away (2).",
    ),
    janus_url: str | None = typer.Option(
        None,
        "--janus-url",
        envvar="FRONTDESK_JANUS_URL",
        help="Janus's HTTP API for group meetings on an SFU (unset: mesh only).",
    ),
    janus_token_secret: str | None = typer.Option(
        None,
        "--janus-token-secret",
        envvar="FRONTDESK_JANUS_TOKEN_SECRET",
        help="Janus's token_auth_secret (the node signs a token per request).",
    ),
    janus_admin_key: str | None = typer.Option(
        None,
        "--janus-admin-key",
        envvar="FRONTDESK_JANUS_ADMIN_KEY",
        help="The admin_key of Janus's videoroom plugin (to create rooms).",
    ),
    media_mode: str | None = typer.Option(
        None,
        "--media-mode",
        envvar="FRONTDESK_MEDIA_MODE",
        help="With Janus: mesh, sfu, or auto (a mesh that moves to the SFU past 4 people).",
    ),
    log_level: str = typer.Option(
        "info",
        "--log-level",
        envvar="FRONTDESK_LOG_LEVEL",
        help="The node's log level: debug, info, warning, error.",
    ),
    access_log_level: str = typer.Option(
        "warning",
        "--access-log-level",
        envvar="FRONTDESK_ACCESS_LOG_LEVEL",
        help="Level of the access log (logger uvicorn.access, one line per request at "
        "info): info shows every request, warning (the default) none.",
    ),
    dev: bool = typer.Option(
        False,
        "--dev",
        envvar="FRONTDESK_DEV",
        help="Development mode, loopback only: creates a development application, "
        "agent and meeting on first start and prints their credentials and a join link.",
    ),
) -> None:
    """Run a Frontdesk node (the database is migrated at start-up)."""
    from frontdesk.config import _ice, _list, _networks
    from frontdesk.server.app import create_app

    settings = _settings(
        host=host,
        port=port,
        public_url=public_url,
        brand_name=brand_name,
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        node_id=node_id,
        node_url=node_url,
        lease_ttl_s=lease_ttl_s,
        ice_servers=_ice(ice_servers) if ice_servers else None,
        turn_secret=turn_secret,
        allowed_origins=_list(allowed_origins) if allowed_origins else None,
        webhook_allowed_networks=(
            _networks(webhook_allowed_networks) if webhook_allowed_networks else None
        ),
        chat_retention_days=chat_retention_days,
        helpdesk_offer_timeout=helpdesk_offer_timeout,
        helpdesk_missed_offers=helpdesk_missed_offers,
        janus_url=janus_url,
        janus_token_secret=janus_token_secret,
        janus_admin_key=janus_admin_key,
        media_mode=media_mode,
        log_level=log_level,
    )
    access_level = _level(access_log_level, "--access-log-level")
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic announces each of its plugins at info: noise at every start.
    logging.getLogger("alembic.runtime.plugins").setLevel(
        max(logging.WARNING, _level(log_level, "--log-level"))
    )
    kit = _dev_kit(settings) if dev else None
    base = settings.base_url
    typer.echo(f"Frontdesk {_version()}, node {settings.node_id}")
    typer.echo(f"  home          {base}/   (links to everything below)")
    typer.echo(f"  console       {base}/console   (agents sign in here)")
    typer.echo(f"  service API   {base}/v1   (OpenAPI: {base}/docs)")
    typer.echo(f"  health        {base}/healthz  metrics {base}/metrics")
    typer.echo(f"  database      {_without_password(settings.database_url)}")
    if settings.database_url.startswith("postgresql"):
        typer.echo(
            f"  cluster       meetings hosted by lease ({settings.lease_ttl_s:g} s),"
            f" node at {settings.node_base_url}"
        )
    # The bus (hints between nodes, node directory) runs over Redis when a URL is set.
    if settings.redis_url:
        typer.echo(
            f"  bus           redis {redact_url(settings.redis_url)}"
            f" (prefix {settings.redis_prefix!r}), node at {settings.node_base_url}"
        )
    else:
        typer.echo("  bus           in-process (one node)")
    if settings.janus_url:
        typer.echo(
            f"  media         {settings.media_mode}: mesh, and SFU on Janus"
            f" {redact_url(settings.janus_url)}"
        )
    else:
        typer.echo(
            "  media         mesh only, at most 4 people with media (FRONTDESK_JANUS_URL unset)"
        )
    if settings.chat_retention_days:
        typer.echo(f"  retention     chat text kept {settings.chat_retention_days} day(s)")
    if (settings.helpdesk_offer_timeout, settings.helpdesk_missed_offers) != (20.0, 2):
        typer.echo(
            f"  helpdesk      offers answered within {settings.helpdesk_offer_timeout:g} s;"
            f" away after {settings.helpdesk_missed_offers} missed"
        )
    shown = "every request" if access_level <= logging.INFO else "off (--access-log-level info)"
    typer.echo(f"  access log    {shown}")
    if kit is not None:
        _print_dev(settings, kit)
    else:
        typer.echo(
            "Next: register a back end with `frontdesk apps create NAME --json` and an agent"
            " with `frontdesk users create USERNAME --display-name NAME` (or try `--dev`)."
        )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level=log_level.lower(),
        ws="websockets-sansio",
        ws_max_size=WS_MAX_SIZE,
        ws_ping_interval=settings.heartbeat_s,
        ws_ping_timeout=settings.heartbeat_s,
        ws_per_message_deflate=settings.ws_deflate,
    )
    # uvicorn set its loggers' levels from log_level; the access log has its own.
    logging.getLogger(ACCESS_LOGGER).setLevel(access_level)
    sock = bind_socket(settings.host, settings.port)
    tune_gc()
    try:
        DrainingServer(config, app).run(sockets=[sock])
    finally:
        sock.close()


#: Young objects allocated between two collections of the youngest generation
#: (Python's default is 700), and how many of those per older one (20, 10).
GC_THRESHOLDS = (50_000, 20, 10)


def tune_gc() -> None:
    """Fewer, larger garbage collections for a long-running node. A meeting's
    chat log grows with every message, and with Python's defaults that growth
    set off a full collection every few seconds: 20-30 % of the node's CPU in
    200 two-person meetings at 2,000 msg/s, against under 2 % with these
    thresholds. What start-up built (modules, the app) is frozen first, so
    no collection walks it again. Cycles are still collected, later."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _settings(**flags: Any) -> Settings:
    """The node's settings from the environment and the flags; a bad value
    (a helpdesk offer timeout of 0, say) is refused before anything starts."""
    try:
        return Settings.from_env(**flags)
    except FrontdeskError as err:
        typer.echo(f"error ({err.code}): {err.detail}", err=True)
        raise typer.Exit(2) from None


def _level(name: str, flag: str) -> int:
    level = logging.getLevelName(name.strip().upper())
    if not isinstance(level, int):
        typer.echo(f"error (validation_failed): {flag}: not a log level: {name!r}", err=True)
        raise typer.Exit(2)
    return level


def _version() -> str:
    from frontdesk.cli.main import version

    return version()


def _dev_kit(settings: Settings) -> DevKit:
    """Development mode's application, agent and meeting (loopback only)."""
    from frontdesk.cli.dev import check_loopback, prepare

    try:
        check_loopback(settings.host)
        return asyncio.run(prepare(settings))
    except FrontdeskError as err:
        typer.echo(f"error ({err.code}): {err.detail}", err=True)
        raise typer.Exit(2) from None


def _print_dev(settings: Settings, kit: DevKit) -> None:
    from frontdesk.cli.dev import kit_path

    base = settings.base_url
    typer.echo(f"Development mode (loopback only; credentials kept in {kit_path(settings)})")
    typer.echo(f"  application   CLIENT_ID={kit.client_id} CLIENT_SECRET={kit.client_secret}")
    typer.echo(f"  agent         {base}/console   user {kit.username}  password {kit.password}")
    typer.echo(f"  join link     {kit.join_url}")
    typer.echo(
        "Next: open the console and sign in, open the join link in another window, and admit"
        " the guest. For your back end (ServiceClient() and `frontdesk loadtest` read these):\n"
        f"  export FRONTDESK_URL={base} FRONTDESK_CLIENT_ID={kit.client_id}"
        f" FRONTDESK_CLIENT_SECRET={kit.client_secret}"
    )


def _without_password(url: str) -> str:
    """The database URL as safe to print (a password shows as ***)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
