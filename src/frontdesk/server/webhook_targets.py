"""Where webhooks may be delivered: the guard against server-side request forgery.

A webhook URL is chosen by an application, and the node POSTs to it from inside
the operator's network. Without a guard an application could make the node post
to ``127.0.0.1`` (the node itself, a local Redis or PostgreSQL), to the cloud
metadata service at ``169.254.169.254``, or into the private network.

:class:`TargetPolicy` decides, by **resolved address**:

* the scheme is ``http`` or ``https``, the URL has a host and no user info;
* the host resolves (``getaddrinfo`` on the loop's executor, never blocking the
  event loop), and **every** address it resolves to is globally routable: not
  loopback, private, link-local, CGNAT (``100.64.0.0/10``), multicast,
  reserved, unspecified, documentation, nor such an address embedded in IPv6
  (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, NAT64); an address inside one of the
  operator's ``FRONTDESK_WEBHOOK_ALLOWED_NETWORKS`` is allowed nonetheless;
* it is never the node's own listening address and port.

It is applied twice. At registration (:meth:`TargetPolicy.vet_url`) a refusal is
a typed :class:`~frontdesk.errors.WebhookTargetForbidden` (422,
``webhook_target_forbidden``). At delivery
:func:`~frontdesk.server.webhook_transport.pinned_transport` gives the
dispatcher an httpx transport whose connections are made by a guarded
network backend: the host is resolved and vetted at the moment of the
connection, and the socket is opened to exactly the vetted address. A DNS answer
that changes between check and connect (rebinding) therefore has nothing to win:
there is one resolution, and it is the one connected to. The URL, ``Host``
header and TLS server name (SNI and certificate check) stay the hook's own host.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from frontdesk.config import Settings
from frontdesk.errors import WebhookTargetForbidden

__all__ = ["TargetPolicy"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it stands for one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _not_public(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a globally routable unicast address (None: it is)."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:  # CGNAT 100.64.0.0/10 and the like
        return "not globally routable"
    return None


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def _getaddrinfo(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (``getaddrinfo`` in the loop's executor)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class TargetPolicy:
    """The rule of the module docstring; ``allowed`` are the operator's networks."""

    allowed: tuple[IPNetwork, ...] = ()
    own: frozenset[tuple[IPAddress | None, int]] = frozenset()
    #: ``(host, port) -> addresses``; default the system's resolver (tests give their own)
    resolver: Resolver | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TargetPolicy:
        allowed = settings.webhook_allowed_networks
        nets = tuple(ipaddress.ip_network(n, strict=False) for n in allowed)
        own: set[tuple[IPAddress | None, int]] = set()
        with contextlib.suppress(ValueError):  # a host name: its loopback form is below
            own.add((ipaddress.ip_address(settings.host), settings.port))
        own.add((None, settings.port))  # None: any loopback or unspecified address
        public = urlsplit(settings.base_url)
        with contextlib.suppress(ValueError):
            if public.hostname and public.port:
                own.add((ipaddress.ip_address(public.hostname), public.port))
        return cls(nets, frozenset(own))

    # --- addresses ---------------------------------------------------------------------
    def refusal(self, ip: IPAddress, port: int) -> str | None:
        """Why the node must not connect to ``ip``:``port`` (None: it may)."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        for candidate in (ip, inner):
            if candidate is None:
                continue
            local = candidate.is_loopback or candidate.is_unspecified
            if (candidate, port) in self.own or (local and (None, port) in self.own):
                return f"{ip} port {port} is this node"
        if any(ip in net for net in self.allowed if net.version == ip.version):
            return None
        if inner is not None and any(inner in net for net in self.allowed if net.version == 4):
            return None
        # An IPv6 form of an IPv4 address reaches that IPv4 address: judge that.
        why = _not_public(ip) if inner is None else _not_public(inner)
        return None if why is None else f"{ip} is {why}"

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, all vetted; raises when any is refused
        (one bad answer among good ones refuses the whole name: the connection
        could otherwise be steered to it)."""
        try:
            addresses = await (self.resolver or _getaddrinfo)(host, port)
        except (OSError, UnicodeError) as exc:
            raise WebhookTargetForbidden(f"cannot resolve {host!r}: {exc}") from None
        if not addresses:
            raise WebhookTargetForbidden(f"{host!r} resolves to no address")
        for address in addresses:
            why = self.refusal(ipaddress.ip_address(address), port)
            if why is not None:
                raise WebhookTargetForbidden(f"{host!r} resolves to a forbidden address: {why}")
        return addresses

    # --- URLs ----------------------------------------------------------------------------
    @staticmethod
    def check_url(url: str) -> tuple[str, int]:
        """The host and port of an acceptable webhook URL (no resolution yet)."""
        try:
            parts: SplitResult = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            raise WebhookTargetForbidden("the webhook URL cannot be parsed") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise WebhookTargetForbidden("a webhook URL must be http or https")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise WebhookTargetForbidden("a webhook URL must not carry user info")
        if not host:
            raise WebhookTargetForbidden("a webhook URL needs a host")
        return host, port or (443 if scheme == "https" else 80)

    async def vet_url(self, url: str) -> None:
        """Refuse, with :class:`WebhookTargetForbidden`, a URL the node must not post to."""
        host, port = self.check_url(url)
        await self.resolve(host, port)
