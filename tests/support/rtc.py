"""A raw protocol client for server tests (the SDK has its own tests)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

__all__ = ["RawClient"]

_refs = itertools.count(1)


class RawClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.welcome: dict[str, Any] = {}
        self.inbox: list[dict[str, Any]] = []

    @classmethod
    async def connect(
        cls, rtc_url: str, auth: dict[str, Any], *, compression: str | None = "deflate"
    ) -> RawClient:
        ws = await connect(rtc_url, max_size=2**22, open_timeout=5, compression=compression)
        c = cls(ws)
        await c.send({"type": "hello", "v": 1, "auth": auth})
        first = await c.recv()
        if first["type"] == "welcome":
            c.welcome = first
        else:
            c.inbox.append(first)
        return c

    async def send(self, obj: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(obj))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def request(self, obj: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        ref = f"r{next(_refs)}"
        await self.send({**obj, "ref": ref})
        while True:
            msg = await self.recv(timeout)
            if msg.get("ref") == ref and msg["type"] in ("ok", "error"):
                return msg
            self.inbox.append(msg)

    async def wait_for(self, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
        for i, msg in enumerate(self.inbox):
            if pred(msg):
                return self.inbox.pop(i)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.01, end - loop.time()))
            if pred(msg):
                return msg
            self.inbox.append(msg)

    async def event(self, name: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.wait_for(lambda m: m["type"] == "event" and m["name"] == name, timeout)

    @property
    def pid(self) -> str:
        return str(self.welcome["participant_id"])

    async def close(self) -> None:
        await self.ws.close()
