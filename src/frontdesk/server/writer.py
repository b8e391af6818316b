"""Group commit of meeting events: many rooms' events in one transaction.

A room awaits :meth:`EventWriter.write` and acknowledges nothing before it
returns, so "acknowledged" always means "stored". Writes that arrive while a
transaction is in flight are batched into the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from frontdesk.store.base import EventRecord, Fence, LeaseLost, Store

__all__ = ["EventWriter"]

log = logging.getLogger(__name__)

_Item = tuple[Sequence[EventRecord], Fence | None, asyncio.Future[None]]


class EventWriter:
    def __init__(self, store: Store, *, max_batch: int = 1000) -> None:
        self._store = store
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.records = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="frontdesk-event-writer")

    async def stop(self) -> None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), 5.0)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def write(self, records: Sequence[EventRecord], fence: Fence | None = None) -> None:
        """Store ``records`` (one room's batch) under the room's ``fence`` (in a
        cluster; ``None`` on one node); returns once they are durable."""
        if not records:
            return
        if self._task is None:
            await self._store.append_events(records, _fences([(records, fence)]))
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((records, fence, fut))
        await fut

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            count = len(items[0][0])
            while not self._queue.empty() and count < self._max_batch:
                item = self._queue.get_nowait()
                items.append(item)
                count += len(item[0])
            try:
                await self._commit(items)
            finally:
                for _ in items:
                    self._queue.task_done()

    async def _commit(self, items: list[_Item]) -> None:
        batch = [r for recs, _, _ in items for r in recs]
        try:
            await self._store.append_events(batch, _fences([(recs, f) for recs, f, _ in items]))
        except Exception as exc:
            if len(items) == 1:
                _settle(items[0][2], exc)
                return
            # One bad batch (a lost lease, a broken row) must not fail the others:
            # retry each on its own.
            for recs, fence, fut in items:
                try:
                    await self._store.append_events(recs, _fences([(recs, fence)]))
                except Exception as exc:
                    if not isinstance(exc, LeaseLost):
                        log.warning("storing %d events failed: %s", len(recs), exc)
                    _settle(fut, exc)
                else:
                    _settle(fut)
            return
        self.batches += 1
        self.records += len(batch)
        for _, _, fut in items:
            _settle(fut)


def _fences(items: Sequence[tuple[Sequence[EventRecord], Fence | None]]) -> dict[str, Fence] | None:
    """The fences of a group of batches by meeting (``None`` when nothing is fenced)."""
    fences = {recs[0].meeting_id: f for recs, f in items if f is not None and recs}
    return fences or None


def _settle(fut: asyncio.Future[None], exc: BaseException | None = None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(None)
