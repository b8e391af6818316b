"""ICE settings for the aiortc media of the Python SDK: which local addresses to
offer as host candidates, the meeting's ICE servers, and trickled candidates.

**Host addresses.** aioice gathers host candidates from every interface address
except ``127.0.0.1`` and ``::1`` (``aioice.ice.get_host_addresses``, called by
``Connection.gather_candidates``). An operator may want to offer fewer (one
interface of a multi-homed kiosk) and tests want loopback alone. The setting
``ice_host_addresses`` (or ``FRONTDESK_ICE_HOST_ADDRESSES``, comma-separated)
replaces that list. It is applied by wrapping ``aioice.ice.get_host_addresses``
once per process with a function that reads a :class:`~contextvars.ContextVar`:
:func:`host_addresses` sets the variable only around our own
``setLocalDescription`` calls (the gathering happens there, in tasks that copy
the context), so other aioice users in the process, and sessions without the
setting, keep aioice's own behaviour.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import aioice.ice
from aiortc import RTCIceCandidate, RTCIceServer
from aiortc.sdp import candidate_from_sdp

from frontdesk.errors import ProtocolError, ValidationFailed

__all__ = [
    "ENV_HOST_ADDRESSES",
    "candidate_from_signal",
    "host_addresses",
    "ice_servers_for_aiortc",
    "resolve_host_addresses",
]

ENV_HOST_ADDRESSES = "FRONTDESK_ICE_HOST_ADDRESSES"
_ICE_SCHEMES = ("stun:", "turn:", "turns:")
_chosen: ContextVar[tuple[str, ...] | None] = ContextVar(
    "frontdesk_ice_host_addresses", default=None
)


def resolve_host_addresses(addresses: Sequence[str] | None) -> tuple[str, ...] | None:
    """The explicit setting, else ``FRONTDESK_ICE_HOST_ADDRESSES``, else ``None``
    (aioice's default: every non-loopback address). Each must be an IP address."""
    if addresses is None:
        raw = os.environ.get(ENV_HOST_ADDRESSES, "")
        addresses = [a.strip() for a in raw.split(",") if a.strip()]
        if not addresses:
            return None
    if isinstance(addresses, str):
        raise ValidationFailed("ice_host_addresses is a sequence of IP addresses, not a string")
    result: list[str] = []
    for address in addresses:
        try:
            result.append(str(ipaddress.ip_address(address.strip())))
        except ValueError:
            raise ValidationFailed(
                f"not an IP address in ice_host_addresses: {address!r}"
            ) from None
    if not result:
        raise ValidationFailed("ice_host_addresses must name at least one address")
    return tuple(result)


def _install() -> None:
    current = aioice.ice.get_host_addresses
    if getattr(current, "_frontdesk_wrapper", False):
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = _chosen.get()
        if chosen is None:
            return current(use_ipv4, use_ipv6)
        versions = {4} if use_ipv4 else set()
        versions |= {6} if use_ipv6 else set()
        return [a for a in chosen if ipaddress.ip_address(a).version in versions]

    get_host_addresses._frontdesk_wrapper = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses


@contextlib.contextmanager
def host_addresses(addresses: tuple[str, ...] | None) -> Iterator[None]:
    """Within the block, ICE gathering started by this task offers exactly
    ``addresses`` as host candidates (``None``: aioice's default)."""
    if addresses is None:
        yield
        return
    _install()
    token = _chosen.set(addresses)
    try:
        yield
    finally:
        _chosen.reset(token)


def ice_servers_for_aiortc(servers: Sequence[Mapping[str, Any]]) -> list[RTCIceServer]:
    """The meeting's ``ice_servers`` (``{urls, username?, credential?}``) as aiortc
    objects. URLs aiortc cannot use are dropped; an empty list means no STUN/TURN
    at all (never aiortc's public default server)."""
    result: list[RTCIceServer] = []
    for server in servers:
        urls = server.get("urls")
        listed = [urls] if isinstance(urls, str) else list(urls or [])
        usable = [u for u in listed if isinstance(u, str) and u.startswith(_ICE_SCHEMES)]
        if usable:
            result.append(
                RTCIceServer(
                    urls=usable,
                    username=server.get("username"),
                    credential=server.get("credential"),
                )
            )
    return result


def candidate_from_signal(data: Mapping[str, Any]) -> RTCIceCandidate | None:
    """A trickled candidate ``{candidate, sdpMid, sdpMLineIndex}``; ``None`` for the
    end-of-candidates marker (``{}`` or an empty candidate string)."""
    text = data.get("candidate")
    if not text:
        return None
    if not isinstance(text, str):
        raise ProtocolError("candidate must be a string")
    text = text.removeprefix("a=").removeprefix("candidate:")
    try:
        candidate = candidate_from_sdp(text)
    except (AssertionError, ValueError, IndexError) as exc:  # aiortc asserts the field count
        raise ProtocolError(f"malformed ICE candidate: {exc!r}") from None
    mid = data.get("sdpMid")
    index = data.get("sdpMLineIndex")
    candidate.sdpMid = str(mid) if mid is not None else None
    candidate.sdpMLineIndex = int(index) if isinstance(index, int) else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        raise ProtocolError("an ICE candidate needs sdpMid or sdpMLineIndex")
    return candidate
