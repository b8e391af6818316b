"""The webhook dispatcher's httpx transport, pinned to vetted addresses (see
:mod:`frontdesk.server.webhook_targets` for the policy and why).

Apart from the policy so that httpx is imported only once a node delivers a
webhook.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from frontdesk.errors import WebhookTargetForbidden
from frontdesk.server.webhook_targets import TargetPolicy

__all__ = ["pinned_transport"]


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Opens each TCP connection to an address :meth:`TargetPolicy.resolve` vetted
    in the same step, so nothing can change between the check and the connect."""

    def __init__(self, policy: TargetPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._policy.resolve(host, port)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise WebhookTargetForbidden("webhooks are not delivered over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pinned_transport(policy: TargetPolicy) -> httpx.AsyncHTTPTransport:
    """An httpx transport that connects only where ``policy`` allows (no proxy
    from the environment: the connection must go to the vetted address)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False, retries=0)
    old = transport._pool  # the SSL context httpx built (certifi roots)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=old._ssl_context,
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=_GuardedBackend(policy, httpcore.AnyIOBackend()),
    )
    return transport
