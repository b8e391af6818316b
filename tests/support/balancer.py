"""A stand-in for a cluster's front door on 127.0.0.1 port 0, for SDK tests.

It is a protocol peer, not a node: every ``hello`` on ``/v1/rtc`` gets the
``wrong_node`` answer (the ``error`` frame with ``rtc_url`` set to ``target``,
then close 1001), which is what any node not hosting the meeting says; and
``GET /v1/discovery/{id}`` answers ``target`` (or, once ``discovery_refuses``,
401 ``token_expired`` as discovery does for a spent guest token). Pointing
``target`` at a real node (and moving it to another after that node is stopped)
plays a meeting taken over by another node; pointing it at the balancer itself
plays nodes that disagree (a redirect loop).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ["Balancer", "running_balancer"]


@dataclass
class Balancer:
    target: str = ""
    discovery_refuses: bool = False
    port: int = 0
    hellos: list[dict[str, Any]] = field(default_factory=list)
    discoveries: list[str] = field(default_factory=list)  # the bearer tokens seen

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rtc_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/rtc"

    def discovery_uri(self, meeting_id: str) -> str:
        return f"{self.base_url}/v1/discovery/{meeting_id}"

    def join_url(self, code: str) -> str:
        return f"{self.base_url}/j/{code}"

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        prefix = "/v1/discovery/"
        if not request.path.startswith(prefix):
            return None  # the WebSocket handshake goes on
        auth = request.headers.get("Authorization", "")
        self.discoveries.append(auth.removeprefix("Bearer "))
        if self.discovery_refuses or not auth.startswith("Bearer "):
            problem = {"code": "token_expired", "title": "expired", "status": 401}
            response = connection.respond(401, json.dumps(problem))
            response.headers["Content-Type"] = "application/problem+json"
            return response
        body = {
            "rtc_url": self.target,
            "meeting_id": request.path[len(prefix) :],
            "node_id": "balancer",
            "ice_servers": [],
        }
        response = connection.respond(200, json.dumps(body))
        response.headers["Content-Type"] = "application/json"
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed, ValueError):
            hello = json.loads(await ws.recv())
            self.hellos.append(hello)
            frame = {
                "type": "error",
                "ref": hello.get("ref"),
                "code": "wrong_node",
                "message": "the meeting is hosted on another node",
                "rtc_url": self.target,
            }
            await ws.send(json.dumps(frame))
            await ws.close(1001, "wrong_node")

    def hello_kinds(self) -> list[str]:
        return [str(h["auth"]["kind"]) for h in self.hellos]


@contextlib.asynccontextmanager
async def running_balancer(target: str = "") -> AsyncIterator[Balancer]:
    balancer = Balancer(target=target)
    async with serve(balancer._handle, "127.0.0.1", 0, process_request=balancer._http) as srv:
        balancer.port = next(iter(srv.sockets)).getsockname()[1]
        yield balancer
