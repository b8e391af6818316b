"""Run a real Frontdesk node on 127.0.0.1 port 0 inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from frontdesk.cli.serve import WS_MAX_SIZE
from frontdesk.config import Settings
from frontdesk.server.app import create_app
from frontdesk.server.listen import bind_socket

__all__ = ["LiveServer", "free_port", "live_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    app: FastAPI
    server: uvicorn.Server
    base_url: str
    settings: Settings

    @property
    def ops(self):  # type: ignore[no-untyped-def]
        return self.app.state.ops


@contextlib.asynccontextmanager
async def live_server(
    settings: Settings, *, port: int = 0, public_url: str | None = None
) -> AsyncIterator[LiveServer]:
    """Start ``uvicorn`` on 127.0.0.1 (port 0: any free port); the public URL follows
    the port. Pass the port of an earlier server to "restart" it, or a
    ``public_url`` to play one node of a cluster behind that address (``base_url``
    stays the node's own address)."""
    sock = bind_socket("127.0.0.1", port)
    port = sock.getsockname()[1]
    own_url = f"http://127.0.0.1:{port}"
    settings = settings.with_(host="127.0.0.1", port=port, public_url=public_url or own_url)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        log_level="warning",
        ws="websockets-sansio",
        ws_max_size=WS_MAX_SIZE,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    try:
        yield LiveServer(app, server, own_url, settings)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        sock.close()
