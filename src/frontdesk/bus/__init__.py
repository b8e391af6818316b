"""The bus: hints between nodes, and the node directory.

:class:`LocalBus` (in-process, one node) is the default; :class:`RedisBus` joins
nodes that share a Redis, and degrades (never fails) when Redis is down. Neither
holds any truth: that is PostgreSQL's. See :mod:`frontdesk.bus.base`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from frontdesk.bus.base import (
    Bus,
    Callback,
    NodeInfo,
    ResubscribedCallback,
    Subscription,
    new_instance_id,
    redact_url,
)
from frontdesk.bus.channels import ALL_LOBBIES, ALL_MEETINGS, lobby_channel, meeting_channel
from frontdesk.bus.local import LocalBus

if TYPE_CHECKING:
    from frontdesk.bus.redis import RedisBus

__all__ = [
    "ALL_LOBBIES",
    "ALL_MEETINGS",
    "Bus",
    "Callback",
    "LocalBus",
    "NodeInfo",
    "RedisBus",
    "ResubscribedCallback",
    "Subscription",
    "lobby_channel",
    "meeting_channel",
    "new_instance_id",
    "open_bus",
    "redact_url",
]


def __getattr__(name: str) -> Any:
    """``RedisBus`` is imported when first named: a node without Redis never
    loads the Redis client (about 6 MiB)."""
    if name == "RedisBus":
        from frontdesk.bus.redis import RedisBus

        return RedisBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_bus(
    *,
    redis_url: str | None,
    node_id: str,
    redis_prefix: str = "frontdesk:",
    node_ttl_s: float = 5.0,
    instance: str | None = None,
) -> Bus:
    """The bus the settings ask for (not started): Redis when ``redis_url`` is
    set (``FRONTDESK_REDIS_URL``), else in-process."""
    if redis_url:
        from frontdesk.bus.redis import RedisBus

        return RedisBus(
            redis_url,
            node_id=node_id,
            prefix=redis_prefix,
            node_ttl_s=node_ttl_s,
            instance=instance,
        )
    return LocalBus(node_id=node_id, node_ttl_s=node_ttl_s, instance=instance)
