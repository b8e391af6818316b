"""A resolver for webhook target tests that never sends a DNS query: tests talk to
127.0.0.1 only. Numeric hosts (``127.0.0.1``, ``[::1]``, even ``2852039166``) are
parsed as ``getaddrinfo`` parses them, ``localhost`` comes from the hosts file,
and any other name does not resolve."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

from fastapi import FastAPI

from frontdesk.server.webhook_targets import TargetPolicy

__all__ = ["no_dns", "offline"]


async def no_dns(host: str, port: int) -> list[str]:
    flags = 0 if host == "localhost" else socket.AI_NUMERICHOST
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=flags
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def offline(app: FastAPI) -> None:
    """Make ``app`` vet webhook URLs (registration) with :func:`no_dns`."""
    policy: TargetPolicy = app.state.webhook_targets
    app.state.webhook_targets = dataclasses.replace(policy, resolver=no_dns)
