"""The helpdesk router runs on the node holding the ``helpdesk`` lease: another
node answers ``wrong_node`` naming it, and when the owner dies another node
takes the lease over, restores the router from PostgreSQL (the waiting visit
keeps its place) and takes visits again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from frontdesk.store.helpdesk import HELPDESK_LEASE
from tests.support.cluster import Cluster, Node, cluster


async def _owner(c: Cluster) -> Node:
    async with asyncio.timeout(20):
        while True:
            lease = await c.store.current_lease(HELPDESK_LEASE)
            if lease is not None:
                return c.node(lease.owner.rsplit(".", 1)[0])
            await asyncio.sleep(0.1)


async def _service(
    http: httpx.AsyncClient, base: str, client_id: str, secret: str
) -> dict[str, str]:
    r = await http.post(
        f"{base}/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_the_helpdesk_lease_moves_when_its_owner_dies(tmp_path: Path) -> None:
    async with cluster(tmp_path, size=2) as c:
        owner = await _owner(c)
        other = next(n for n in c.nodes if n is not owner)
        bank = await c.ops.apps.create("Harbor Bank")
        async with httpx.AsyncClient(timeout=10) as http:
            svc = await _service(http, owner.base_url, bank.client_id, bank.client_secret)
            r = await http.post(
                f"{owner.base_url}/v1/queues",
                headers=svc,
                json={"name": "advice", "agents": ["alice"]},
            )
            assert r.status_code == 201, r.text
            r = await http.post(
                f"{owner.base_url}/v1/visits",
                headers=svc,
                json={"queue": "advice", "display_name": "Vera"},
            )
            assert r.status_code == 201, r.text
            vera = r.json()["visit_id"]

            # Not the owner: a typed answer naming where the router runs.
            r = await http.post(
                f"{other.base_url}/v1/visits",
                headers=svc,
                json={"queue": "advice", "display_name": "Walt"},
            )
            assert r.status_code == 421 and r.json()["code"] == "wrong_node", r.text

            await owner.kill()
            killed = time.monotonic()
            async with asyncio.timeout(30):
                while True:
                    r = await http.post(
                        f"{other.base_url}/v1/visits",
                        headers=svc,
                        json={"queue": "advice", "display_name": "Walt"},
                    )
                    if r.status_code == 201:
                        break
                    assert r.status_code == 421, r.text
                    await asyncio.sleep(0.2)
            print(f"helpdesk taken over {time.monotonic() - killed:.1f} s after the kill")
            walt = r.json()
            assert walt["position"] == 2  # Vera, restored from the store, is still first
            assert (await _owner(c)) is other
            r = await http.get(f"{other.base_url}/v1/visits/{vera}", headers=svc)
            assert (r.json()["state"], r.json()["position"]) == ("queued", 1), r.text
