"""Configuration: every setting is a ``FRONTDESK_*`` environment variable with a
matching ``frontdesk serve`` flag (``--public-url`` for ``FRONTDESK_PUBLIC_URL``)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frontdesk.errors import ValidationFailed

__all__ = [
    "DEFAULT_DATABASE",
    "PROJECT_MARKERS",
    "Settings",
    "default_database_path",
    "default_database_url",
]

#: The embedded default's SQLite file, relative to the folder it belongs to.
DEFAULT_DATABASE = Path("var") / "frontdesk.db"


#: What marks a project's root folder: the upward search stops there.
PROJECT_MARKERS = (".git", "pyproject.toml")


def default_database_path(cwd: Path | None = None) -> Path:
    """The SQLite file used when ``FRONTDESK_DATABASE_URL`` is unset.

    The nearest ``var/frontdesk.db`` from ``cwd`` up to the root of the project
    ``cwd`` is in (the nearest folder with ``.git`` or ``pyproject.toml``), so
    ``frontdesk serve`` and the admin commands find one database wherever in the
    project they run; outside a project only ``cwd`` is looked at (a stray
    database higher up, say in ``/tmp``, is never picked). When there is none,
    ``./var/frontdesk.db`` under ``cwd`` (where ``serve`` creates it). Absolute.
    """
    here = (cwd or Path.cwd()).resolve()
    chain = (here, *here.parents)
    root = next((d for d in chain if any((d / m).exists() for m in PROJECT_MARKERS)), None)
    folders = chain[: chain.index(root) + 1] if root is not None else (here,)
    for folder in folders:
        if (folder / DEFAULT_DATABASE).is_file():
            return folder / DEFAULT_DATABASE
    return here / DEFAULT_DATABASE


def default_database_url(cwd: Path | None = None) -> str:
    return f"sqlite+aiosqlite:///{default_database_path(cwd)}"


def _bool(v: str) -> bool:
    return v.strip().lower() in ("1", "true", "yes", "on")


def _list(v: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in v.split(",") if x.strip())


def _networks(v: str) -> tuple[str, ...]:
    """``FRONTDESK_WEBHOOK_ALLOWED_NETWORKS``: comma-separated CIDRs (``10.1.0.0/16``,
    ``fd00::/8``; a bare address is a /32 or /128), normalized."""
    out = []
    for item in _list(v):
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ValidationFailed(f"not a network (CIDR): {item!r}") from exc
    return tuple(out)


def _ice(v: str) -> tuple[dict[str, Any], ...]:
    """``FRONTDESK_ICE_SERVERS``: JSON list of RTCIceServer dicts, or comma-separated URLs."""
    v = v.strip()
    if not v:
        return ()
    if v.startswith("["):
        data = json.loads(v)
        if not isinstance(data, list) or not all(isinstance(x, dict) and "urls" in x for x in data):
            raise ValidationFailed("FRONTDESK_ICE_SERVERS must be a JSON list of {urls: ...}")
        return tuple(data)
    return tuple({"urls": [u]} for u in _list(v))


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # base of join URLs and discovery URIs; default http://host:port
    # The name the guest page shows for meetings no application branded (made
    # from the console or the CLI); empty: the product's name.
    brand_name: str = ""
    database_url: str = field(default_factory=default_database_url)
    redis_url: str | None = None
    redis_prefix: str = "frontdesk:"  # keys and channels on Redis (several clusters, one Redis)
    node_id: str = "node-1"
    # This node's own reachable base URL, for the WebSockets of the meetings it
    # hosts (empty: the public URL, right for a single node).
    node_url: str = ""
    node_ttl_s: float = 5.0  # a node that stops announcing leaves the directory after this
    # In a cluster (PostgreSQL), how long a node's lease on a meeting lasts
    # unrenewed: a dead node's meetings move after at most this long.
    lease_ttl_s: float = 3.0
    ice_servers: tuple[dict[str, Any], ...] = ()
    turn_secret: str | None = None
    turn_ttl_s: int = 3600
    allowed_origins: tuple[str, ...] = ()
    # Networks webhooks may be delivered into although they are not globally
    # routable (on-premises receivers); empty: public addresses only.
    webhook_allowed_networks: tuple[str, ...] = ()
    webhook_retention_s: int = 7 * 24 * 3600  # delivered/failed webhook deliveries kept
    # Days chat content is kept; older messages lose their text (who said
    # something, and when, stays). 0: kept for ever.
    chat_retention_days: int = 0
    guest_token_ttl_s: int = 600  # default lifetime of a guest token
    guest_token_max_ttl_s: int = 3600  # cap on a requested lifetime
    access_token_ttl_s: int = 3600  # service API bearer tokens
    session_ttl_s: int = 12 * 3600  # user API sessions
    # A resume token is single use and lives this long; a connected client is
    # handed a fresh one (in a pong) once its current one is half spent.
    resume_token_ttl_s: int = 600
    # How often a node looks for applications revoked elsewhere (the CLI, another
    # node) to end their guests' live sessions.
    revocation_poll_s: float = 5.0
    key_rotation_overlap_s: int = 24 * 3600  # how long a rotated key keeps verifying
    key_passphrase: str | None = None  # encrypts stored signing keys (PKCS#8)
    clock_leeway_s: int = 30
    lobby_timeout_s: int = 15 * 60
    reconnect_grace_s: int = 30
    idle_timeout_s: int = 8 * 3600
    heartbeat_s: float = 15.0
    # permessage-deflate on the RTC WebSocket when a client offers it. Off:
    # chat frames are small, and compressing them costs each connection its
    # own zlib state (about 46 KB) and CPU on every frame.
    ws_deflate: bool = False
    rate_limit_per_min: int = 600  # service API requests per client per minute
    ws_messages_per_s: float = 20.0
    # Joins with the URL alone, per remote address and per meeting, per minute
    # (bursts of half that): a flood of them cannot bury real visitors.
    url_joins_per_address_per_min: int = 20
    url_joins_per_meeting_per_min: int = 60
    # Guests who came with the URL alone may fill at most this much of a lobby;
    # the rest stays free for visitors a back end vouched for.
    max_unvouched_lobby: int = 50
    max_participants: int = 50  # joined + reconnecting, per meeting
    # Helpdesk: seconds an agent has to answer an offer before it passes on,
    # and offers missed in a row before the agent is set away.
    helpdesk_offer_timeout: float = 20.0
    helpdesk_missed_offers: int = 2
    # Group meetings on an SFU: Janus's HTTP API (``http://10.0.0.5:8088/janus``),
    # the secret its ``token_auth_secret`` signs with, and its videoroom
    # ``admin_key``. Unset: media is a peer-to-peer mesh only.
    janus_url: str | None = None
    janus_token_secret: str | None = None
    janus_admin_key: str | None = None
    # How meetings' media travels when Janus is configured: ``mesh``, ``sfu``,
    # or ``auto`` (a mesh that moves to the SFU when one more would pass its cap).
    media_mode: str = "auto"
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not self.helpdesk_offer_timeout > 0 or self.helpdesk_offer_timeout == float("inf"):
            raise ValidationFailed(
                "FRONTDESK_HELPDESK_OFFER_TIMEOUT must be a positive number of seconds"
            )
        if self.helpdesk_missed_offers < 1:
            raise ValidationFailed("FRONTDESK_HELPDESK_MISSED_OFFERS must be at least 1")
        if self.media_mode not in ("mesh", "sfu", "auto"):
            raise ValidationFailed("FRONTDESK_MEDIA_MODE must be mesh, sfu or auto")
        if self.janus_url and not (self.janus_token_secret and self.janus_admin_key):
            raise ValidationFailed(
                "FRONTDESK_JANUS_URL needs FRONTDESK_JANUS_TOKEN_SECRET and "
                "FRONTDESK_JANUS_ADMIN_KEY"
            )

    @property
    def longest_token_life_s(self) -> int:
        """How long any token this node signs can stay valid (clock leeway included):
        a rotated-out key keeps verifying at least this long."""
        return (
            max(self.guest_token_max_ttl_s, self.access_token_ttl_s, self.session_ttl_s)
            + self.clock_leeway_s
        )

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def node_base_url(self) -> str:
        """Where clients reach this node itself (``node_url``, else the public URL)."""
        return self.node_url.rstrip("/") if self.node_url else self.base_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``FRONTDESK_*`` variables; keyword overrides (CLI flags) win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name.startswith("_"):
                continue
            raw = env.get("FRONTDESK_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, f.type, raw)
        for k, v in overrides.items():
            if v is not None:
                values[k] = v
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _parse(name: str, typ: Any, raw: str) -> Any:
    t = str(typ)
    try:
        if name == "ice_servers":
            return _ice(raw)
        if name == "allowed_origins":
            return _list(raw)
        if name == "webhook_allowed_networks":
            return _networks(raw)
        if t == "bool":
            return _bool(raw)
        if t == "int":
            return int(raw)
        if t == "float":
            return float(raw)
        return raw
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValidationFailed(f"FRONTDESK_{name.upper()}: {exc}") from exc
