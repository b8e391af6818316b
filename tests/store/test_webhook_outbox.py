"""The webhook outbox: enqueue, claim (with expiry), settle, release and purge."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from frontdesk.store import tables as t
from frontdesk.store.outbox import DeliveryState, WebhookDelivery
from frontdesk.store.sql import SqlStore
from tests.store import samples as s
from tests.store.conftest import Target
from tests.store.samples import at

PENDING, DELIVERED, FAILED = DeliveryState


def delivery(delivery_id: str, hook_id: str = "wh_1", n: float = 0, **kw: Any) -> WebhookDelivery:
    values: dict[str, Any] = {
        "app_id": "app_1",
        "event": "participant.joined",
        "payload": {"meeting_id": "m_1", "seq": 1, "display_name": "Grüße 👋", "x": [1, None]},
        "meeting_id": "m_1",
        "created_at": at(n),
    }
    values.update(kw)
    return WebhookDelivery(id=delivery_id, webhook_id=hook_id, **values)


@pytest.fixture
async def hooks(store: SqlStore) -> SqlStore:
    await store.create_app(s.app("app_1"))
    await store.create_webhook(s.webhook("wh_1"))
    await store.create_webhook(s.webhook("wh_2"))
    return store


async def states(store: SqlStore) -> dict[str, DeliveryState]:
    return {d.id: d.state for d in await store.list_webhook_deliveries()}


async def test_enqueue_claim_deliver(hooks: SqlStore) -> None:
    store = hooks
    batch = [delivery("d_1", n=1), delivery("d_2", "wh_2", n=2), delivery("d_3", n=3)]
    assert await store.enqueue_webhook_deliveries(batch) == 3
    stored = await store.list_webhook_deliveries(state=PENDING)
    assert [d.id for d in stored] == ["d_1", "d_2", "d_3"]
    assert stored[0].payload == batch[0].payload and stored[0].created_at == at(1)
    assert stored[0].attempts == 0 and stored[0].claimed_by is None
    assert stored[0].next_attempt_at is not None

    first = await store.claim_webhook_deliveries("node-a", limit=2, claim_s=30)
    assert [(c.delivery.id, c.hook.id) for c in first] == [("d_1", "wh_1"), ("d_2", "wh_2")]
    assert first[0].hook == s.webhook("wh_1")  # with its URL and secret, to post
    assert all(c.delivery.attempts == 1 and c.delivery.claimed_by == "node-a" for c in first)
    claimed, due = first[0].delivery.claimed_until, first[0].delivery.next_attempt_at
    assert claimed is not None and due is not None and claimed > due
    rest = await store.claim_webhook_deliveries("node-b", limit=5, claim_s=30)
    assert [c.delivery.id for c in rest] == ["d_3"]
    assert await store.claim_webhook_deliveries("node-b", limit=5, claim_s=30) == []

    assert await store.mark_webhook_delivered("d_1")
    assert not await store.mark_webhook_delivered("d_1")  # once
    (done,) = await store.list_webhook_deliveries(state=DELIVERED)
    assert done.id == "d_1" and done.claimed_by is None and done.delivered_at is not None
    assert await store.claim_webhook_deliveries("node-a", limit=5, claim_s=30) == []
    assert await store.claim_webhook_deliveries("node-a", limit=0, claim_s=30) == []


async def test_enqueue_is_idempotent_and_skips_deleted_hooks(hooks: SqlStore) -> None:
    store = hooks
    assert await store.enqueue_webhook_deliveries([]) == 0
    await store.enqueue_webhook_deliveries([delivery("d_1")])
    # the same delivery again (a retried enqueue), and one for a hook deleted meanwhile
    kept = await store.enqueue_webhook_deliveries(
        [delivery("d_1", payload={"other": 1}), delivery("d_2", "wh_gone"), delivery("d_3")]
    )
    assert kept == 2
    got = await store.list_webhook_deliveries()
    assert [d.id for d in got] == ["d_1", "d_3"]
    assert got[0].payload == delivery("d_1").payload  # the first one stands
    # deleting a hook deletes its deliveries
    await store.enqueue_webhook_deliveries([delivery("d_4", "wh_2")])
    await store.delete_webhook("wh_2", "app_1")
    assert [d.id for d in await store.list_webhook_deliveries()] == ["d_1", "d_3"]


async def test_retry_and_fail_need_the_claim(hooks: SqlStore) -> None:
    store = hooks
    await store.enqueue_webhook_deliveries([delivery("d_1")])
    assert len(await store.claim_webhook_deliveries("node-a", limit=1, claim_s=30)) == 1
    assert not await store.retry_webhook_delivery("d_1", "node-b", delay_s=0, error="x")
    assert not await store.fail_webhook_delivery("d_1", "node-b", error="x")
    assert await store.retry_webhook_delivery("d_1", "node-a", delay_s=0, error="HTTP 500")
    (again,) = await store.claim_webhook_deliveries("node-b", limit=1, claim_s=30)
    assert again.delivery.id == "d_1" and again.delivery.attempts == 2
    assert again.delivery.last_error == "HTTP 500"
    # a retry later than now is not due
    assert await store.retry_webhook_delivery("d_1", "node-b", delay_s=3600, error="e" * 9000)
    assert await store.claim_webhook_deliveries("node-a", limit=1, claim_s=30) == []
    (waiting,) = await store.list_webhook_deliveries(state=PENDING)
    assert waiting.claimed_by is None and len(waiting.last_error or "") == 500
    assert not await store.fail_webhook_delivery("d_1", "node-b", error="not held")

    await store.enqueue_webhook_deliveries([delivery("d_2", n=1)])
    assert len(await store.claim_webhook_deliveries("node-a", limit=1, claim_s=30)) == 1
    assert await store.fail_webhook_delivery("d_2", "node-a", error="HTTP 410")
    assert not await store.mark_webhook_delivered("d_2")  # failed for good stays failed
    assert await states(store) == {"d_1": PENDING, "d_2": FAILED}


async def test_an_expired_claim_goes_to_another_node(hooks: SqlStore) -> None:
    store = hooks
    await store.enqueue_webhook_deliveries([delivery("d_1")])
    assert len(await store.claim_webhook_deliveries("node-dead", limit=1, claim_s=0.3)) == 1
    assert await store.claim_webhook_deliveries("node-b", limit=1, claim_s=30) == []
    await asyncio.sleep(0.4)
    (c,) = await store.claim_webhook_deliveries("node-b", limit=1, claim_s=30)
    assert c.delivery.claimed_by == "node-b" and c.delivery.attempts == 2
    # the node that lost its claim cannot settle the delivery any more ...
    assert not await store.retry_webhook_delivery("d_1", "node-dead", delay_s=0, error="x")
    # ... though a delivery it did make still counts
    assert await store.mark_webhook_delivered("d_1")
    assert not await store.retry_webhook_delivery("d_1", "node-b", delay_s=0, error="x")
    assert await states(store) == {"d_1": DELIVERED}


async def test_release_hands_claims_back_at_once(hooks: SqlStore) -> None:
    store = hooks
    await store.enqueue_webhook_deliveries([delivery("d_1", n=1), delivery("d_2", n=2)])
    await store.claim_webhook_deliveries("node-a", limit=5, claim_s=3600)
    assert await store.claim_webhook_deliveries("node-b", limit=5, claim_s=30) == []
    assert await store.release_webhook_claims("node-a") == 2
    assert await store.release_webhook_claims("node-a") == 0
    got = await store.claim_webhook_deliveries("node-b", limit=5, claim_s=30)
    assert [c.delivery.id for c in got] == ["d_1", "d_2"]


async def test_purge_forgets_finished_deliveries_after_the_retention(hooks: SqlStore) -> None:
    store = hooks
    await store.enqueue_webhook_deliveries([delivery(f"d_{i}", n=i) for i in range(1, 5)])
    claimed = await store.claim_webhook_deliveries("node-a", limit=3, claim_s=30)
    assert [c.delivery.id for c in claimed] == ["d_1", "d_2", "d_3"]
    await store.mark_webhook_delivered("d_1")
    await store.fail_webhook_delivery("d_2", "node-a", error="HTTP 404")
    await store.retry_webhook_delivery("d_3", "node-a", delay_s=0, error="HTTP 503")
    week = 7 * 24 * 3600.0
    assert await store.purge_webhook_deliveries(week) == 0  # all recent
    # time passes: every row's last attempt (or due time) is long ago
    async with store.engine.begin() as conn:
        await conn.execute(sa.update(t.webhook_deliveries).values(next_attempt_at=at(0)))
    assert await store.purge_webhook_deliveries(week) == 2
    assert await states(store) == {"d_3": PENDING, "d_4": PENDING}  # however old
    assert await store.purge_webhook_deliveries(0) == 0


async def test_concurrent_claims_never_share_a_delivery(target: Target) -> None:
    """Several stores (nodes) claiming from one database at once: every delivery is
    claimed exactly once."""
    first = await target.open()
    stores = [first] + [await target.open() for _ in range(3)]
    try:
        await first.create_app(s.app("app_1"))
        await first.create_webhook(s.webhook("wh_1"))
        n = 120
        await first.enqueue_webhook_deliveries([delivery(f"d_{i:03}", n=i) for i in range(n)])
        seen: Counter[str] = Counter()

        async def node(store: SqlStore, name: str) -> None:
            while True:
                got = await store.claim_webhook_deliveries(name, limit=7, claim_s=60)
                if not got:
                    return
                seen.update(c.delivery.id for c in got)
                for c in got:
                    await store.mark_webhook_delivered(c.delivery.id)

        await asyncio.gather(*(node(st, f"node-{i}") for i, st in enumerate(stores)))
        assert len(seen) == n and set(seen.values()) == {1}
        assert len(await first.list_webhook_deliveries(state=DELIVERED, limit=1000)) == n
    finally:
        for st in stores:
            await st.close()
