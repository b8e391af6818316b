"""Queues and agents' capacity as stored: what the CLI changes (``frontdesk
queues ...``) while a node may be running. The node's helpdesk picks stored
changes up within its refresh (:meth:`Helpdesk.sync_settings`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from frontdesk.domain.helpdesk import AgentProfile, Queue
from frontdesk.errors import AlreadyExists, IllegalState, QueueNotFound
from frontdesk.store.base import Store

__all__ = ["QueueSettings"]


class QueueSettings:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    async def all(self) -> list[Queue]:
        return list(await self._store.helpdesk.list_queues())

    async def get(self, name: str) -> Queue:
        for q in await self._store.helpdesk.list_queues():
            if q.name == name:
                return q
        raise QueueNotFound(f"no queue {name[:64]!r}")

    async def create(self, queue: Queue) -> Queue:
        if any(q.name == queue.name for q in await self.all()):
            raise AlreadyExists(f"queue {queue.name!r} exists")
        await self._store.helpdesk.put_queue(queue, self._clock())
        return queue

    async def update(self, queue: Queue) -> Queue:
        await self.get(queue.name)
        await self._store.helpdesk.put_queue(queue, self._clock())
        return queue

    async def delete(self, name: str) -> None:
        await self.get(name)
        if any(v.visit.queue == name for v in await self._store.helpdesk.open_visits()):
            raise IllegalState(f"queue {name!r} still has open visits")
        await self._store.helpdesk.delete_queue(name)

    async def add_agent(self, name: str, agent: str) -> Queue:
        q = await self.get(name)
        return await self.update(dataclasses.replace(q, agents=q.agents | {agent}))

    async def remove_agent(self, name: str, agent: str) -> Queue:
        q = await self.get(name)
        return await self.update(dataclasses.replace(q, agents=q.agents - {agent}))

    async def set_profile(self, profile: AgentProfile) -> AgentProfile:
        await self._store.helpdesk.put_agent_profile(profile, self._clock())
        return profile

    async def profiles(self) -> list[AgentProfile]:
        return [a.profile for a in await self._store.helpdesk.list_agents()]
