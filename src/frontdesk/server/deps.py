"""FastAPI dependencies: the node's operations, and who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from frontdesk.domain.model import App, User
from frontdesk.errors import Unauthenticated
from frontdesk.server.csrf import check_same_origin
from frontdesk.server.operations import Operations
from frontdesk.server.ratelimit import RateLimiter

__all__ = ["AppDep", "OpsDep", "UserDep", "bearer_token", "client_address"]

_bearer = HTTPBearer(auto_error=False, description="access token, session token or guest token")


# Dependencies are ``async def``: FastAPI runs a plain ``def`` one in a worker
# thread, two thread hops per request for nothing.
async def get_ops(request: Request) -> Operations:
    ops: Operations = request.app.state.ops
    return ops


OpsDep = Annotated[Operations, Depends(get_ops)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def bearer_token(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthenticated("send the token as 'Authorization: Bearer <token>'")
    if len(creds.credentials) > 8192:
        raise Unauthenticated("token too long")
    return creds.credentials


async def current_app(
    request: Request, ops: OpsDep, token: Annotated[str, Depends(bearer_token)]
) -> App:
    app = await ops.apps.for_access_token(token)
    limiter: RateLimiter = request.app.state.service_limiter
    limiter.check("app:" + app.client_id)
    return app


async def current_user(ops: OpsDep, request: Request) -> User:
    token = request.cookies.get("frontdesk_session")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    elif token:  # the browser sends the cookie by itself: only from our own origin
        check_same_origin(request, ops.settings)
    if not token:
        raise Unauthenticated("sign in first (POST /v1/session)")
    return await ops.accounts.for_session(token)


AppDep = Annotated[App, Depends(current_app)]
UserDep = Annotated[User, Depends(current_user)]
