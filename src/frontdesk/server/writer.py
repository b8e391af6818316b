"""Group commit of meeting events: many rooms' events in one transaction.

A room hands each decision's records to :meth:`EventWriter.write` at once (it
does not wait under its lock) and acknowledges nothing before the returned
future is done, so "acknowledged" always means "stored". Writes that arrive
while a transaction is in flight are batched into the next one, in the order
they were handed in: one room's batches are stored in the order it decided them.

A batch may also spend single-use tokens (a join and the guest token that let
it in) in the same transaction: the batch's future then answers which of them
were spent already.

A room's writes share a :class:`WriteStream`. Once one of its batches fails,
every later batch of that stream is refused unstored (the room's sequence
numbers would have a gap), until the room is restored with a new stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from frontdesk.store.base import EventRecord, Fence, LeaseLost, Store, TokenUse

__all__ = ["EventWriter", "WriteStream", "settle"]

log = logging.getLogger(__name__)


class WriteStream:
    """One room's succession of writes; ``failed`` once one of them failed."""

    __slots__ = ("failed",)

    def __init__(self) -> None:
        self.failed: BaseException | None = None


class _Item:
    __slots__ = ("fence", "fut", "records", "spends", "stream")

    def __init__(
        self,
        records: Sequence[EventRecord],
        fence: Fence | None,
        stream: WriteStream | None,
        fut: asyncio.Future[frozenset[str]],
        spends: Sequence[TokenUse],
    ) -> None:
        self.records = records
        self.fence = fence
        self.stream = stream
        self.fut = fut
        self.spends = spends


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

    def write(
        self,
        records: Sequence[EventRecord],
        fence: Fence | None = None,
        stream: WriteStream | None = None,
        spends: Sequence[TokenUse] = (),
    ) -> asyncio.Future[frozenset[str]]:
        """Queue ``records`` (one room's batch, under the room's ``fence`` in a
        cluster; ``None`` on one node) at once; the future is done once they are
        durable, or failed. Batches of one ``stream`` are stored in the order
        they were queued; after one fails, the later ones fail unstored.
        ``spends`` are single-use tokens recorded as used in the same
        transaction; the future's result is the ids among them that had been
        used already (the records are stored all the same)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[frozenset[str]] = loop.create_future()
        if stream is not None and stream.failed is not None:
            fut.set_exception(_refused(stream.failed))
            return fut
        if not records and not spends:
            fut.set_result(frozenset())
            return fut
        item = _Item(records, fence, stream, fut, spends)
        if self._task is None:  # not started (tests, tools): one write at a time
            task = loop.create_task(self._commit([item]))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            return fut
        self._queue.put_nowait(item)
        return fut

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            count = len(items[0].records)
            while not self._queue.empty() and count < self._max_batch:
                item = self._queue.get_nowait()
                items.append(item)
                count += len(item.records)
            try:
                await self._commit(items)
            finally:
                for _ in items:
                    self._queue.task_done()

    async def _commit(self, items: list[_Item]) -> None:
        live: list[_Item] = []
        for item in items:
            if item.stream is not None and item.stream.failed is not None:
                settle(item.fut, _refused(item.stream.failed))
            else:
                live.append(item)
        if not live:
            return
        batch = [r for item in live for r in item.records]
        spends = [u for item in live for u in item.spends]
        try:
            used = await self._append(batch, _fences(live), spends)
        except Exception as exc:
            if len(live) == 1:
                self._failed(live[0], exc)
                return
            # One bad batch (a lost lease, a broken row) must not fail the others:
            # retry each on its own, in order; a stream stops at its first failure.
            for item in live:
                if item.stream is not None and item.stream.failed is not None:
                    settle(item.fut, _refused(item.stream.failed))
                    continue
                try:
                    used = await self._append(item.records, _fences([item]), item.spends)
                except Exception as exc:
                    self._failed(item, exc)
                else:
                    self.batches += 1
                    self.records += len(item.records)
                    settle(item.fut, result=used)
            return
        self.batches += 1
        self.records += len(batch)
        for item in live:
            settle(item.fut, result=used.intersection(u.jti for u in item.spends))

    async def _append(
        self,
        records: Sequence[EventRecord],
        fences: dict[str, Fence] | None,
        spends: Sequence[TokenUse],
    ) -> frozenset[str]:
        if spends:
            return await self._store.append_events(records, fences, spends)
        await self._store.append_events(records, fences)
        return frozenset()

    def _failed(self, item: _Item, exc: Exception) -> None:
        if not isinstance(exc, LeaseLost):
            log.warning("storing %d events failed: %s", len(item.records), exc)
        if item.stream is not None:
            item.stream.failed = exc
        settle(item.fut, exc)


def _refused(cause: BaseException) -> BaseException:
    """What a batch queued after its stream's failed one fails with: the same
    kind of failure (a lost lease stays a lost lease)."""
    if isinstance(cause, LeaseLost):
        return cause
    return RuntimeError(f"an earlier write of this room failed: {cause}")


def _fences(items: Sequence[_Item]) -> dict[str, Fence] | None:
    """The fences of a group of batches by meeting (``None`` when nothing is fenced)."""
    fences = {i.records[0].meeting_id: i.fence for i in items if i.fence is not None and i.records}
    return fences or None


def settle(
    fut: asyncio.Future[Any],
    exc: BaseException | None = None,
    *,
    result: Any = None,
) -> None:
    """Resolve ``fut`` (with ``result``: for a write, its spent-already token
    ids) unless it is done already; a failure counts as retrieved (whoever waited
    for it may be gone)."""
    if fut.done():
        return
    if exc is None:
        fut.set_result(result)
    else:
        fut.set_exception(exc)
        fut.exception()
