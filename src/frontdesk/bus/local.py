"""The in-process bus: one node, no Redis (the default).

Publishing hands the message to this process's subscribers through the event
loop (each subscription's own task); the directory lists this node alone.
"""

from __future__ import annotations

import time
from typing import Any

from frontdesk.bus.base import DEFAULT_QUEUE_SIZE, Bus, NodeInfo

__all__ = ["LocalBus"]


class LocalBus(Bus):
    def __init__(
        self,
        *,
        node_id: str = "node-1",
        instance: str | None = None,
        node_ttl_s: float = 5.0,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        super().__init__(
            node_id=node_id, instance=instance, node_ttl_s=node_ttl_s, queue_size=queue_size
        )
        self._running = False
        self._me: NodeInfo | None = None

    async def start(self) -> None:
        self._running = True

    async def close(self) -> None:
        self._running = False
        self._me = None
        await self._close_subscriptions()

    @property
    def healthy(self) -> bool:
        return self._running

    @property
    def description(self) -> str:
        return "in-process (one node)"

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        payload = self._encode(channel, message)
        if payload is None:
            return
        if not self._running:
            self._drop()
            return
        self._registry.deliver_matching(channel, payload)

    async def announce(self, info: NodeInfo) -> None:
        self._check_own(info)
        self._me = info

    async def withdraw(self) -> None:
        self._me = None

    async def nodes(self) -> list[NodeInfo]:
        # This process is alive by definition: its entry is always fresh.
        return [] if self._me is None else [self._stamped(self._me, time.time())]
