"""Webhook targets (SSRF guard) through the service API of a real node on 127.0.0.1."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.errors import ValidationFailed
from frontdesk.server.webhook_targets import TargetPolicy
from tests.support.live_server import LiveServer, live_server
from tests.support.resolver import offline


async def _bearer(srv: LiveServer, http: httpx.AsyncClient) -> dict[str, str]:
    creds = await srv.ops.apps.create("Harbor Bank")
    r = await http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, httpx.AsyncClient]]:
    """A node allowing one on-premises address, 127.0.0.1 (as the tests' receivers)."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        webhook_allowed_networks=("127.0.0.1/32",),
    )
    async with live_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        offline(srv.app)
        http.headers.update(await _bearer(srv, http))
        yield srv, http


FORBIDDEN = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.0.0.7/hook",  # private
    "http://192.168.1.1/hook",
    "http://172.16.0.1/hook",
    "http://100.64.0.1/hook",  # CGNAT
    "http://127.0.0.2/hook",  # loopback, outside the allowed /32
    "http://[::1]/hook",
    "http://[::ffff:169.254.169.254]/hook",  # IPv4-mapped IPv6
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",  # multicast
    "http://240.0.0.1/hook",  # reserved
    "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one decimal number
    "http://0xa9fea9fe/",  # ... and in hex
    "http://user:secret@127.0.0.1:9/hook",  # user info, even to an allowed address
    "http://nothing-here.invalid/hook",  # does not resolve: cannot be vetted
]


async def test_registration_refuses_forbidden_targets(
    node: tuple[LiveServer, httpx.AsyncClient],
) -> None:
    srv, http = node
    own = f"{srv.base_url}/v1/oauth/token"  # the node itself, although loopback is allowed
    for url in [*FORBIDDEN, own]:
        r = await http.post("/v1/webhooks", json={"url": url})
        assert r.status_code == 422, (url, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "webhook_target_forbidden", (url, r.json())
    for url in ("ftp://127.0.0.1/hook", "file:///etc/passwd", "gopher://127.0.0.1:6379/_"):
        r = await http.post("/v1/webhooks", json={"url": url})
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", url
    assert (await http.get("/v1/webhooks")).json() == {"items": []}

    # An allowed on-premises receiver (not the node's port) is accepted.
    r = await http.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks"})
    assert r.status_code == 201, r.text


async def test_without_allowed_networks_loopback_is_refused(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with live_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        offline(srv.app)
        http.headers.update(await _bearer(srv, http))
        for url in ("http://127.0.0.1:9/hooks", "http://localhost:9/hooks"):
            r = await http.post("/v1/webhooks", json={"url": url})
            assert r.status_code == 422
            assert "loopback" in r.json()["detail"]
            assert r.json()["code"] == "webhook_target_forbidden"


def test_allowed_networks_setting() -> None:
    env = {"FRONTDESK_WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16, 127.0.0.1 ,fd00::1/8"}
    s = Settings.from_env(env)
    assert s.webhook_allowed_networks == ("10.20.0.0/16", "127.0.0.1/32", "fd00::/8")
    policy = TargetPolicy.from_settings(s)
    assert policy.refusal(ipaddress.ip_address("10.20.3.4"), 443) is None
    assert policy.refusal(ipaddress.ip_address("10.21.3.4"), 443) is not None
    assert policy.refusal(ipaddress.ip_address("::ffff:10.20.3.4"), 443) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1"), s.port) is not None  # the node
    with pytest.raises(ValidationFailed):
        Settings.from_env({"FRONTDESK_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/33"})
    assert Settings.from_env({}).webhook_allowed_networks == ()


def test_address_rule() -> None:
    policy = TargetPolicy()
    for public in ("8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"):
        assert policy.refusal(ipaddress.ip_address(public), 443) is None, public
    for bad in (
        "127.0.0.1",
        "10.1.2.3",
        "100.100.100.100",
        "169.254.169.254",
        "192.0.2.1",
        "198.18.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "2001:db8::1",
    ):
        assert policy.refusal(ipaddress.ip_address(bad), 443) is not None, bad
